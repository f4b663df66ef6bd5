// protocol/sasl/server.hpp — server side of the SASL mechanisms, one small machine each.
//
// Contract shared by every machine (PlainServer, LoginServer, CramMd5Server, Xoauth2Server,
// OauthBearerServer, and Server, which holds any of them):
// - Construction takes the Limits and whatever the machine cannot make itself, because
//   protocol/ has no randomness and no clock: CRAM-MD5 gets its challenge
//   "<nonce.timestamp@hostname>" from the caller; the OAuth machines get the scope and
//   OpenID configuration URL their error reply names.
// - Messages are DECODED bytes; the wire's base64 and "*" are wire.hpp's business.
// - start(initial_response) begins the exchange (std::nullopt: the client sent no initial
//   response; "": it sent "="). step(bytes) gives the machine the client's next message;
//   cancel() says the client sent "*". Each returns a Step:
//     Challenge{bytes}  send them (base64) and call step() with the client's answer;
//     Verify{...}       the application checks the credentials and answers with ONE of
//                       verified(ok) (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER),
//                       supply_secret(secret or nullopt for an unknown user) (CRAM-MD5),
//                       unavailable() (any mechanism: the check could not be made now);
//     Success{}         authenticated;
//     Failure{reason, detail, client_fault}  finished, not authenticated. client_fault is
//                       false only for unavailable() (an SMTP server answers 454, not 535).
//   After Success or Failure the machine is finished.
// - The peer's faults (malformed, over-long, cancelled, wrong credentials) are Failures.
//   Misuse by the caller (start twice, step while a decision is pending, a decision nobody
//   asked for, the wrong kind of decision, anything after the end, CRAM-MD5 without a valid
//   challenge) returns a std::error_code from the Misuse category and changes nothing.
// - Mechanism specifics: PLAIN and XOAUTH2 and OAUTHBEARER answer a missing or empty
//   initial response with an empty challenge. LOGIN takes an initial response as the
//   username and otherwise challenges "Username:", then "Password:"; an empty username or
//   password fails. CRAM-MD5 refuses any initial response. On a rejected token XOAUTH2 sends
//   {"status":"401","schemes":"bearer"[,"scope":...]} and expects an empty answer;
//   OAUTHBEARER sends {"status":"invalid_token"[,"scope":...][,"openid-configuration":...]}
//   and expects "\x01" (RFC 7628 §3.2.3); any other answer fails as malformed.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

#include "protocol/core/result.hpp"
#include "protocol/sasl/mechanism.hpp"
#include "protocol/sasl/messages.hpp"
#include "protocol/sasl/wire.hpp"

namespace tern::protocol::sasl {

enum class Misuse {
  already_started = 1,
  not_awaiting_response,
  not_awaiting_decision,
  wrong_decision,
  finished,
  bad_challenge,
};

const std::error_category& misuse_category();
std::error_code make_error_code(Misuse m);

struct Challenge {
  std::string bytes;
  friend bool operator==(const Challenge&, const Challenge&) = default;
};

// PLAIN and LOGIN: the application compares the password (LOGIN's authzid is empty).
struct PasswordCredentials {
  std::string authzid;
  std::string authcid;
  std::string password;
  friend bool operator==(const PasswordCredentials&, const PasswordCredentials&) = default;
};

// CRAM-MD5: the application looks up the plaintext secret and calls supply_secret().
struct SecretRequest {
  std::string username;
  friend bool operator==(const SecretRequest&, const SecretRequest&) = default;
};

// XOAUTH2 (authzid is its user=) and OAUTHBEARER (authzid may be empty): the application
// validates the token for that identity.
struct BearerCredentials {
  std::string authzid;
  std::string token;
  std::string host;
  std::optional<std::uint16_t> port;
  friend bool operator==(const BearerCredentials&, const BearerCredentials&) = default;
};

using Credentials = std::variant<PasswordCredentials, SecretRequest, BearerCredentials>;

struct Verify {
  Credentials credentials;
  friend bool operator==(const Verify&, const Verify&) = default;
};

struct Success {
  friend bool operator==(const Success&, const Success&) = default;
};

enum class FailureReason { malformed, cancelled, rejected, unavailable };

struct Failure {
  FailureReason reason = FailureReason::malformed;
  std::string detail;  // short English phrase for logs, never sent as a secret
  bool client_fault = true;
  friend bool operator==(const Failure&, const Failure&) = default;
};

using Step = std::variant<Challenge, Verify, Success, Failure>;

// A Step, or the Misuse error_code of a call that changed nothing (then value() asserts).
class [[nodiscard]] StepResult {
 public:
  StepResult(Step step) : step_(std::move(step)) {}  // NOLINT(google-explicit-constructor)
  StepResult(std::error_code error)
      : step_(Failure{}), error_(error) {}  // NOLINT(google-explicit-constructor)
  bool has_value() const { return !error_; }
  explicit operator bool() const { return has_value(); }
  std::error_code error() const { return error_; }
  const Step& value() const {
    assert(has_value());
    return step_;
  }
  const Step& operator*() const { return value(); }

