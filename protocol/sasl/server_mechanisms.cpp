// The five server machines; the shared state handling is ServerCore's (server.cpp).
#include <openssl/crypto.h>

#include "protocol/sasl/server.hpp"
#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl {

// ---- PLAIN (RFC 4616) ----

StepResult PlainServer::start(std::optional<std::string_view> initial_response) {
  if (auto e = check(Phase::idle)) return e;
  if (!initial_response || initial_response->empty()) return challenge("");
  return parse(*initial_response);
}

StepResult PlainServer::step(std::string_view response) {
  if (auto e = check(Phase::awaiting_response)) return e;
  return parse(response);
}

Step PlainServer::parse(std::string_view message) {
  auto m = parse_plain(message, limits_);
  if (!m) return malformed(m.error());
  return verify(
      PasswordCredentials{std::move(m->authzid), std::move(m->authcid), std::move(m->password)});
}

StepResult PlainServer::verified(bool ok) {
  if (auto e = check(Phase::awaiting_decision)) return e;
  return ok ? succeed() : failure(FailureReason::rejected, "invalid credentials");
}

// ---- LOGIN (draft-murchison-sasl-login) ----

StepResult LoginServer::start(std::optional<std::string_view> initial_response) {
  if (auto e = check(Phase::idle)) return e;
  if (!initial_response) return challenge("Username:");
  return take_username(*initial_response);
}

Step LoginServer::take_username(std::string_view username) {
  if (auto e = check_field(username, limits_.authcid_bytes_max, true, 0, "username"))
    return malformed(*e);
  username_ = std::string(username);
  have_username_ = true;
  return challenge("Password:");
}

StepResult LoginServer::step(std::string_view response) {
  if (auto e = check(Phase::awaiting_response)) return e;
  if (!have_username_) return take_username(response);
  if (auto e = check_field(response, limits_.password_bytes_max, true, 0, "password"))
    return malformed(*e);
  return verify(PasswordCredentials{"", std::move(username_), std::string(response)});
}

StepResult LoginServer::verified(bool ok) {
  if (auto e = check(Phase::awaiting_decision)) return e;
  return ok ? succeed() : failure(FailureReason::rejected, "invalid credentials");
}

// ---- CRAM-MD5 (RFC 2195) ----

StepResult CramMd5Server::start(std::optional<std::string_view> initial_response) {
  if (auto e = check(Phase::idle)) return e;
  if (!is_cram_md5_challenge(challenge_, limits_)) return std::error_code(Misuse::bad_challenge);
  if (initial_response)
    return failure(FailureReason::malformed, "CRAM-MD5 takes no initial response");
  return challenge(challenge_);
}

StepResult CramMd5Server::step(std::string_view response) {
  if (auto e = check(Phase::awaiting_response)) return e;
  auto r = parse_cram_md5(response, limits_);
  if (!r) return malformed(r.error());
  digest_hex_ = std::move(r->digest_hex);
  return verify(SecretRequest{std::move(r->username)});
}

StepResult CramMd5Server::supply_secret(std::optional<std::string_view> secret) {
  if (auto e = check(Phase::awaiting_decision)) return e;
  // An unknown user still costs an HMAC, so timing does not tell which users exist.
  const std::string expected = cram_md5_digest_hex(secret.value_or(""), challenge_);
  const bool match = expected.size() == digest_hex_.size() &&
                     CRYPTO_memcmp(expected.data(), digest_hex_.data(), expected.size()) == 0;
  if (secret && match) return succeed();
  return failure(FailureReason::rejected, "invalid credentials");
}

// ---- XOAUTH2 (Google) and OAUTHBEARER (RFC 7628) ----

StepResult BearerServer::start(std::optional<std::string_view> initial_response) {
  if (auto e = check(Phase::idle)) return e;
  if (!initial_response || initial_response->empty()) return challenge("");
  return parse(*initial_response);
}

StepResult BearerServer::step(std::string_view response) {
  if (auto e = check(Phase::awaiting_response)) return e;
  if (!error_sent_) return parse(response);
  const std::string_view ack = mechanism_ == Mechanism::oauthbearer ? "\x01" : "";
  if (response != ack)
    return failure(FailureReason::malformed, "unexpected answer to the error challenge");
  return failure(FailureReason::rejected, "invalid token");
}

Step BearerServer::parse(std::string_view message) {
  if (mechanism_ == Mechanism::xoauth2) {
    auto m = parse_xoauth2(message, limits_);
    if (!m) return malformed(m.error());
    return verify(BearerCredentials{std::move(m->user), std::move(m->token), "", std::nullopt});
  }
  auto m = parse_oauthbearer(message, limits_);
  if (!m) return malformed(m.error());
  return verify(
      BearerCredentials{std::move(m->authzid), std::move(m->token), std::move(m->host), m->port});
}

StepResult BearerServer::verified(bool ok) {
  if (auto e = check(Phase::awaiting_decision)) return e;
  if (ok) return succeed();
  error_sent_ = true;
  return challenge(error_json());
}

std::string BearerServer::error_json() const {
  std::string json = mechanism_ == Mechanism::xoauth2 ? R"({"status":"401","schemes":"bearer")"
                                                      : R"({"status":"invalid_token")";
  if (!info_.scope.empty()) json += R"(,"scope":)" + json_string(info_.scope);
  if (mechanism_ == Mechanism::oauthbearer && !info_.openid_configuration.empty()) {
    json += R"(,"openid-configuration":)" + json_string(info_.openid_configuration);
  }
  json += '}';
  return json;
}

}  // namespace tern::protocol::sasl
