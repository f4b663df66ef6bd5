// protocol/smtp/server_session.hpp — the receiving side of SMTP, submission and LMTP as a
// pure state machine (RFC 5321, RFC 2033, RFC 2920, RFC 3030, RFC 3207, RFC 4954).
//
// Contract (the machine contract of docs/architecture.md):
// - Construction queues the greeting (220, or the configured refusal).
// - Inputs. feed(bytes, now) consumes bytes and returns how many: it stops early while a
//   decision is pending, while more than output_backlog_bytes_max of output waits to be
//   sent, and once the session is closed; the caller keeps the rest and feeds it again
//   later. feed_eof(now): the client closed its side; takes effect once no decision is
//   pending. on_timeout(now): call when poll_timeout() has passed; an idle client gets
//   421 and the session closes. on_tls_established(now): the handshake that followed a
//   StartTlsEvent succeeded; the session returns to its state before EHLO (RFC 3207 §4.2).
// - Decisions. Events that carry a Ticket (hello, MAIL, RCPT, end of message, AUTH steps,
//   VRFY/EXPN) pause the machine until decide(ticket, decision, now) answers them, one at
//   a time, so replies to pipelined commands leave in order. Misuse — a wrong ticket, a
//   decision of the wrong kind, a reply of the wrong class or count — returns an
//   std::error_code (server_errc) and changes nothing.
// - Outputs, polled in this order: pending_output()/consume_output(n) (bytes to send;
//   partial writes are fine), poll_event(), poll_timeout().
// - Every reply the machine queues is also reported as a RepliedEvent (for logs).
// - Faults of the client are answered inside the machine: sequence errors 503, syntax
//   500/501 with the usage, unknown parameters 555, size 552, too many recipients 452,
//   and after errors_max errors (or junk_commands_max junk commands) 421 and close.
// - DATA ends at CRLF.CRLF only (data_codec.hpp): a bare CR or LF in the body is a 550
//   5.5.2 unless a leniency flag normalises it, and never ends the message. BDAT chunks are
//   counted, not scanned. Bytes pipelined after STARTTLS are discarded, up to the handshake.
// - LMTP (RFC 2033 §4.2): after the body, one reply per accepted recipient, in RCPT order.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "protocol/core/outbox.hpp"
#include "protocol/core/time.hpp"
#include "protocol/smtp/command.hpp"
#include "protocol/smtp/data_codec.hpp"
#include "protocol/smtp/limits.hpp"
#include "protocol/smtp/reply.hpp"