 private:
  Step step_;
  std::error_code error_;
};

enum class Phase { idle, awaiting_response, awaiting_decision, finished };

// The state and the misuse checks every machine shares.
class ServerCore {
 public:
  Phase phase() const { return phase_; }
  bool is_finished() const { return phase_ == Phase::finished; }
  StepResult cancel();
  StepResult unavailable();
  StepResult verified(bool ok);                                      // wrong_decision here
  StepResult supply_secret(std::optional<std::string_view> secret);  // wrong_decision here

 protected:
  std::error_code check(Phase expected) const;
  Step challenge(std::string bytes);
  Step verify(Credentials credentials);
  Step succeed();
  Step failure(FailureReason reason, std::string detail, bool client_fault = true);
  Step malformed(const Error& e) { return failure(FailureReason::malformed, e.message); }

 private:
  Phase phase_ = Phase::idle;
};

class PlainServer : public ServerCore {
 public:
  explicit PlainServer(Limits limits = {}) : limits_(limits) {}
  StepResult start(std::optional<std::string_view> initial_response);
  StepResult step(std::string_view response);
  StepResult verified(bool ok);

 private:
  Step parse(std::string_view message);
  Limits limits_;
};

class LoginServer : public ServerCore {
 public:
  explicit LoginServer(Limits limits = {}) : limits_(limits) {}
  StepResult start(std::optional<std::string_view> initial_response);
  StepResult step(std::string_view response);
  StepResult verified(bool ok);

 private:
  Step take_username(std::string_view username);
  Limits limits_;
  std::string username_;
  bool have_username_ = false;
};

class CramMd5Server : public ServerCore {
 public:
  CramMd5Server(std::string challenge, Limits limits = {})
      : limits_(limits), challenge_(std::move(challenge)) {}
  StepResult start(std::optional<std::string_view> initial_response);
  StepResult step(std::string_view response);
  StepResult supply_secret(std::optional<std::string_view> secret);

 private:
  Limits limits_;
  std::string challenge_;
  std::string digest_hex_;
};

struct OAuthErrorInfo {
  std::string scope;                 // empty: left out of the error JSON
  std::string openid_configuration;  // OAUTHBEARER only; empty: left out
};

// XOAUTH2 and OAUTHBEARER differ only in their message format and error dance.
class BearerServer : public ServerCore {
 public:
  StepResult start(std::optional<std::string_view> initial_response);
  StepResult step(std::string_view response);
  StepResult verified(bool ok);

 protected:
  BearerServer(Mechanism m, Limits limits, OAuthErrorInfo info)
      : mechanism_(m), limits_(limits), info_(std::move(info)) {}

 private:
  Step parse(std::string_view message);
  std::string error_json() const;
  Mechanism mechanism_;
  Limits limits_;
  OAuthErrorInfo info_;
  bool error_sent_ = false;
};

class Xoauth2Server : public BearerServer {
 public:
  explicit Xoauth2Server(Limits limits = {}, OAuthErrorInfo info = {})
      : BearerServer(Mechanism::xoauth2, limits, std::move(info)) {}
};

class OauthBearerServer : public BearerServer {
 public:
  explicit OauthBearerServer(Limits limits = {}, OAuthErrorInfo info = {})
      : BearerServer(Mechanism::oauthbearer, limits, std::move(info)) {}
};

struct ServerConfig {
  Limits limits;
  std::string cram_md5_challenge;  // "<nonce.timestamp@hostname>", fresh for each exchange
  OAuthErrorInfo oauth;
};

// Any one of the machines behind the same contract, chosen by mechanism.
class Server {
 public:
  using Machine =
      std::variant<PlainServer, LoginServer, CramMd5Server, Xoauth2Server, OauthBearerServer>;
  Server(Mechanism m, const ServerConfig& config);

  Mechanism mechanism() const { return mechanism_; }
  Phase phase() const;
  bool is_finished() const { return phase() == Phase::finished; }
  StepResult start(std::optional<std::string_view> initial_response);
  StepResult step(std::string_view response);
  StepResult feed(const ClientLine& line);  // Cancel → cancel(), Bytes → step()
  StepResult cancel();
  StepResult verified(bool ok);
  StepResult supply_secret(std::optional<std::string_view> secret);
  StepResult unavailable();

 private:
  Mechanism mechanism_;
  Machine machine_;
};

// The factory by (case-insensitive) name; fails, at offset 0, for an unknown mechanism.
Result<Server> make_server(std::string_view mechanism, const ServerConfig& config);

}  // namespace tern::protocol::sasl

template <>
struct std::is_error_code_enum<tern::protocol::sasl::Misuse> : std::true_type {};
