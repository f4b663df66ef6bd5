// The authentication examples of RFC 9051 §6.2.2 and §6.2.3, verbatim. The client lines
// (C:) are fed to our server and the server lines (S:) to our client; where the RFC's
// words are free text ("Success (tls protection)") our server says its own, so those
// lines are compared by tag and status only. The GSSAPI example is not replayed: Tern has
// no GSSAPI; EXTERNAL is refused as an unsupported mechanism.
#include <gtest/gtest.h>

#include "protocol/imap/client_session.hpp"
#include "protocol/imap/tests/harness.hpp"

namespace tern::protocol::imap {
namespace {

using testing::ClientHarness;
using testing::ServerHarness;
using Lines = std::vector<std::string>;

// "test" / "test" / "test" is what dGVzdAB0ZXN0AHRlc3Q= carries (authzid, authcid, password).
ServerDecision accept_test_test(const VerifyEvent& e) {
  const auto* p = std::get_if<sasl::PasswordCredentials>(&e.credentials);
  return Verified{p != nullptr && p->authzid == "test" && p->authcid == "test" &&
                  p->password == "test"};
}

ServerConfig after_tls() {
  ServerConfig c;
  c.tls_active = true;
  return c;
}

std::string tag_and_status(const std::string& line) {
  const auto first = line.find(' ');
  const auto second = line.find(' ', first + 1);
  return line.substr(0, second);
}

// RFC 9051 §6.2.2, second example: the initial response on the AUTHENTICATE line.
//   C: A03 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=
//   S: A03 OK Success (tls protection)
TEST(Rfc9051Examples, ServerTakesTheInitialResponse) {
  ServerHarness h(after_tls());
  h.policy = accept_test_test;
  h.run("A03 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
  const Lines lines = h.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(tag_and_status(lines[1]), "A03 OK");
  EXPECT_TRUE(h.session.authenticated());
}

// RFC 9051 §6.2.2, third example: the same without the initial response.
//   C: A01 AUTHENTICATE PLAIN
//   S: +          (a space follows the "+")
//   C: dGVzdAB0ZXN0AHRlc3Q=
//   S: A01 OK Success (tls protection)
TEST(Rfc9051Examples, ServerAsksWithAnEmptyContinuation) {
  ServerHarness h(after_tls());
  h.policy = accept_test_test;
  h.run("A01 AUTHENTICATE PLAIN\r\n");
  EXPECT_EQ(h.lines().back(), "+ ");
  h.run("dGVzdAB0ZXN0AHRlc3Q=\r\n");
  EXPECT_EQ(tag_and_status(h.lines().back()), "A01 OK");
}

// RFC 9051 §6.2.2, fourth example: "=" is a present but empty initial response. Tern
// offers no EXTERNAL, so the mechanism is refused, with the tag kept.
TEST(Rfc9051Examples, EmptyInitialResponseForAnUnofferedMechanism) {
  ServerHarness h(after_tls());
  h.run("A01 AUTHENTICATE EXTERNAL =\r\n");
  EXPECT_EQ(tag_and_status(h.lines().back()), "A01 NO");
}

// RFC 9051 §6.2.2: invalid base64 ("=AAA", "AAA=BBB") is rejected with a tagged BAD.
TEST(Rfc9051Examples, InvalidBase64IsBad) {
  ServerHarness h(after_tls());
  h.run("A1 AUTHENTICATE PLAIN =AAA\r\nA2 AUTHENTICATE PLAIN\r\nAAA=BBB\r\n");
  const Lines lines = h.lines();
  EXPECT_EQ(tag_and_status(lines[1]), "A1 BAD");
  EXPECT_EQ(lines[2], "+ ");
  EXPECT_EQ(tag_and_status(lines[3]), "A2 BAD");
}

// RFC 9051 §6.2.3:
//   C: a001 LOGIN SMITH SESAME
//   S: a001 OK LOGIN completed
TEST(Rfc9051Examples, ServerLogin) {
  ServerHarness h(after_tls());
  h.policy = [](const VerifyEvent& e) -> ServerDecision {
    const auto& p = std::get<sasl::PasswordCredentials>(e.credentials);
    return Verified{p.authcid == "SMITH" && p.password == "SESAME"};
  };
  h.run("a001 LOGIN SMITH SESAME\r\n");
  EXPECT_EQ(tag_and_status(h.lines().back()), "a001 OK");
}

// The client side of §6.2.2's second example: after STARTTLS, with SASL-IR not offered
// (the example's server lists only AUTH=GSSAPI AUTH=PLAIN), our client uses the
// continuation form and finishes on the RFC's own OK line.
//   S: * OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED] Server ready
//   C: A01 STARTTLS
//   S: A01 OK STARTTLS completed
//   C: A02 CAPABILITY
//   S: * CAPABILITY IMAP4rev2 AUTH=GSSAPI AUTH=PLAIN
//   S: A02 OK CAPABILITY completed
TEST(Rfc9051Examples, ClientFollowsTheStartTlsExample) {
  ClientConfig config;
  config.starttls = TlsPolicy::required;
  ClientHarness h(config);
  AuthRequest request;
  request.mechanisms = {"PLAIN"};
  request.credentials.authzid = "test";
  request.credentials.username = "test";
  request.credentials.password = "test";
  ASSERT_FALSE(h.session.authenticate(request, h.now));
  h.run("* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED] Server ready\r\n");
  EXPECT_EQ(h.lines(), (Lines{"A0001 STARTTLS"}));
  h.run("A0001 OK STARTTLS completed\r\n");
  ASSERT_FALSE(h.session.on_tls_established(h.now));
  h.drain();
  EXPECT_EQ(h.lines().back(), "A0002 CAPABILITY");
  h.run("* CAPABILITY IMAP4rev2 AUTH=GSSAPI AUTH=PLAIN\r\nA0002 OK CAPABILITY completed\r\n");
  EXPECT_EQ(h.lines().back(), "A0003 AUTHENTICATE PLAIN");
  h.run("+ \r\n");
  EXPECT_EQ(h.lines().back(), "dGVzdAB0ZXN0AHRlc3Q=");
  h.run("A0003 OK Success (tls protection)\r\n");
  ASSERT_EQ(h.outcomes().size(), 1u);
  EXPECT_EQ(h.outcomes()[0].outcome, Outcome::accepted);
}

}  // namespace
}  // namespace tern::protocol::imap