namespace tern::protocol::smtp {

enum class ServerMode { smtp, lmtp };

struct ServerExtensions {
  bool pipelining = true;
  bool eight_bit_mime = true;
  bool chunking = true;
  bool binary_mime = true;  // offered only with chunking (RFC 3030 §3)
  bool smtputf8 = true;
  bool enhanced_status_codes = true;
  bool dsn = true;
  bool vrfy = false;  // true: VRFY is a decision; false: 252 without asking
  bool expn = false;  // true: EXPN is a decision; false: 502
  std::optional<std::int64_t> deliver_by_min_seconds;  // DELIVERBY offered when set
  // FUTURERELEASE (RFC 4865) offered when set, with ServerConfig::wall_clock_unix_seconds:
  // HOLDFOR/HOLDUNTIL up to this far in the future are accepted (and the queue holds).
  std::optional<std::uint32_t> future_release_max_seconds;
  bool mt_priority = false;
  bool requiretls = false;  // when true, offered only once TLS is active (RFC 8689 §4.1)
};

struct ServerConfig {
  ServerMode mode = ServerMode::smtp;
  std::string hostname = "localhost";
  std::string greeting_text;  // "220 <hostname> <text>"; empty: "ESMTP Tern" / "LMTP Tern"
  // When set, the greeting is this 554 reply and every command but QUIT gets 503 (RFC 5321
  // §3.1): for a connection the application refuses before any command.
  std::optional<Reply> refusal;
  ServerExtensions extensions;
  // The wall clock (seconds since 1970) at the `now` given to the constructor. Only
  // FUTURERELEASE needs it: its EHLO keyword names the latest release date-time.
  std::optional<std::int64_t> wall_clock_unix_seconds;
  std::uint64_t message_bytes_max = 50ull << 20;  // SIZE; 0 means no limit
  std::size_t recipients_max = 100;               // RFC 5321 §4.5.3.1.8 minimum
  bool tls_available = false;                     // STARTTLS offered while TLS is not active
  bool tls_active = false;                        // implicit TLS (port 465 style)
  std::vector<std::string> auth_mechanisms;       // upper-case, e.g. {"PLAIN", "LOGIN"}
  bool auth_requires_tls = true;                  // AUTH offered only once TLS is active
  bool auth_required = false;                     // submission: MAIL needs a successful AUTH
  std::uint32_t auth_failures_max = 3;
  std::uint32_t errors_max = 10;          // refused commands before 421
  std::uint32_t rcpt_errors_max = 0;      // RCPTs refused with a 5xx before 421 (0: no limit)
  std::uint32_t junk_commands_max = 100;  // NOOP, RSET, VRFY, EXPN, HELP before 421
  Duration command_timeout = Duration::minutes(5);  // RFC 5321 §4.5.3.2.7
  Duration data_timeout = Duration::minutes(5);     // between body bytes
  // A slow client cannot hold a session by dripping bytes: a command line must be complete
  // within command_timeout of the previous one (partial lines do not count as activity),
  // and a message transfer (DATA, or every BDAT of a transaction) must end within
  // data_total_max of its start and, past its first data_timeout, average at least
  // data_rate_min octets a second. 0 turns either bound off.
  Duration data_total_max = Duration::minutes(60);
  std::uint64_t data_rate_min = 1024;
  GrammarLimits limits;
  std::size_t auth_line_bytes_max = 12288;  // RFC 4954 §4: at least 12288
  bool normalize_bare_lf = false;           // leniency (data_codec.hpp); never ends DATA
  bool normalize_bare_cr = false;
  bool allow_bare_lf_in_commands = false;  // leniency: "CMD\n" ends a command line
  std::size_t output_backlog_bytes_max = std::size_t{64} * 1024;
};

using Ticket = std::uint64_t;

enum class HelloKind { ehlo, helo, lhlo };

// Events. Those with a ticket wait for decide().
struct HelloEvent {
  Ticket ticket;
  HelloKind kind;
  Host host;
};
struct MailEvent {
  Ticket ticket;
  Mail command;
};
struct RcptEvent {
  Ticket ticket;
  Rcpt command;
};
struct BodyStartEvent {
  bool chunked;
};  // after 354, or at the first BDAT
struct BodyChunkEvent {
  std::string bytes;
};  // decoded body bytes, in order
// The body is complete: accept (the message is durable) or reject it.
struct MessageEvent {
  Ticket ticket;
  std::uint64_t body_bytes;
  std::size_t recipients;
};
// The body was refused by the machine itself (or the client left): forget it.
enum class AbortReason { bare_lf, bare_cr, line_too_long, nul, too_large, connection_lost, reset };
struct MessageAbortedEvent {
  AbortReason reason;
};
// An AUTH step: the decoded initial response or continuation (absent: no initial response).
struct AuthEvent {
  Ticket ticket;
  std::string mechanism;
  std::optional<std::string> response;
};
struct AuthCancelledEvent {};
struct VerifyEvent {
  Ticket ticket;
  bool expand;
  std::string text;
};  // VRFY / EXPN
// After "220 Ready to start TLS" has been queued: send it, then hand the connection to TLS.
struct StartTlsEvent {};
// The transaction (if any) is gone: RSET, a new EHLO/HELO, STARTTLS, a failed transaction.
struct ResetEvent {};
// A reply the machine queued on its own (for logs): errors, 354, RSET, NOOP ...
struct RepliedEvent {
  std::string verb;
  Reply reply;
};
enum class CloseReason {
  quit,
  too_many_errors,
  too_many_auth_failures,
  timeout,
  peer_closed,
  shutdown
};
struct ClosedEvent {
  CloseReason reason;
};

using ServerEvent = std::variant<HelloEvent, MailEvent, RcptEvent, BodyStartEvent, BodyChunkEvent,
                                 MessageEvent, MessageAbortedEvent, AuthEvent, AuthCancelledEvent,
                                 VerifyEvent, StartTlsEvent, ResetEvent, RepliedEvent, ClosedEvent>;

// Decisions.
struct Accept {
  std::optional<Reply> reply;
};  // the standard 2xx when absent
struct Reject {
  Reply reply;
};  // a 4xx or 5xx reply
struct Challenge {
  std::string data;
};                        // AUTH: send "334 base64(data)"
struct Authenticated {};  // AUTH: 235, the session is authenticated
struct PerRecipient {
  std::vector<Reply> replies;
};  // LMTP end of message, one per RCPT
using ServerDecision = std::variant<Accept, Reject, Challenge, Authenticated, PerRecipient>;

enum class server_errc {
  no_pending_decision = 1,  // decide() without a question, or with another ticket
  wrong_decision_kind,      // e.g. Challenge for a RCPT, PerRecipient outside LMTP
  bad_reply,                // wrong class for the decision, or a reply that cannot be sent
  wrong_reply_count,        // PerRecipient with a count other than the accepted recipients
  not_awaiting_tls,         // on_tls_established without a StartTlsEvent
};
const std::error_category& server_category();
std::error_code make_error_code(server_errc e);

class ServerSession : public MachineOutputs<ServerEvent> {
 public:
  ServerSession(ServerConfig config, Instant now);

