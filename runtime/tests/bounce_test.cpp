#include "runtime/bounce.hpp"

#include <gtest/gtest.h>

namespace tern::runtime {
namespace {

SpoolEnvelope failed_envelope(std::string sender, std::string sender_params,
                              std::string rcpt_params) {
  SpoolEnvelope e;
  e.id = "0000000000000001";
  e.received_unix = 1795262645;
  e.sender = std::move(sender);
  e.sender_params = std::move(sender_params);
  e.authenticated_as = "ann";
  SpoolRecipient r;
  r.address = "gone@remote.example";
  r.params = std::move(rcpt_params);
  r.state = RecipientState::failed;
  r.last_reply = "550 5.1.1 no such user";
  e.recipients.push_back(r);
  return e;
}

const std::string kOriginal = "Subject: hello\r\n\r\nthe body\r\n";

std::optional<Bounce> bounce_of(const SpoolEnvelope& e, std::string& error) {
  return make_failure_bounce(e, kOriginal, {0}, "mx.example.org", "00000000000000B1", 1795262700,
                             error);
}

TEST(Bounce, GoesFromTheNullPathToTheSenderWithTheStatusOfTheLastReply) {
  std::string error;
  const auto b = bounce_of(failed_envelope("ann@example.org", "", ""), error);
  ASSERT_TRUE(b.has_value()) << error;
  EXPECT_EQ(b->envelope.id, "00000000000000B1");
  EXPECT_EQ(b->envelope.sender, "");
  ASSERT_EQ(b->envelope.recipients.size(), 1u);
  EXPECT_EQ(b->envelope.recipients[0].address, "ann@example.org");
  EXPECT_EQ(b->envelope.recipients[0].account, "ann");
  EXPECT_EQ(b->envelope.body_bytes, b->body.size());
  EXPECT_NE(b->body.find("Status: 5.1.1\r\n"), std::string::npos);
  EXPECT_NE(b->body.find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_EQ(b->body.find("the body"), std::string::npos) << "headers only by default";
}

TEST(Bounce, ItsMailParametersSayWhatItsContentNeeds) {
  std::string error;
  auto ascii = bounce_of(failed_envelope("ann@example.org", "", ""), error);
  ASSERT_TRUE(ascii.has_value()) << error;
  EXPECT_EQ(ascii->envelope.sender_params, "");
  // A UTF-8 sender is the DSN's recipient: SMTPUTF8 (RFC 6531), and 8-bit text inside.
  auto utf8 = bounce_of(failed_envelope("\xC3\xBCmlaut@example.org", "SMTPUTF8", ""), error);
  ASSERT_TRUE(utf8.has_value()) << error;
  EXPECT_EQ(utf8->envelope.sender_params, "BODY=8BITMIME SMTPUTF8");
}

TEST(Bounce, RetFullAndEnvidComeFromTheStoredMailParameters) {
  std::string error;
  const auto b = bounce_of(failed_envelope("ann@example.org", "RET=FULL ENVID=QQ+2B1", ""), error);
  ASSERT_TRUE(b.has_value()) << error;
  EXPECT_NE(b->body.find("Content-Type: message/rfc822"), std::string::npos);
  EXPECT_NE(b->body.find("the body"), std::string::npos);
  EXPECT_NE(b->body.find("Original-Envelope-Id: "), std::string::npos);
}

// Backscatter (issue 16): the sender of a message from a client that did not authenticate
// may be forged, so its DSN carries the headers only, even when RET=FULL asked for more.
TEST(Bounce, AnUnauthenticatedSenderGetsTheHeadersOnlyWhateverRetSays) {
  std::string error;
  auto original = failed_envelope("victim@evil.example", "RET=FULL", "");
  original.authenticated_as.clear();
  const auto b = bounce_of(original, error);
  ASSERT_TRUE(b.has_value()) << error;
  EXPECT_NE(b->body.find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_NE(b->body.find("Subject: hello"), std::string::npos);
  EXPECT_EQ(b->body.find("the body"), std::string::npos);
}

TEST(Bounce, NoneIsOwedToTheNullPathOrForNotifyNever) {
  std::string error = "stale";
  EXPECT_FALSE(bounce_of(failed_envelope("", "", ""), error).has_value());
  EXPECT_EQ(error, "");
  EXPECT_FALSE(bounce_of(failed_envelope("ann@example.org", "", "NOTIFY=NEVER"), error));
  EXPECT_EQ(error, "");
  EXPECT_TRUE(bounce_of(failed_envelope("ann@example.org", "", "NOTIFY=FAILURE"), error));
}

}  // namespace
}  // namespace tern::runtime
