// Properties of protocol/sasl: base64 and message round-trips, and client↔server agreement:
// for every mechanism, an exchange succeeds exactly when the client's credentials are the
// ones the application holds, whether or not the client sends an initial response.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/sasl/base64.hpp"
#include "protocol/sasl/client.hpp"
#include "protocol/sasl/server.hpp"
#include "protocol/sasl/wire.hpp"

namespace tern::protocol::sasl {
namespace {

std::string to_utf8(const std::vector<std::uint32_t>& code_points) {
  std::string out;
  for (const std::uint32_t cp : code_points) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// UTF-8 text of up to 40 code points (at most 160 bytes, under every default limit),
// without NUL and without ^A (XOAUTH2 cannot carry it in user=).
rc::Gen<std::string> gen_utf8(bool non_empty) {
  auto code_point = rc::gen::weightedOneOf<std::uint32_t>({
      {6, rc::gen::inRange<std::uint32_t>(2, 0x80)},
      {1, rc::gen::inRange<std::uint32_t>(0x80, 0x800)},
      {1, rc::gen::inRange<std::uint32_t>(0x800, 0xD800)},
      {1, rc::gen::inRange<std::uint32_t>(0xE000, 0x10000)},
      {1, rc::gen::inRange<std::uint32_t>(0x10000, 0x110000)},
  });
  auto points = rc::gen::resize(40, rc::gen::container<std::vector<std::uint32_t>>(code_point));
  if (non_empty) points = rc::gen::nonEmpty(points);
  return rc::gen::map(points, [](const std::vector<std::uint32_t>& v) {
    return to_utf8(std::vector<std::uint32_t>(
        v.begin(), v.begin() + static_cast<long>(std::min<std::size_t>(v.size(), 40))));
  });
}

rc::Gen<std::string> gen_token() {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
  auto body = rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::elementOf(chars)));
  return rc::gen::apply(
      [](std::string b, int pad) { return b + std::string(static_cast<std::size_t>(pad), '='); },
      body, rc::gen::inRange(0, 3));
}

rc::Gen<std::string> gen_host() {
  return rc::gen::container<std::string>(rc::gen::inRange<char>(0x21, 0x7F));
}

ClientCredentials gen_credentials(Mechanism m) {
  ClientCredentials c;
  const bool oauth = m == Mechanism::xoauth2 || m == Mechanism::oauthbearer;
  if (m == Mechanism::plain || m == Mechanism::oauthbearer) c.authzid = *gen_utf8(false);
  if (m != Mechanism::oauthbearer) c.username = *gen_utf8(true);
  if (!oauth) c.password = *gen_utf8(true);
  if (oauth) c.token = *gen_token();
  if (m == Mechanism::oauthbearer) {
    c.host = *gen_host();
    if (*rc::gen::arbitrary<bool>()) c.port = *rc::gen::arbitrary<std::uint16_t>();
  }
  return c;
}

// What the application holds: the client's credentials, or the same with one field changed.
ClientCredentials stored_variant(const ClientCredentials& c, Mechanism m, bool same) {
  ClientCredentials s = c;
  if (same) return s;
  const bool oauth = m == Mechanism::xoauth2 || m == Mechanism::oauthbearer;
  const int field = *rc::gen::inRange(0, 2);
  if (oauth) {
    (field == 0 ? s.token : (m == Mechanism::xoauth2 ? s.username : s.authzid)) += "x";
  } else {
    (field == 0 ? s.password : s.username) += "x";
  }
  return s;
}

// The application's answer to a Verify.
StepResult decide(Server& server, const Verify& v, const ClientCredentials& stored) {
  if (const auto* p = std::get_if<PasswordCredentials>(&v.credentials)) {
    const bool authzid_ok = p->authzid.empty() || p->authzid == stored.authzid;
    return server.verified(authzid_ok && p->authcid == stored.username &&
                           p->password == stored.password);
  }
  if (const auto* s = std::get_if<SecretRequest>(&v.credentials)) {
    if (s->username != stored.username) return server.supply_secret(std::nullopt);
    return server.supply_secret(stored.password);
  }
  const auto& b = std::get<BearerCredentials>(v.credentials);
  const std::string& who =
      server.mechanism() == Mechanism::xoauth2 ? stored.username : stored.authzid;
  return server.verified(b.authzid == who && b.token == stored.token && b.host == stored.host &&
                         b.port == stored.port);
}

// Sends one client message through the wire encoding, as SMTP would.
std::string over_the_wire(std::string_view bytes, LinePosition position) {
  const std::string line = position == LinePosition::initial_response
                               ? encode_initial_response(bytes)
                               : encode_response(bytes);
  auto decoded = decode_client_line(line, position, 100000);
  RC_ASSERT(decoded.has_value());
  return std::get<Bytes>(*decoded).data;
}

// Runs one exchange to its end; true on Success.
bool run_exchange(Mechanism m, const ClientCredentials& creds, const ClientCredentials& stored,
                  bool use_ir) {
  auto client = Client::create(m, creds);
  RC_ASSERT(client.has_value());
  ServerConfig config;
  config.cram_md5_challenge = "<1896.697170952@postoffice.reston.mci.net>";
  Server server(m, config);
  std::optional<std::string> ir = use_ir ? client->initial_response() : std::nullopt;
  if (ir) ir = over_the_wire(*ir, LinePosition::initial_response);
  StepResult r = server.start(ir);
  for (int round = 0; round < 8; ++round) {
    RC_ASSERT(r.has_value());
    const Step& step = *r;
    if (std::holds_alternative<Success>(step)) return true;
    if (const auto* f = std::get_if<Failure>(&step)) {
      RC_ASSERT(f->reason == FailureReason::rejected);
      return false;
    }
    if (const auto* v = std::get_if<Verify>(&step)) {
      r = decide(server, *v, stored);
      continue;
    }
    auto answer = client->respond(std::get<Challenge>(step).bytes);
    RC_ASSERT(answer.has_value());
    r = server.step(over_the_wire(*answer, LinePosition::continuation));
  }
  RC_FAIL("exchange did not finish");
}

void check_agreement(Mechanism m) {
  const ClientCredentials creds = gen_credentials(m);
  const bool same = *rc::gen::arbitrary<bool>();
  const bool use_ir = *rc::gen::arbitrary<bool>();
  const ClientCredentials stored = stored_variant(creds, m, same);
  RC_TAG(same);
  RC_ASSERT(run_exchange(m, creds, stored, use_ir) == same);
}

RC_GTEST_PROP(SaslProps, Base64RoundTrips, (const std::string& bytes)) {
  const std::string text = base64_encode(bytes);
  RC_ASSERT(text.size() == encoded_size(bytes.size()));
  auto back = base64_decode(text, bytes.size());
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == bytes);
}