  std::size_t feed(std::span<const char> bytes, Instant now);
  void feed_eof(Instant now);
  void on_timeout(Instant now);
  std::error_code on_tls_established(Instant now);
  // Graceful shutdown: 421 at the next point where a reply may be sent, then close. A
  // pending decision is answered first; a message in DATA is received to its end and
  // decided (so it may still be accepted) before the 421; in BDAT the 421 answers the
  // next command; during a STARTTLS handshake it waits for on_tls_established.
  void shutdown(Instant now);

  [[nodiscard]] std::error_code decide(Ticket ticket, ServerDecision decision, Instant now);
  // The extensions the EHLO reply offers, chosen once the client's name (and identity,
  // after AUTH) is known: call it while a HelloEvent waits for its decision. At any other
  // time it returns no_pending_decision and changes nothing (extensions must not change
  // under a transaction).
  [[nodiscard]] std::error_code set_extensions(const ServerExtensions& extensions);

  std::optional<Instant> poll_timeout() const;

  bool wants_read() const;
  bool is_closed() const { return phase_ == Phase::closed; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }

 private:
  enum class Phase { command, auth_response, data, bdat, awaiting_tls, closed };
  enum class Question { hello, mail, rcpt, message, auth, verify };
  struct Pending {
    Ticket ticket;
    Question question;
  };
  struct Transaction {
    bool active = false;  // MAIL accepted
    bool smtputf8 = false;
    bool binary = false;   // BODY=BINARYMIME
    bool chunked = false;  // a BDAT has been seen
    bool failed = false;   // a BDAT failed: further BDAT get 503 until RSET
    std::size_t rcpt_attempts = 0;
    std::size_t recipients = 0;  // accepted
    std::uint64_t body_bytes = 0;
  };

  // Input.
  std::size_t feed_line(std::span<const char> bytes, Instant now);
  std::size_t feed_data(std::span<const char> bytes, Instant now);
  std::size_t feed_bdat(std::span<const char> bytes, Instant now);
  void on_line(std::string_view line, Instant now);
  void on_command_line(std::string_view line);
  void on_auth_line(std::string_view line);
  bool may_consume() const;

