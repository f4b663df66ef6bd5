// protocol/smtp/client_session.hpp — the delivering side of SMTP and LMTP as a pure state
// machine (RFC 5321, RFC 2033, RFC 2920, RFC 3030, RFC 3207, RFC 4954).
//
// Contract (the machine contract of docs/architecture.md, mirrored):
// - Construction waits for the greeting; the machine then says EHLO (LHLO in LMTP), falls
//   back to HELO when EHLO is refused with 5xx, reads the extensions, does STARTTLS when
//   the policy asks and the server offers it (ClientStartTlsEvent: the adapter does the
//   handshake, then on_tls_established), authenticates when credentials are configured,
//   and reports ReadyEvent. Nothing the server sends between the 220 to STARTTLS and the
//   handshake is read (response injection).
// - submit(envelope) starts a transaction when ready: MAIL, RCPT... (pipelined when the
//   server offers PIPELINING, DATA included), then BodyWantedEvent once the server is
//   ready for the body. The application streams it with send_body() and ends it with
//   end_body(). The encoder dot-stuffs (DATA) and turns bare CR / LF into CRLF, so the
//   body on the wire never holds a bare CR or LF; BDAT is used for BODY=BINARYMIME (bytes
//   sent as given) or when use_chunking is set and the server offers CHUNKING.
// - Every recipient gets exactly one RecipientEvent per transaction, with delivered,
//   temporary or permanent failure and the reply that decided it (RCPT refusals at once;
//   the others after the body: one reply for all in SMTP, one each in LMTP), then
//   MessageDoneEvent, and ReadyEvent when the connection can take another message (an
//   aborted transaction is cleared with RSET first).
// - Probe mode (Envelope::probe_only, for directories that ask a server whether it knows
//   an address): MAIL and the RCPTs are sent (pipelined when offered), never DATA. Each
//   accepted recipient gets a RecipientEvent `delivered` carrying its RCPT reply, each
//   refused one its refusal; a refused MAIL says nothing about the recipients, so in probe
//   mode they all get `temporary_failure` with the MAIL reply. Then MessageDoneEvent and
//   ReadyEvent; the next submit starts with RSET (pipelined with its MAIL), which closes
//   the probed transaction without a round trip of its own.
// - A session-level failure (greeting refused, EHLO refused, TLS required but unavailable,
//   AUTH failed, a malformed or over-long reply, a timeout, the connection lost) first
//   gives every recipient still open its outcome, then SessionFailedEvent, then the
//   session ends (with QUIT when the connection is still usable).
// - feed() consumes replies only while commands wait for them: a reply that runs ahead of
//   its command waits inside the machine (or, past ReplyParserOptions::ready_replies_max,
//   in the caller's buffer: feed returns less than it was given) and answers the next one.
// - Misuse (submit when not ready, send_body when no body is wanted ...) returns an
//   std::error_code (client_errc) and changes nothing.
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
#include "protocol/sasl/client.hpp"
#include "protocol/smtp/command.hpp"
#include "protocol/smtp/data_codec.hpp"
#include "protocol/smtp/reply.hpp"

namespace tern::protocol::smtp {

enum class ClientMode { smtp, lmtp };
enum class StartTlsPolicy { disable, optional, require };

struct ClientAuth {
  std::vector<std::string> mechanisms{"PLAIN", "LOGIN"};  // our preference order
  sasl::ClientCredentials credentials;
};

struct ClientConfig {
  ClientMode mode = ClientMode::smtp;
  std::string helo_name = "localhost";
  StartTlsPolicy starttls = StartTlsPolicy::optional;
  bool tls_active = false;  // implicit TLS: the adapter did the handshake before the greeting
  std::optional<ClientAuth> auth;
  bool auth_requires_tls = true;  // never send credentials over a clear connection
  // With `auth` set: a server that offers no AUTH at all is used without it (a final
  // delivery LMTP store, which authenticates nobody) instead of failing the session.
  bool auth_only_when_offered = false;
  bool use_pipelining = true;  // when the server offers it
  bool use_chunking = false;   // BDAT for every body when the server offers CHUNKING
  ReplyParserOptions replies;  // bounds on what the server may send
  // RFC 5321 §4.5.3.2 timeouts, each from the moment the command was sent.
  Duration greeting_timeout = Duration::minutes(5);
  Duration command_timeout = Duration::minutes(5);
  Duration data_start_timeout = Duration::minutes(2);
  Duration data_end_timeout = Duration::minutes(10);
};

struct Capabilities {
  bool esmtp = false;  // EHLO/LHLO succeeded
  bool pipelining = false;
  bool eight_bit_mime = false;
  bool binary_mime = false;
  bool chunking = false;
  bool smtputf8 = false;
  bool enhanced_status_codes = false;
  bool starttls = false;
  bool dsn = false;
  std::optional<std::uint64_t> size;  // SIZE's value; 0 when offered without a number
  std::vector<std::string> auth;      // mechanisms, upper-case
};

// Parses the lines of a 250 reply to EHLO/LHLO (the first line is the server's name).
Capabilities parse_capabilities(const Reply& ehlo_reply);

struct Envelope {
  ReversePath sender;
  MailParams params;             // only what the server offers is sent
  std::vector<Rcpt> recipients;  // at least one
  bool probe_only = false;       // MAIL and RCPT only: see "Probe mode" above
  // The body has a line longer than 998 octets (RFC 5321 §4.5.3.1.6): it goes only over
  // BDAT (which counts octets); a server without CHUNKING gets no transaction, and every
  // recipient fails with 554 5.6.0. Never passed through DATA.
  bool long_lines = false;
};

enum class Outcome { delivered, temporary_failure, permanent_failure };

struct ReadyEvent {
  Capabilities capabilities;
  bool tls_active;
  bool authenticated;
};
struct ClientStartTlsEvent {};
struct BodyWantedEvent {};
struct RecipientEvent {
  std::size_t index;
  Outcome outcome;
  Reply reply;
};
struct MessageDoneEvent {};
struct SessionFailedEvent {
  Outcome outcome;
  std::optional<Reply> reply;
  std::string reason;
};
struct ClientClosedEvent {};

using ClientEvent = std::variant<ReadyEvent, ClientStartTlsEvent, BodyWantedEvent, RecipientEvent,
                                 MessageDoneEvent, SessionFailedEvent, ClientClosedEvent>;

enum class client_errc {
  not_ready = 1,     // submit while another transaction runs, or before ReadyEvent
  no_recipients,     // an envelope without recipients
  body_not_wanted,   // send_body/end_body before BodyWantedEvent or after end_body
  not_awaiting_tls,  // on_tls_established without a ClientStartTlsEvent
  closed,            // the session has ended
};
const std::error_category& client_category();
std::error_code make_error_code(client_errc e);

class ClientSession : public MachineOutputs<ClientEvent> {
 public:
  ClientSession(ClientConfig config, Instant now);