RC_GTEST_PROP(SaslProps, Base64AcceptsOnlyCanonicalText, ()) {
  const std::string text = *rc::gen::container<std::string>(rc::gen::elementOf(
      std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")));
  auto decoded = base64_decode(text, 100000);
  if (decoded) RC_ASSERT(base64_encode(*decoded) == text);
}

RC_GTEST_PROP(SaslProps, PlainEncodingRoundTrips, ()) {
  const PlainMessage m{*gen_utf8(false), *gen_utf8(true), *gen_utf8(true)};
  auto parsed = parse_plain(encode_plain(m), {});
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(*parsed == m);
}

RC_GTEST_PROP(SaslProps, OAuthEncodingsRoundTrip, ()) {
  const Xoauth2Message x{*gen_utf8(true), *gen_token()};
  auto px = parse_xoauth2(encode_xoauth2(x), {});
  RC_ASSERT(px.has_value());
  RC_ASSERT(*px == x);
  OauthBearerMessage o{*gen_utf8(false), *gen_host(), std::nullopt, *gen_token()};
  if (*rc::gen::arbitrary<bool>()) o.port = *rc::gen::arbitrary<std::uint16_t>();
  auto po = parse_oauthbearer(encode_oauthbearer(o), {});
  RC_ASSERT(po.has_value());
  RC_ASSERT(*po == o);
}

RC_GTEST_PROP(SaslProps, PlainAgrees, ()) {
  check_agreement(Mechanism::plain);
}
RC_GTEST_PROP(SaslProps, LoginAgrees, ()) {
  check_agreement(Mechanism::login);
}
RC_GTEST_PROP(SaslProps, CramMd5Agrees, ()) {
  check_agreement(Mechanism::cram_md5);
}
RC_GTEST_PROP(SaslProps, Xoauth2Agrees, ()) {
  check_agreement(Mechanism::xoauth2);
}
RC_GTEST_PROP(SaslProps, OauthBearerAgrees, ()) {
  check_agreement(Mechanism::oauthbearer);
}

}  // namespace
}  // namespace tern::protocol::sasl
