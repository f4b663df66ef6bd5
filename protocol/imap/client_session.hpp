// protocol/imap/client_session.hpp — the client side of IMAP authentication (RFC 9051,
// RFC 3501, RFC 4959 SASL-IR, RFC 7888 LITERAL+/-) as a pure state machine: what an
// external-IMAP directory needs to check one set of credentials.
//
// Contract (the machine contract of docs/architecture.md, mirrored for a client):
// - Construction waits for the greeting. "* OK" → not authenticated (capabilities from its
//   [CAPABILITY] code when present, as Dovecot sends them, otherwise a CAPABILITY command);
//   "* PREAUTH" → authenticated without credentials; "* BYE" → refused.
// - authenticate(request, now) asks for one authentication; it may come before or after the
//   greeting. Misuse (a second request, a request once closed) returns client_errc and
//   changes nothing. The machine reaches TLS first when policy says so (STARTTLS; anything
//   the server sent after its OK and before the handshake is discarded, and capabilities
//   are read again after TLS), then uses AUTHENTICATE with the first mechanism of the
//   request's preference list that the server offers (with the initial response when the
//   server offers SASL-IR, continuations otherwise), else LOGIN when config allows it, the
//   server does not say LOGINDISABLED, and TLS is active (or plaintext_without_tls).
//   Plaintext mechanisms (all but CRAM-MD5) are never used before TLS unless configured.
// - Exactly one OutcomeEvent answers a request: accepted; rejected (a tagged NO without a
//   code, or with a credentials code such as [AUTHENTICATIONFAILED]); or temporary_failure
//   (NO [UNAVAILABLE] and other server-side codes, BYE, timeout, a protocol error, the
//   connection closed, no usable mechanism, TLS required but unavailable). A directory
//   answers 5xx only for `rejected`. After the outcome the machine sends LOGOUT (config)
//   and closes; ClientClosedEvent is always the last event.
// - Inputs: feed(bytes, now) returns bytes consumed (all of them, except once closed);
//   feed_eof(now); on_timeout(now) once poll_timeout() has passed; on_tls_established(now)
//   after a StartTlsEvent (otherwise client_errc::not_awaiting_tls).
// - Outputs, polled in this order: pending_output()/consume_output(n), poll_event(),
//   poll_timeout(). Tags are A0001, A0002, ... in order. A deadline runs from the moment
//   the command in flight was sent, so a server that keeps talking without answering
//   still times out.
#pragma once

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
#include "protocol/sasl/client.hpp"

namespace tern::protocol::imap {

enum class TlsPolicy { never, opportunistic, required };

struct ClientConfig {
  bool tls_active = false;  // implicit TLS (port 993)
  TlsPolicy starttls = TlsPolicy::opportunistic;
  bool sasl_ir = true;                 // send the initial response when SASL-IR is offered
  bool login_fallback = true;          // LOGIN when no offered mechanism fits
  bool plaintext_without_tls = false;  // PLAIN, LOGIN, bearer tokens, LOGIN command before TLS
  bool preauth_accepts = false;        // PREAUTH: accepted, or a temporary failure (default)
  bool logout = true;                  // LOGOUT after the outcome
  Duration greeting_timeout = Duration::seconds(30);
  Duration command_timeout = Duration::seconds(60);
  Limits limits;
  sasl::Limits sasl_limits;
};

struct AuthRequest {
  std::vector<std::string> mechanisms{"PLAIN", "LOGIN"};  // preference order
  sasl::ClientCredentials credentials;
};

enum class Outcome { accepted, rejected, temporary_failure };
enum class OutcomeReason {
  success,
  credentials,          // NO [AUTHENTICATIONFAILED] or a NO without a code
  invalid_credentials,  // no offered mechanism could carry them (the sasl client refused)
  unavailable,          // NO with a server-side code ([UNAVAILABLE], [SERVERBUG] ...)
  refused,              // greeting BYE
  bye,                  // BYE before the outcome
  timeout,
  protocol_error,
  connection_closed,
  tls_unavailable,
  no_mechanism,
  preauthenticated,  // PREAUTH, and config says that is not an answer
};

struct OutcomeEvent {
  Outcome outcome = Outcome::temporary_failure;
  OutcomeReason reason = OutcomeReason::protocol_error;
  std::string method;  // "AUTHENTICATE PLAIN", "LOGIN", or empty
  std::string text;    // the server's text (or ours), for logs
  friend bool operator==(const OutcomeEvent&, const OutcomeEvent&) = default;
};
struct CapabilitiesEvent {
  std::vector<std::string> capabilities;
  friend bool operator==(const CapabilitiesEvent&, const CapabilitiesEvent&) = default;
};
// StartTlsEvent (grammar.hpp): the OK to STARTTLS arrived; start the TLS handshake.
struct ClientClosedEvent {
  friend bool operator==(const ClientClosedEvent&, const ClientClosedEvent&) = default;
};
using ClientEvent = std::variant<CapabilitiesEvent, StartTlsEvent, OutcomeEvent, ClientClosedEvent>;

enum class client_errc { already_requested = 1, closed, not_awaiting_tls };
const std::error_category& client_category();
std::error_code make_error_code(client_errc e);

class ClientSession : public MachineOutputs<ClientEvent> {
 public:
  ClientSession(ClientConfig config, Instant now);

