#include "protocol/sasl/client.hpp"

#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl {
namespace {

bool has_only_value_chars(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!((u >= 0x21 && u <= 0x7E) || u == ' ' || u == '\t' || u == '\r' || u == '\n'))
      return false;
  }
  return true;
}

std::optional<Error> check_token(std::string_view token, const Limits& limits) {
  if (token.size() > limits.token_bytes_max) return fail(0, "token is too long");
  if (!is_b64token(token)) return fail(0, "token is not a b64token");
  return std::nullopt;
}

std::optional<Error> check_password_pair(const ClientCredentials& c, const Limits& limits) {
  if (auto e = check_field(c.username, limits.authcid_bytes_max, true, 0, "username")) return e;
  return check_field(c.password, limits.password_bytes_max, true, 0, "password");
}

std::optional<Error> check_credentials(Mechanism m, const ClientCredentials& c,
                                       const Limits& limits) {
  switch (m) {
    case Mechanism::plain:
      if (auto e =
              check_field(c.authzid, limits.authzid_bytes_max, false, 0, "authorization identity"))
        return e;
      return check_password_pair(c, limits);
    case Mechanism::login: return check_password_pair(c, limits);
    case Mechanism::cram_md5:
      if (auto e = check_field(c.username, limits.authcid_bytes_max, true, 0, "username")) return e;
      if (c.password.size() > limits.password_bytes_max) return fail(0, "secret is too long");
      return std::nullopt;
    case Mechanism::xoauth2:
      if (auto e = check_field(c.username, limits.authcid_bytes_max, true, 0, "user")) return e;
      if (c.username.find('\x01') != std::string::npos) return fail(0, "user contains ^A");
      return check_token(c.token, limits);
    case Mechanism::oauthbearer:
      if (auto e =
              check_field(c.authzid, limits.authzid_bytes_max, false, 0, "authorization identity"))
        return e;
      if (c.host.size() > limits.host_bytes_max) return fail(0, "host is too long");
      if (!has_only_value_chars(c.host)) return fail(0, "host contains a forbidden character");
      return check_token(c.token, limits);
  }
  return std::nullopt;
}

}  // namespace

Result<Client> Client::create(Mechanism m, ClientCredentials credentials, Limits limits) {
  if (auto e = check_credentials(m, credentials, limits)) return *e;
  return Client(m, std::move(credentials), limits);
}

Result<Client> Client::create(std::string_view mechanism, ClientCredentials credentials,
                              Limits limits) {
  const auto m = parse_mechanism(mechanism);
  if (!m) return fail(0, "unsupported SASL mechanism");
  return create(*m, std::move(credentials), limits);
}

std::string Client::message() const {
  const ClientCredentials& c = credentials_;
  switch (mechanism_) {
    case Mechanism::plain: return encode_plain({c.authzid, c.username, c.password});
    case Mechanism::xoauth2: return encode_xoauth2({c.username, c.token});
    case Mechanism::oauthbearer: return encode_oauthbearer({c.authzid, c.host, c.port, c.token});
    case Mechanism::login:
    case Mechanism::cram_md5: break;
  }
  return "";
}

std::optional<std::string> Client::initial_response() {
  if (stage_ != Stage::idle) return std::nullopt;
  if (mechanism_ == Mechanism::login || mechanism_ == Mechanism::cram_md5) return std::nullopt;
  stage_ = after_message();
  return message();
}

// PLAIN has said everything with its message; the OAuth mechanisms may still owe the
// answer to an error challenge.
Client::Stage Client::after_message() const {
  return mechanism_ == Mechanism::plain ? Stage::finished : Stage::message_sent;
}

Error Client::unexpected(std::string_view why) {
  stage_ = Stage::finished;
  return fail(0, std::string(why));
}

Result<std::string> Client::respond(std::string_view challenge) {
  if (stage_ == Stage::finished) return unexpected("challenge after the exchange ended");
  if (challenge.size() > limits_.challenge_bytes_max) return unexpected("challenge is too long");
  switch (mechanism_) {
    case Mechanism::login: return respond_login(challenge);
    case Mechanism::cram_md5: return respond_cram_md5(challenge);
    case Mechanism::plain:
    case Mechanism::xoauth2:
    case Mechanism::oauthbearer: break;
  }
  return respond_client_first(challenge);
}

Result<std::string> Client::respond_client_first(std::string_view challenge) {
  if (stage_ == Stage::idle) {
    if (!challenge.empty()) return unexpected("first challenge is not empty");
    stage_ = after_message();
    return message();
  }
  // An OAuth server answers a rejected token with its JSON error, then waits for our ack.
  server_error_ = std::string(challenge);
  stage_ = Stage::finished;
  return std::string(mechanism_ == Mechanism::oauthbearer ? "\x01" : "");
}

Result<std::string> Client::respond_login(std::string_view /*challenge*/) {
  // The draft's servers say "Username:"/"User Name" and "Password:" in varying spellings;
  // only the order carries meaning.
  if (stage_ == Stage::idle) {
    stage_ = Stage::username_sent;
    return credentials_.username;
  }
  stage_ = Stage::finished;
  return credentials_.password;
}

Result<std::string> Client::respond_cram_md5(std::string_view challenge) {
  if (challenge.empty()) return unexpected("CRAM-MD5 challenge is empty");
  stage_ = Stage::finished;
  return encode_cram_md5(
      {credentials_.username, cram_md5_digest_hex(credentials_.password, challenge)});
}

}  // namespace tern::protocol::sasl
