#include "runtime/spool_format.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace tern::runtime {
namespace {

SpoolEnvelope sample() {
  SpoolEnvelope e;
  e.id = "0123456789ABCDEF";
  e.received_unix = 1795262645;
  e.sender = "zed@remote.example";
  e.sender_params = "BODY=8BITMIME RET=HDRS";
  e.listener = "smtp";
  e.remote_ip = "192.0.2.1";
  e.local_ip = "127.0.0.1";
  e.helo = "client.example";
  e.authenticated_as = "";
  e.body_bytes = 42;
  SpoolRecipient r;
  r.address = "\"with space\"@example.org";
  r.params = "NOTIFY=FAILURE ORCPT=rfc822;x@y";
  r.account = "ann";
  r.state = RecipientState::pending;
  r.next_attempt_unix = 5;
  r.attempts = 2;
  r.last_reply = "451 4.3.0 100% full\r\nsecond";
  e.recipients.push_back(r);
  r.address = "-";
  r.state = RecipientState::delivered;
  r.dsn_sent = true;
  e.recipients.push_back(r);
  return e;
}

TEST(SpoolFormat, KnownText) {
  EXPECT_EQ(serialize_envelope(sample()),
            "tern-envelope 1\n"
            "id 0123456789ABCDEF\n"
            "received 1795262645\n"
            "from zed@remote.example\n"
            "from-params BODY=8BITMIME%20RET=HDRS\n"
            "listener smtp\n"
            "remote-ip 192.0.2.1\n"
            "local-ip 127.0.0.1\n"
            "helo client.example\n"
            "auth -\n"
            "body-bytes 42\n"
            "rcpt \"with%20space\"@example.org pending 5 2 0 ann NOTIFY=FAILURE%20ORCPT=rfc822;x@y "
            "451%204.3.0%20100%25%20full%0D%0Asecond\n"
            "rcpt %2D delivered 5 2 1 ann NOTIFY=FAILURE%20ORCPT=rfc822;x@y "
            "451%204.3.0%20100%25%20full%0D%0Asecond\n"
            "end\n");
}

TEST(SpoolFormat, QueueIdsAreSixteenHexDigits) {
  EXPECT_EQ(queue_id_from(0), "0000000000000000");
  EXPECT_EQ(queue_id_from(0x0123456789ABCDEFull), "0123456789ABCDEF");
  EXPECT_EQ(queue_id_from(~0ull), "FFFFFFFFFFFFFFFF");
}

TEST(SpoolFormat, RoundTripsTheSample) {
  const auto parsed = parse_envelope(serialize_envelope(sample()));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(*parsed, sample());
}

TEST(SpoolFormat, RefusesWhatItCannotReadExactly) {
  const std::string good = serialize_envelope(sample());
  const std::pair<std::string, std::string> cases[] = {
      {"tern-envelope 2\nend\n", "not a tern-envelope 1 file"},
      {"tern-envelope 1\nid x\nreceived 1\nfrom -\n", "missing 'end'"},
      {"tern-envelope 1\nid x\nreceived 1\nend\n", "missing id, received or from"},
      {"tern-envelope 1\nid x\nreceived one\nfrom -\nend\n", "malformed number in 'received'"},
      {"tern-envelope 1\ncolour red\nend\n", "unknown key 'colour'"},
      {"tern-envelope 1\nid %4\nend\n", "malformed escape in 'id'"},
      {"tern-envelope 1\nid x y\nend\n", "a 'id' line has one field"},
      {"tern-envelope 1\nrcpt a bounced 0 0 0 - - -\nend\n", "unknown recipient state 'bounced'"},
      {"tern-envelope 1\nrcpt a pending 0 0 2 - - -\nend\n", "dsn-sent must be 0 or 1"},
      {"tern-envelope 1\nrcpt a pending 0 0 0 - -\nend\n", "a 'rcpt' line has 8 fields"},
      {good + "x", "bytes after 'end'"},
      {"tern-envelope 1\nid x", "unterminated line"},
  };
  for (const auto& [text, message] : cases) {
    const auto parsed = parse_envelope(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().message, message) << text;
  }
}

TEST(SpoolFormat, LimitsAtNAndNPlusOne) {
  auto e = sample();
  EnvelopeLimits limits;
  limits.recipients_max = 2;
  EXPECT_TRUE(parse_envelope(serialize_envelope(e), limits).has_value());
  limits.recipients_max = 1;
  EXPECT_EQ(parse_envelope(serialize_envelope(e), limits).error().message, "too many recipients");
  const auto text = serialize_envelope(e);
  limits = {};
  limits.envelope_bytes_max = text.size();
  EXPECT_TRUE(parse_envelope(text, limits).has_value());
  limits.envelope_bytes_max = text.size() - 1;
  EXPECT_EQ(parse_envelope(text, limits).error().message, "envelope too large");
}

TEST(SpoolFormat, HistoryLinesBelongToTheirRecipientAndAreBounded) {
  SpoolEnvelope e;
  e.id = "ABC";
  e.held = true;
  e.delay_notices_sent = 1;
  SpoolRecipient r;
  r.address = "a@x.org";
  r.route = "mx x.org";
  r.success_notice = SuccessNotice::relayed;
  r.history.push_back(
      AttemptRecord{1700000000, "mx x.org", "mx1.x.org 192.0.2.7:25", "451 4.7.1 try later"});
  e.recipients.push_back(r);
  const std::string text = serialize_envelope(e);
  EXPECT_NE(text.find("held 1\n"), std::string::npos);
  EXPECT_NE(text.find("delay-notices 1\n"), std::string::npos);
  EXPECT_NE(text.find("route mx%20x.org\n"), std::string::npos);
  EXPECT_NE(text.find("notice relayed\n"), std::string::npos);
  EXPECT_NE(
      text.find(
          "attempt 1700000000 mx%20x.org mx1.x.org%20192.0.2.7:25 451%204.7.1%20try%20later\n"),
      std::string::npos);
  EXPECT_EQ(*parse_envelope(text), e);
  // An attempt line before any rcpt line belongs to nobody.
  std::string orphan = text;
  orphan.insert(orphan.find("rcpt "), "attempt 1 - - -\n");
  EXPECT_EQ(parse_envelope(orphan).error().message, "'attempt' before any 'rcpt'");
  // kAttemptHistoryMax attempt lines are kept; one more is refused.
  e.recipients[0].history.assign(kAttemptHistoryMax, e.recipients[0].history[0]);
  const std::string full = serialize_envelope(e);
  EXPECT_TRUE(parse_envelope(full).has_value());
  std::string over = full;
  over.insert(over.find("end\n"), "attempt 1 - - -\n");
  EXPECT_EQ(parse_envelope(over).error().message, "too many 'attempt' lines");
  std::string bad_notice = text;
  bad_notice.replace(bad_notice.find("notice relayed"), 14, "notice bounced");
  EXPECT_EQ(parse_envelope(bad_notice).error().message, "unknown notice 'bounced'");
}

RC_GTEST_PROP(SpoolFormatProps, ParseOfSerializeIsIdentity, ()) {
  SpoolEnvelope e;
  e.id = *rc::gen::arbitrary<std::string>();
  e.received_unix = *rc::gen::arbitrary<std::int64_t>();
  e.sender = *rc::gen::arbitrary<std::string>();
  e.sender_params = *rc::gen::arbitrary<std::string>();
  e.helo = *rc::gen::arbitrary<std::string>();
  e.authenticated_as = *rc::gen::arbitrary<std::string>();
  e.body_bytes = *rc::gen::arbitrary<std::uint64_t>();
  e.held = *rc::gen::arbitrary<bool>();
  e.delay_notices_sent = *rc::gen::arbitrary<std::uint32_t>();
  const auto count = *rc::gen::inRange(0, 5);
  for (int i = 0; i < count; ++i) {
    SpoolRecipient r;
    r.address = *rc::gen::arbitrary<std::string>();
    r.params = *rc::gen::arbitrary<std::string>();
    r.account = *rc::gen::arbitrary<std::string>();
    r.state = *rc::gen::element(RecipientState::pending, RecipientState::delivered,
                                RecipientState::failed);
    r.next_attempt_unix = *rc::gen::arbitrary<std::int64_t>();
    r.attempts = *rc::gen::arbitrary<std::uint32_t>();
    r.last_reply = *rc::gen::arbitrary<std::string>();
    r.dsn_sent = *rc::gen::arbitrary<bool>();
    r.success_notice =
        *rc::gen::element(SuccessNotice::none, SuccessNotice::delivered, SuccessNotice::relayed);
    r.route = *rc::gen::arbitrary<std::string>();
    const auto attempts = *rc::gen::inRange<std::size_t>(0, kAttemptHistoryMax + 1);
    for (std::size_t k = 0; k < attempts; ++k) {
      r.history.push_back(
          AttemptRecord{*rc::gen::arbitrary<std::int64_t>(), *rc::gen::arbitrary<std::string>(),
                        *rc::gen::arbitrary<std::string>(), *rc::gen::arbitrary<std::string>()});
    }
    e.recipients.push_back(r);
  }
  const auto parsed = parse_envelope(serialize_envelope(e));
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(*parsed == e);
}

}  // namespace
}  // namespace tern::runtime
