// protocol/imap/server_session.hpp — the server side of IMAP authentication (RFC 9051,
// RFC 3501, RFC 4959 SASL-IR, RFC 7888 LITERAL+) as a pure state machine: greeting,
// CAPABILITY, NOOP, STARTTLS, AUTHENTICATE, LOGIN and LOGOUT, answered the way Dovecot 2.3
// answers them.
//
// Contract (the machine contract of docs/architecture.md):
// - Construction queues the greeting "* OK [CAPABILITY ...] text".
// - Inputs. feed(bytes, now) consumes bytes and returns how many: it stops while a decision
//   is pending, while more than output_backlog_bytes_max of output waits, and once closed.
//   Bytes after the STARTTLS line are consumed and dropped until on_tls_established(now),
//   which resets the session to its state before any command (capabilities, authentication,
//   partial input). feed_eof(now) closes once no decision is pending. on_timeout(now) after
//   poll_timeout(): "* BYE" and close. shutdown(now): "* BYE" at the next chance, close.
// - Decisions. A VerifyEvent (AUTHENTICATE reached the sasl server machine's Verify, or a
//   LOGIN command) pauses the machine until decide(ticket, decision, now) answers with what
//   the sasl machine takes: Verified{ok}, Secret{...} (CRAM-MD5), or Unavailable{}. Misuse —
//   a wrong ticket, a decision of the wrong kind — returns server_errc and changes nothing.
// - Outputs, polled in this order: pending_output()/consume_output(n), poll_event(),
//   poll_timeout(). Every tagged completion is also a CompletedEvent (for logs). The output
//   is always a sequence of well-formed responses (grammar.hpp parses each one).
// - Faults of the client are answered inside: an unknown command is "tag BAD", a known one
//   outside this subset "tag NO", a line without a usable tag "* BAD"; after
//   bad_commands_max BADs, or auth_failures_max failed authentications, "* BYE" and close.
//   A line over limits.line_bytes_max cannot be resynchronized: "* BYE" and close. A
//   synchronizing literal is only invited ("+") for a LOGIN that may proceed; otherwise the
//   command is answered at once and the client abandons it. Failed authentication is
//   "NO [AUTHENTICATIONFAILED]", an unavailable check "NO [UNAVAILABLE]", a cancelled one
//   ("*") "BAD"; LOGIN and plaintext mechanisms before TLS (unless configured) are
//   "NO [PRIVACYREQUIRED]" and the capabilities say LOGINDISABLED.
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
#include "protocol/imap/framing.hpp"
#include "protocol/imap/grammar.hpp"
#include "protocol/sasl/server.hpp"

namespace tern::protocol::imap {

struct ServerConfig {
  std::string greeting_text = "Tern IMAP ready.";
  bool imap4rev1 = true;
  bool imap4rev2 = true;
  bool tls_available = false;  // STARTTLS offered while TLS is not active
  bool tls_active = false;     // implicit TLS (port 993)
  std::vector<std::string> auth_mechanisms{"PLAIN", "LOGIN"};  // upper-case
  bool plaintext_without_tls = false;  // plaintext mechanisms and LOGIN before TLS
  bool login_command = true;
  bool sasl_ir = true;
  bool literal_plus = true;
  sasl::ServerConfig sasl;  // limits; CRAM-MD5's challenge, fresh per session
  std::uint32_t auth_failures_max = 3;
  std::uint32_t bad_commands_max = 10;
  Duration idle_timeout = Duration::minutes(30);  // RFC 9051 §5.4
  Limits limits;
  std::size_t output_backlog_bytes_max = std::size_t{64} * 1024;
};

using Ticket = std::uint64_t;

enum class AuthMethod { authenticate, login };

// Events. VerifyEvent waits for decide().
struct VerifyEvent {
  Ticket ticket = 0;
  AuthMethod method = AuthMethod::authenticate;
  std::string mechanism;  // "PLAIN" ...; "LOGIN" for the LOGIN command too
  sasl::Credentials credentials;
};
struct AuthenticatedEvent {
  std::string user;
  std::string mechanism;
};
struct AuthFailedEvent {
  sasl::FailureReason reason;
  std::string detail;
};
struct CompletedEvent {
  std::string tag;
  std::string command;
  Status status;
};
enum class CloseReason {
  logout,
  too_many_bad_commands,
  too_many_auth_failures,
  line_too_long,
  timeout,
  peer_closed,
  shutdown
};
struct ClosedEvent {
  CloseReason reason;
};
using ServerEvent = std::variant<VerifyEvent, AuthenticatedEvent, AuthFailedEvent, StartTlsEvent,
                                 CompletedEvent, ClosedEvent>;

// Decisions: the answers the sasl server machine takes (sasl/server.hpp).
struct Verified {
  bool ok = false;
};
struct Secret {
  std::optional<std::string> secret;
};  // CRAM-MD5; nullopt: unknown user
struct Unavailable {};
using ServerDecision = std::variant<Verified, Secret, Unavailable>;

enum class server_errc { no_pending_decision = 1, wrong_decision_kind, not_awaiting_tls };
const std::error_category& server_category();
std::error_code make_error_code(server_errc e);

class ServerSession : public MachineOutputs<ServerEvent> {
 public:
  ServerSession(ServerConfig config, Instant now);