  // Commands.
  void on_hello(HelloKind kind, const Host& host);
  void on_mail(const Mail& mail);
  void on_rcpt(const Rcpt& rcpt);
  void on_data();
  void on_bdat(const Bdat& bdat);
  void refuse_chunk(Reply refusal);
  void on_rset();
  void on_noop();
  void on_quit();
  void on_verify(bool expand, const std::string& text);
  void on_help();
  void on_starttls();
  void on_auth(const Auth& auth);
  std::optional<Reply> mail_param_fault(const MailParams& params) const;
  std::optional<Reply> hello_missing() const;
  std::optional<Reply> body_refusal(bool chunked) const;
  void discard_chunk(std::uint64_t bytes, Reply refusal);

  // Decisions.
  std::error_code simple_answer(const ServerDecision& decision, Reply standard, Reply& out,
                                bool& accepted);
  std::error_code decide_hello(const ServerDecision& decision);
  std::error_code decide_mail(const ServerDecision& decision);
  std::error_code decide_rcpt(const ServerDecision& decision);
  std::error_code decide_verify(const ServerDecision& decision);
  std::error_code decide_message(const ServerDecision& decision);
  std::error_code decide_auth(const ServerDecision& decision);

  // Output and bookkeeping.
  void reply(std::string_view verb, Reply reply);
  void refuse(std::string_view verb, Reply reply);  // a reply that counts as an error
  void junk(std::string_view verb, Reply reply);    // a reply that counts as junk
  void ask(Question question, ServerEvent event);
  void end_body(std::optional<AbortReason> abort);
  void reset_transaction(bool announce);
  void close(CloseReason reason, std::optional<Reply> last_reply);
  void touch(Instant now);
  void flush_body();
  void push_event(ServerEvent event);
  std::vector<std::string> ehlo_keywords() const;
  std::optional<std::int64_t> latest_release_unix_seconds() const;  // FUTURERELEASE bound
  static std::string_view verb_of(HelloKind kind);
  bool auth_offered() const;
  ParseOptions parse_options() const;

  ServerConfig config_;
  Phase phase_ = Phase::command;
  std::optional<Pending> pending_;
  Instant started_;  // the constructor's `now`, the moment wall_clock_unix_seconds names
  HelloKind pending_hello_ = HelloKind::ehlo;  // what the pending hello question is about
  MailParams pending_mail_;                    // the parameters of the pending MAIL
  Ticket next_ticket_ = 1;
  Instant last_activity_;
  std::optional<Instant> transfer_started_;  // DATA's 354 or the transaction's first BDAT
  std::uint64_t transfer_bytes_ = 0;         // wire octets of the transfer so far
  bool eof_ = false;
  bool shutdown_requested_ = false;

  std::string line_;
  bool line_overflow_ = false;  // discarding a too-long line up to its LF

  std::optional<HelloKind> hello_;
  bool hello_utf8_ = false;  // the accepted EHLO/HELO name is not ASCII
  bool pending_hello_utf8_ = false;
  bool tls_active_ = false;
  bool authenticated_ = false;
  std::string auth_mechanism_;
  std::uint32_t auth_failures_ = 0;
  std::uint32_t rcpt_errors_ = 0;  // RCPTs refused with a 5xx, the whole session
  std::uint32_t errors_ = 0;
  std::uint32_t junk_ = 0;

  Transaction txn_;
  DataDecoder decoder_;
  std::string body_;  // decoded bytes not yet handed out as a BodyChunkEvent
  std::uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  bool bdat_discard_ = false;          // reading a refused chunk: bytes are dropped
  std::optional<Reply> bdat_refusal_;  // the reply once a refused chunk has been read
  BodyScanner bdat_scanner_;           // a text (not BINARYMIME) BDAT body obeys DATA's rules
};

}  // namespace tern::protocol::smtp

template <>
struct std::is_error_code_enum<tern::protocol::smtp::server_errc> : std::true_type {};