  std::size_t feed(std::span<const char> bytes, Instant now);
  void feed_eof(Instant now);
  void on_timeout(Instant now);
  std::error_code on_tls_established(Instant now);

  [[nodiscard]] std::error_code submit(Envelope envelope, Instant now);
  [[nodiscard]] std::error_code send_body(std::span<const char> bytes, Instant now);
  [[nodiscard]] std::error_code end_body(Instant now);
  void quit(Instant now);  // QUIT when idle; otherwise after the current transaction

  std::optional<Instant> poll_timeout() const;

  bool wants_read() const { return phase_ != Phase::closed && phase_ != Phase::awaiting_tls; }
  bool is_ready() const { return phase_ == Phase::ready; }
  bool is_closed() const { return phase_ == Phase::closed; }
  const Capabilities& capabilities() const { return caps_; }

 private:
  enum class Phase {
    greeting,
    hello,
    starttls,
    awaiting_tls,
    auth,
    ready,
    transaction,
    quitting,
    closed
  };
  enum class Expect {
    greeting,
    ehlo,
    helo,
    starttls,
    auth,
    rset,
    mail,
    rcpt,
    data,
    data_end,
    bdat,
    bdat_last,
    quit
  };
  struct Expected {
    Expect kind;
    std::size_t index = 0;
    Duration timeout;
  };
  struct Transaction {
    Envelope envelope;
    std::vector<bool> decided;            // per recipient: outcome already reported
    std::vector<std::size_t> accepted;    // indices whose RCPT got 2xx, in order
    std::vector<Reply> accepted_replies;  // probe mode: their RCPT replies, same order
    std::optional<Reply> mail_failure;    // MAIL refused: every recipient gets it
    std::optional<Reply> body_failure;    // a BDAT refused: the accepted recipients get it
    std::size_t rcpts_sent = 0;
    bool data_sent = false;  // DATA queued (pipelined or after the last RCPT reply)
    bool chunked = false;    // the body goes by BDAT
    bool body_wanted = false;
    bool body_ended = false;
    std::size_t final_replies = 0;  // LMTP: replies after the body received so far
  };

  bool process_replies();
  void on_reply(Reply reply, Expected expected);
  void on_greeting(const Reply& reply);
  void on_hello(const Reply& reply, bool was_ehlo);
  void after_hello();
  void on_starttls(const Reply& reply);
  void start_auth();
  void on_auth(const Reply& reply);
  void become_ready();
  void on_mail(const Reply& reply);
  void on_rcpt(const Reply& reply, std::size_t index);
  void after_rcpts();
  void finish_probe();
  void on_data(const Reply& reply);
  void on_final(const Reply& reply, std::size_t index);
  void on_bdat(const Reply& reply);
  void send_next_rcpt();
  void want_body();
  void decide(std::size_t index, Outcome outcome, const Reply& reply);
  void decide_open(Outcome outcome, const Reply& reply);
  void finish_transaction();
  void fail(Outcome outcome, std::optional<Reply> reply, std::string reason, bool usable);
  void send(std::string_view line, Expect kind, std::size_t index = 0);
  std::string mail_line() const;
  Duration timeout_for(Expect kind) const;

  ClientConfig config_;
  Phase phase_ = Phase::greeting;
  Capabilities caps_;
  bool tls_active_ = false;
  bool authenticated_ = false;
  bool helo_fallback_tried_ = false;
  bool needs_rset_ = false;
  bool quit_requested_ = false;
  std::optional<sasl::Client> sasl_;
  ReplyParser parser_;
  std::deque<Expected> expected_;
  std::optional<Instant> deadline_;
  Instant now_;
  std::optional<Transaction> txn_;
  DataEncoder encoder_;
};

}  // namespace tern::protocol::smtp

template <>
struct std::is_error_code_enum<tern::protocol::smtp::client_errc> : std::true_type {};