  std::size_t feed(std::span<const char> bytes, Instant now);
  void feed_eof(Instant now);
  void on_timeout(Instant now);
  [[nodiscard]] std::error_code on_tls_established(Instant now);
  void shutdown(Instant now);

  [[nodiscard]] std::error_code decide(Ticket ticket, ServerDecision decision, Instant now);

  std::optional<Instant> poll_timeout() const;

  bool wants_read() const { return may_consume() && phase_ != Phase::awaiting_tls; }
  bool is_closed() const { return phase_ == Phase::closed; }
  bool tls_active() const { return tls_; }
  bool authenticated() const { return authenticated_; }
  std::vector<std::string> capabilities() const;

 private:
  enum class Phase { command, auth_response, awaiting_tls, closed };

  bool may_consume() const;
  void on_literal_wanted();
  void on_complete();
  void on_command(const std::vector<CommandPart>& parts, bool bare_lf, bool oversize);
  void dispatch(const std::string& tag, const std::string& name,
                const std::vector<CommandPart>& parts);
  bool answer_outside_subset(const std::string& tag, const std::string& name);
  void on_simple(const std::string& tag, const std::string& name,
                 const std::vector<CommandPart>& parts);
  void on_starttls(const std::string& tag);
  void on_authenticate(const std::string& tag, const std::vector<std::string>& args);
  void on_login(const std::string& tag, const std::vector<std::string>& args);
  void on_auth_line(std::string_view line, bool bare_lf);
  void on_step(const sasl::StepResult& step);
  void auth_succeeded();
  void auth_failed(const sasl::Failure& failure);
  bool login_usable() const;
  bool mechanism_usable(std::string_view mechanism) const;
  std::vector<std::string> login_capabilities() const;

  void respond(const Response& response);
  void tagged(const std::string& tag, std::string_view command, Status status,
              std::optional<ResponseCode> code, std::string text);
  void bad(const std::string& tag, std::string_view command, std::string text,
           std::optional<ResponseCode> code = std::nullopt);
  void close(CloseReason reason, std::optional<std::string> bye,
             std::optional<ResponseCode> code = std::nullopt);

  ServerConfig config_;
  Phase phase_ = Phase::command;
  CommandReader reader_;
  Instant last_activity_;
  bool eof_ = false;
  bool shutdown_requested_ = false;

  bool tls_ = false;
  bool authenticated_ = false;
  std::uint32_t bad_commands_ = 0;
  std::uint32_t auth_failures_ = 0;

  // The authentication in progress.
  std::optional<sasl::Server> sasl_;
  std::string auth_tag_;
  std::string auth_command_;  // AUTHENTICATE or LOGIN
  std::string auth_mechanism_;
  std::string auth_user_;
  std::optional<Ticket> pending_;
  Ticket next_ticket_ = 1;
};

}  // namespace tern::protocol::imap

template <>
struct std::is_error_code_enum<tern::protocol::imap::server_errc> : std::true_type {};
