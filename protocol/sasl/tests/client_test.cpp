#include "protocol/sasl/client.hpp"

#include <gtest/gtest.h>

#include "protocol/sasl/base64.hpp"

namespace tern::protocol::sasl {
namespace {

using namespace std::string_literals;

Client make(Mechanism m, ClientCredentials c) {
  auto r = Client::create(m, std::move(c));
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return std::move(r).value();
}

std::string answer(Client& c, std::string_view challenge) {
  auto r = c.respond(challenge);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : "";
}

TEST(PlainClient, Rfc4616Examples) {
  Client tim = make(Mechanism::plain, {.username = "tim", .password = "tanstaaftanstaaf"});
  EXPECT_EQ(tim.initial_response(), "\0tim\0tanstaaftanstaaf"s);
  EXPECT_EQ(tim.initial_response(), std::nullopt);
  EXPECT_FALSE(tim.respond(""));
  Client kurt =
      make(Mechanism::plain, {.authzid = "Ursel", .username = "Kurt", .password = "xipj3plmq"});
  EXPECT_EQ(answer(kurt, ""), "Ursel\0Kurt\0xipj3plmq"s);
  EXPECT_TRUE(kurt.is_finished());
  EXPECT_EQ(kurt.initial_response(), std::nullopt);
}

TEST(PlainClient, NonEmptyFirstChallengeIsAnError) {
  Client c = make(Mechanism::plain, {.username = "u", .password = "p"});
  auto r = c.respond("hello");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (Error{0, "first challenge is not empty"}));
  EXPECT_FALSE(c.respond(""));  // the client accepts nothing more
}

TEST(LoginClient, AnswersInOrder) {
  Client c = make(Mechanism::login, {.username = "tim", .password = "pw"});
  EXPECT_EQ(c.initial_response(), std::nullopt);
  EXPECT_EQ(answer(c, "Username:"), "tim");
  EXPECT_EQ(answer(c, "Password:"), "pw");
  EXPECT_TRUE(c.is_finished());
  EXPECT_EQ(c.respond("Password:").error(), (Error{0, "challenge after the exchange ended"}));
}

TEST(CramMd5Client, Rfc2195Example) {
  Client c = make(Mechanism::cram_md5, {.username = "tim", .password = "tanstaaftanstaaf"});
  EXPECT_EQ(c.initial_response(), std::nullopt);
  const std::string r = answer(c, "<1896.697170952@postoffice.reston.mci.net>");
  EXPECT_EQ(r, "tim b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_EQ(base64_encode(r), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
  EXPECT_FALSE(c.respond("<again@x>"));
}

TEST(CramMd5Client, EmptyOrOverlongChallengeIsAnError) {
  Client a = make(Mechanism::cram_md5, {.username = "tim", .password = "s"});
  EXPECT_EQ(a.respond("").error(), (Error{0, "CRAM-MD5 challenge is empty"}));
  Client b = make(Mechanism::cram_md5, {.username = "tim", .password = "s"});
  EXPECT_TRUE(b.respond(std::string(512, 'c')));
  Client c = make(Mechanism::cram_md5, {.username = "tim", .password = "s"});
  EXPECT_EQ(c.respond(std::string(513, 'c')).error(), (Error{0, "challenge is too long"}));
}

TEST(Xoauth2Client, GoogleExampleAndErrorDance) {
  Client c = make(Mechanism::xoauth2, {.username = "someuser@example.com",
                                       .token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"});
  auto ir = c.initial_response();
  ASSERT_TRUE(ir);
  EXPECT_EQ(base64_encode(*ir),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQm"
            "hkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
  EXPECT_EQ(answer(c, R"({"status":"401"})"), "");
  EXPECT_EQ(c.server_error(), R"({"status":"401"})");
  EXPECT_FALSE(c.respond(""));
}

TEST(OauthBearerClient, Rfc7628Section41) {
  Client c = make(Mechanism::oauthbearer, {.authzid = "user@example.com",
                                           .token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                                           .host = "server.example.com",
                                           .port = 143});
  auto ir = c.initial_response();
  ASSERT_TRUE(ir);
  EXPECT_EQ(base64_encode(*ir),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcm"
            "VyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
}

TEST(OauthBearerClient, Rfc7628Section43AnswersErrorWithCtrlA) {
  Client c = make(
      Mechanism::oauthbearer,
      {.authzid = "user@example.com", .token = "t", .host = "server.example.com", .port = 587});
  EXPECT_EQ(answer(c, ""),
            "n,a=user@example.com,\x01host=server.example.com\x01port=587\x01"
            "auth=Bearer t\x01\x01");
  auto json = base64_decode(
      "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRp"
      "b24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=",
      1000);
  ASSERT_TRUE(json);
  EXPECT_EQ(base64_encode(answer(c, *json)), "AQ==");
  EXPECT_EQ(
      c.server_error(),
      R"({"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"})");
  EXPECT_TRUE(c.is_finished());
}

TEST(Client, CreateChecksCredentials) {
  auto err = [](Mechanism m, ClientCredentials c) {
    auto r = Client::create(m, std::move(c));
    EXPECT_FALSE(r);
    return r ? "" : r.error().message;
  };
  EXPECT_EQ(err(Mechanism::plain, {.username = "", .password = "p"}), "username is empty");
  EXPECT_EQ(err(Mechanism::plain, {.username = "u", .password = ""}), "password is empty");
  EXPECT_EQ(err(Mechanism::plain, {.authzid = "a\0b"s, .username = "u", .password = "p"}),
            "authorization identity contains NUL");
  EXPECT_EQ(err(Mechanism::login, {.username = "u", .password = "p\0"s}), "password contains NUL");
  EXPECT_EQ(err(Mechanism::cram_md5, {.username = "", .password = "s"}), "username is empty");
  EXPECT_EQ(err(Mechanism::xoauth2, {.username = "a\x01"
                                                 "b",
                                     .token = "t"}),
            "user contains ^A");
  EXPECT_EQ(err(Mechanism::xoauth2, {.username = "u", .token = "bad token"}),
            "token is not a b64token");
  EXPECT_EQ(err(Mechanism::oauthbearer, {.token = "t", .host = "h\x01"}),
            "host contains a forbidden character");
  EXPECT_EQ(err(Mechanism::oauthbearer, {.token = ""}), "token is not a b64token");
  EXPECT_EQ(Client::create("NTLM", {}).error(), (Error{0, "unsupported SASL mechanism"}));
  EXPECT_EQ(Client::create("cram-MD5", {.username = "u", .password = "s"})->mechanism(),
            Mechanism::cram_md5);
}

TEST(Client, CreateLimitsAtNAndNPlusOne) {
  const Limits l;
  EXPECT_TRUE(
      Client::create(Mechanism::plain,
                     {.username = std::string(255, 'u'), .password = std::string(1024, 'p')}, l));
  EXPECT_FALSE(
      Client::create(Mechanism::plain, {.username = std::string(256, 'u'), .password = "p"}, l));
  EXPECT_FALSE(
      Client::create(Mechanism::plain, {.username = "u", .password = std::string(1025, 'p')}, l));
  EXPECT_TRUE(
      Client::create(Mechanism::xoauth2, {.username = "u", .token = std::string(4096, 't')}, l));
  EXPECT_FALSE(
      Client::create(Mechanism::xoauth2, {.username = "u", .token = std::string(4097, 't')}, l));
  EXPECT_TRUE(
      Client::create(Mechanism::oauthbearer, {.token = "t", .host = std::string(255, 'h')}, l));
  EXPECT_FALSE(
      Client::create(Mechanism::oauthbearer, {.token = "t", .host = std::string(256, 'h')}, l));
}

}  // namespace
}  // namespace tern::protocol::sasl
