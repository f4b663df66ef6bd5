#include "protocol/sasl/server.hpp"

#include <gtest/gtest.h>

#include "protocol/sasl/base64.hpp"

namespace tern::protocol::sasl {
namespace {

using namespace std::string_literals;

// Unwraps a StepResult that must not be a misuse error.
Step ok(const StepResult& r) {
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r.value();
}

Step challenge(std::string bytes) {
  return Challenge{std::move(bytes)};
}
Step failure(FailureReason reason, std::string detail, bool client_fault = true) {
  return Failure{reason, std::move(detail), client_fault};
}

Step password_step(std::string authzid, std::string authcid, std::string password) {
  return Verify{PasswordCredentials{std::move(authzid), std::move(authcid), std::move(password)}};
}
Step bearer_step(std::string authzid, std::string token, std::string host,
                 std::optional<std::uint16_t> port) {
  return Verify{BearerCredentials{std::move(authzid), std::move(token), std::move(host), port}};
}
Step secret_step(std::string username) {
  return Verify{SecretRequest{std::move(username)}};
}

constexpr std::string_view kRfc2195Challenge = "<1896.697170952@postoffice.reston.mci.net>";

// ---- PLAIN ----

TEST(PlainServer, Rfc4616FirstExampleWithoutInitialResponse) {
  PlainServer s;
  EXPECT_EQ(ok(s.start(std::nullopt)), challenge(""));
  EXPECT_EQ(ok(s.step("\0tim\0tanstaaftanstaaf"s)), password_step("", "tim", "tanstaaftanstaaf"));
  EXPECT_EQ(s.phase(), Phase::awaiting_decision);
  EXPECT_EQ(ok(s.verified(true)), Step{Success{}});
  EXPECT_TRUE(s.is_finished());
}

TEST(PlainServer, Rfc4616SecondExampleAuthzidRefused) {
  PlainServer s;
  EXPECT_EQ(ok(s.start("Ursel\0Kurt\0xipj3plmq"s)), password_step("Ursel", "Kurt", "xipj3plmq"));
  EXPECT_EQ(ok(s.verified(false)), failure(FailureReason::rejected, "invalid credentials"));
}

TEST(PlainServer, EmptyInitialResponseGivesEmptyChallenge) {
  PlainServer s;
  EXPECT_EQ(ok(s.start("")), challenge(""));
  EXPECT_EQ(ok(s.step("")), failure(FailureReason::malformed, "PLAIN message has no NUL"));
}

TEST(PlainServer, MalformedMessageFails) {
  PlainServer s;
  EXPECT_EQ(ok(s.start("\0tim\0"s)), failure(FailureReason::malformed, "password is empty"));
}

TEST(PlainServer, FieldLimitsAtNAndNPlusOne) {
  Limits limits;
  limits.password_bytes_max = 4;
  PlainServer at(limits);
  EXPECT_TRUE(std::holds_alternative<Verify>(ok(at.start("\0u\0pppp"s))));
  PlainServer over(limits);
  EXPECT_EQ(ok(over.start("\0u\0ppppp"s)),
            failure(FailureReason::malformed, "password is too long"));
}

TEST(PlainServer, CancelAndUnavailable) {
  PlainServer s;
  (void)s.start(std::nullopt);
  EXPECT_EQ(ok(s.cancel()), failure(FailureReason::cancelled, "client cancelled the exchange"));
  PlainServer t;
  (void)t.start("\0u\0p"s);
  EXPECT_EQ(ok(t.unavailable()),
            failure(FailureReason::unavailable, "credentials could not be checked", false));
}

TEST(PlainServer, MisuseIsAnErrorAndChangesNothing) {
  PlainServer s;
  EXPECT_EQ(s.step("x").error(), Misuse::not_awaiting_response);
  EXPECT_EQ(s.verified(true).error(), Misuse::not_awaiting_decision);
  EXPECT_EQ(s.cancel().error(), Misuse::not_awaiting_response);
  EXPECT_EQ(s.phase(), Phase::idle);
  (void)s.start(std::nullopt);
  EXPECT_EQ(s.start(std::nullopt).error(), Misuse::already_started);
  EXPECT_EQ(s.unavailable().error(), Misuse::not_awaiting_decision);
  (void)s.step("\0u\0p"s);
  EXPECT_EQ(s.step("\0u\0p"s).error(), Misuse::not_awaiting_response);
  EXPECT_EQ(s.cancel().error(), Misuse::not_awaiting_response);
  EXPECT_EQ(s.supply_secret("x").error(), Misuse::wrong_decision);
  EXPECT_EQ(s.phase(), Phase::awaiting_decision);
  (void)s.verified(true);
  EXPECT_EQ(s.verified(true).error(), Misuse::finished);
  EXPECT_EQ(s.step("x").error(), Misuse::finished);
  EXPECT_EQ(s.start(std::nullopt).error(), Misuse::finished);
  EXPECT_EQ(s.cancel().error(), Misuse::finished);
  EXPECT_EQ(s.unavailable().error(), Misuse::finished);
  EXPECT_EQ(s.phase(), Phase::finished);
  EXPECT_EQ(std::error_code(Misuse::finished).message(), "SASL exchange is finished");
  EXPECT_STREQ(std::error_code(Misuse::finished).category().name(), "tern.sasl.misuse");
}

// ---- LOGIN ----

TEST(LoginServer, ChallengesUsernameThenPassword) {
  LoginServer s;
  EXPECT_EQ(ok(s.start(std::nullopt)), challenge("Username:"));
  EXPECT_EQ(ok(s.step("tim")), challenge("Password:"));
  EXPECT_EQ(ok(s.step("tanstaaf")), password_step("", "tim", "tanstaaf"));
  EXPECT_EQ(ok(s.verified(false)), failure(FailureReason::rejected, "invalid credentials"));
}

TEST(LoginServer, InitialResponseIsTheUsername) {
  LoginServer s;
  EXPECT_EQ(ok(s.start("tim")), challenge("Password:"));
  EXPECT_EQ(ok(s.step("pw")), password_step("", "tim", "pw"));
  EXPECT_EQ(ok(s.verified(true)), Step{Success{}});
}

TEST(LoginServer, EmptyFieldsFail) {
  LoginServer a;
  EXPECT_EQ(ok(a.start("")), failure(FailureReason::malformed, "username is empty"));
  LoginServer b;
  (void)b.start("tim");
  EXPECT_EQ(ok(b.step("")), failure(FailureReason::malformed, "password is empty"));
  LoginServer c;
  (void)c.start(std::nullopt);
  EXPECT_EQ(ok(c.step("t\0m"s)), failure(FailureReason::malformed, "username contains NUL"));
}

TEST(LoginServer, LimitsAtNAndNPlusOne) {
  const Limits limits;
  LoginServer a(limits);
  EXPECT_EQ(ok(a.start(std::string(255, 'u'))), challenge("Password:"));
  EXPECT_TRUE(std::holds_alternative<Verify>(ok(a.step(std::string(1024, 'p')))));
  LoginServer b(limits);
  EXPECT_EQ(ok(b.start(std::string(256, 'u'))),
            failure(FailureReason::malformed, "username is too long"));
  LoginServer c(limits);
  (void)c.start("u");
  EXPECT_EQ(ok(c.step(std::string(1025, 'p'))),
            failure(FailureReason::malformed, "password is too long"));
}

TEST(LoginServer, CancelAtPassword) {
  LoginServer s;
  (void)s.start("tim");
  EXPECT_EQ(ok(s.cancel()), failure(FailureReason::cancelled, "client cancelled the exchange"));
  EXPECT_EQ(s.step("x").error(), Misuse::finished);
}

// ---- CRAM-MD5 ----

TEST(CramMd5Server, Rfc2195Example) {
  CramMd5Server s{std::string(kRfc2195Challenge)};
  const Step first = ok(s.start(std::nullopt));
  EXPECT_EQ(first, challenge(std::string(kRfc2195Challenge)));
  EXPECT_EQ(base64_encode(std::get<Challenge>(first).bytes),
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
  auto response = base64_decode("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", 100);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, "tim b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_EQ(ok(s.step(*response)), secret_step("tim"));
  EXPECT_EQ(s.verified(true).error(), Misuse::wrong_decision);
  EXPECT_EQ(ok(s.supply_secret("tanstaaftanstaaf")), Step{Success{}});
}

TEST(CramMd5Server, WrongSecretOrUnknownUserFails) {
  CramMd5Server a{std::string(kRfc2195Challenge)};
  (void)a.start(std::nullopt);
  (void)a.step("tim b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_EQ(ok(a.supply_secret("tanstaaftanstaag")),
            failure(FailureReason::rejected, "invalid credentials"));
  CramMd5Server b{std::string(kRfc2195Challenge)};
  (void)b.start(std::nullopt);
  (void)b.step("tim b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_EQ(ok(b.supply_secret(std::nullopt)),
            failure(FailureReason::rejected, "invalid credentials"));
}

TEST(CramMd5Server, RefusesInitialResponseAndBadChallenge) {
  CramMd5Server a{std::string(kRfc2195Challenge)};
  EXPECT_EQ(ok(a.start("")),
            failure(FailureReason::malformed, "CRAM-MD5 takes no initial response"));
  CramMd5Server b{"no-angle-brackets"};
  EXPECT_EQ(b.start(std::nullopt).error(), Misuse::bad_challenge);
  EXPECT_EQ(b.phase(), Phase::idle);
}

TEST(CramMd5Server, MalformedResponseFails) {
  CramMd5Server s{std::string(kRfc2195Challenge)};
  (void)s.start(std::nullopt);
  EXPECT_EQ(ok(s.step("tim")), failure(FailureReason::malformed, "CRAM-MD5 response has no space"));
}

// ---- XOAUTH2 ----

TEST(Xoauth2Server, SuccessWithInitialResponse) {
  Xoauth2Server s;
  EXPECT_EQ(ok(s.start("user=someuser@example.com\x01"
                       "auth=Bearer ya29.abc\x01\x01")),
            bearer_step("someuser@example.com", "ya29.abc", "", std::nullopt));
  EXPECT_EQ(ok(s.verified(true)), Step{Success{}});
}

TEST(Xoauth2Server, RejectedTokenSendsJsonThenFails) {
  Xoauth2Server s({}, OAuthErrorInfo{"https://mail.google.com/", "ignored"});
  EXPECT_EQ(ok(s.start(std::nullopt)), challenge(""));
  EXPECT_TRUE(
      std::holds_alternative<Verify>(ok(s.step("user=u\x01"
                                               "auth=Bearer t\x01\x01"))));
  EXPECT_EQ(ok(s.verified(false)),
            challenge(R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})"));
  EXPECT_EQ(ok(s.step("")), failure(FailureReason::rejected, "invalid token"));
}

TEST(Xoauth2Server, NonEmptyAnswerToErrorIsMalformed) {
  Xoauth2Server s;
  (void)s.start(
      "user=u\x01"
      "auth=Bearer t\x01\x01");
  EXPECT_EQ(ok(s.verified(false)), challenge(R"({"status":"401","schemes":"bearer"})"));
  EXPECT_EQ(ok(s.step("x")),
            failure(FailureReason::malformed, "unexpected answer to the error challenge"));
}

// ---- OAUTHBEARER (RFC 7628 §4) ----

TEST(OauthBearerServer, Rfc7628Section41Success) {
  OauthBearerServer s;
  auto ir = base64_decode(
      "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZG"
      "OWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB",
      1000);
  ASSERT_TRUE(ir);
  EXPECT_EQ(ok(s.start(*ir)),
            bearer_step("user@example.com",
                        "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143));
  EXPECT_EQ(ok(s.verified(true)), Step{Success{}});
}

TEST(OauthBearerServer, Rfc7628Section43Failure) {
  OauthBearerServer s(
      {}, OAuthErrorInfo{"example_scope", "https://example.com/.well-known/openid-configuration"});
  auto ir = base64_decode(
      "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZG"
      "OWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB",
      1000);
  ASSERT_TRUE(ir);
  const Step verify = ok(s.start(*ir));
  ASSERT_TRUE(std::holds_alternative<Verify>(verify));
  EXPECT_EQ(std::get<BearerCredentials>(std::get<Verify>(verify).credentials).port, 587);
  const Step error = ok(s.verified(false));
  ASSERT_TRUE(std::holds_alternative<Challenge>(error));
  EXPECT_EQ(
      base64_encode(std::get<Challenge>(error).bytes),
      "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRp"
      "b24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=");
  auto ack = base64_decode("AQ==", 10);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ok(s.step(*ack)), failure(FailureReason::rejected, "invalid token"));
}

TEST(OauthBearerServer, MinimalErrorJsonAndBadAck) {
  OauthBearerServer s;
  (void)s.start(
      "n,,\x01"
      "auth=Bearer t\x01\x01");
  EXPECT_EQ(ok(s.verified(false)), challenge(R"({"status":"invalid_token"})"));
  EXPECT_EQ(ok(s.step("")),
            failure(FailureReason::malformed, "unexpected answer to the error challenge"));
}

TEST(OauthBearerServer, CancelDuringErrorDance) {
  OauthBearerServer s;
  (void)s.start(
      "n,,\x01"
      "auth=Bearer t\x01\x01");
  (void)s.verified(false);
  EXPECT_EQ(ok(s.cancel()), failure(FailureReason::cancelled, "client cancelled the exchange"));
}

TEST(OauthBearerServer, MalformedFails) {
  OauthBearerServer s;
  EXPECT_EQ(ok(s.start("n,,\x01\x01")), failure(FailureReason::malformed, "auth is missing"));
}

// ---- the factory and the wrapper ----

TEST(Server, FactoryIsCaseInsensitive) {
  for (const auto* name : {"plain", "PLAIN", "Login", "cram-md5", "XOAuth2", "oauthBEARER"}) {
    EXPECT_TRUE(make_server(name, {})) << name;
  }
  auto unknown = make_server("SCRAM-SHA-256", {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), (Error{0, "unsupported SASL mechanism"}));
  EXPECT_FALSE(make_server("", {}));
  EXPECT_EQ(make_server("cram-md5", {})->mechanism(), Mechanism::cram_md5);
}

TEST(Server, SupportedNames) {
  std::vector<std::string_view> names;
  for (const Mechanism m : supported_mechanisms()) names.push_back(mechanism_name(m));
  EXPECT_EQ(names, (std::vector<std::string_view>{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2",
                                                  "OAUTHBEARER"}));
  const auto listed = supported_mechanism_names();
  EXPECT_EQ(std::vector<std::string_view>(listed.begin(), listed.end()), names);
  EXPECT_EQ(parse_mechanism("oauthbearer"), Mechanism::oauthbearer);
  EXPECT_EQ(parse_mechanism("PLAIN "), std::nullopt);
}

TEST(Server, WrapperFeedsWireLines) {
  ServerConfig config;
  config.cram_md5_challenge = std::string(kRfc2195Challenge);
  Server s(Mechanism::cram_md5, config);
  EXPECT_EQ(ok(s.start(std::nullopt)), challenge(std::string(kRfc2195Challenge)));
  auto line = decode_client_line("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
                                 LinePosition::continuation, 100);
  ASSERT_TRUE(line);
  EXPECT_EQ(ok(s.feed(*line)), secret_step("tim"));
  EXPECT_EQ(ok(s.supply_secret("tanstaaftanstaaf")), Step{Success{}});
  EXPECT_TRUE(s.is_finished());

  Server p(Mechanism::plain, config);
  (void)p.start(std::nullopt);
  EXPECT_EQ(ok(p.feed(Cancel{})),
            failure(FailureReason::cancelled, "client cancelled the exchange"));
  EXPECT_EQ(p.feed(Cancel{}).error(), Misuse::finished);
}

}  // namespace
}  // namespace tern::protocol::sasl