  [[nodiscard]] std::error_code authenticate(AuthRequest request, Instant now);

  std::size_t feed(std::span<const char> bytes, Instant now);
  void feed_eof(Instant now);
  void on_timeout(Instant now);
  [[nodiscard]] std::error_code on_tls_established(Instant now);

  std::optional<Instant> poll_timeout() const;

  bool wants_read() const { return phase_ != Phase::closed && phase_ != Phase::awaiting_tls; }
  bool is_closed() const { return phase_ == Phase::closed; }
  bool tls_active() const { return tls_; }
  const std::vector<std::string>& capabilities() const { return caps_; }

 private:
  enum class Phase {
    greeting,
    capability,
    starttls,
    awaiting_tls,
    ready,
    authenticate,
    login,
    logout,
    closed
  };

  void on_response(Response response);
  void on_greeting(const Response& response);
  void on_untagged(const Response& response);
  void on_continuation(const ContinuationRequest& request);
  void on_tagged(const StatusResponse& response);
  void on_capability_done(const StatusResponse& response);
  void on_starttls_done(const StatusResponse& response);
  void on_auth_done(const StatusResponse& response);
  void advance();
  void start_auth();
  bool start_authenticate(const std::string& mechanism, bool& bad_credentials);
  void start_login();
  bool mechanism_allowed(std::string_view mechanism) const;
  bool login_allowed() const;
  void send(const std::string& name, const std::string& args);
  std::string next_tag();
  void set_capabilities(std::vector<std::string> caps);
  void report(Outcome outcome, OutcomeReason reason, std::string text);
  void fail(OutcomeReason reason, std::string text);  // temporary failure, then close
  void finish();                                      // LOGOUT or close
  void close();

  ClientConfig config_;
  Phase phase_ = Phase::greeting;
  ResponseParser parser_;
  Instant now_;            // of the input being handled
  Instant last_activity_;  // when the command in flight (or the connection) started
  unsigned tag_counter_ = 0;
  std::string tag_;  // of the command in flight

  bool tls_ = false;
  bool tls_refused_ = false;  // STARTTLS got NO/BAD and policy let us go on
  bool caps_known_ = false;
  bool preauth_ = false;
  std::vector<std::string> caps_;

  std::optional<AuthRequest> request_;
  bool reported_ = false;
  std::string method_;
  std::optional<sasl::Client> sasl_;
  bool cancelled_ = false;               // we sent "*" (a challenge we could not answer)
  std::vector<std::string> login_rest_;  // LOGIN segments waiting for a continuation
};

}  // namespace tern::protocol::imap

template <>
struct std::is_error_code_enum<tern::protocol::imap::client_errc> : std::true_type {};
