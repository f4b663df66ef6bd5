// The pure inbound stages (runtime/inbound/): what each answers at once, what it asks the
// directory, and how it reads the directory's answer. The engine test drives them through
// a session; here each rule stands alone.
#include <string>

#include <gtest/gtest.h>

#include "runtime/inbound/auth_lockout.hpp"
#include "runtime/inbound/mail.hpp"
#include "runtime/inbound/rcpt.hpp"
#include "runtime/inbound/replies.hpp"
#include "runtime/inbound/verify.hpp"

namespace tern::runtime::inbound {
namespace {

bool example_org(std::string_view domain) {
  return domain == "example.org";
}

TEST(VerifyStage, ALocalMailboxInEveryWrittenFormIsLookedUp) {
  for (const char* text : {"ann@example.org", "<ann@example.org>", "Ann Example <ann@example.org>",
                           "  ann@EXAMPLE.org  "}) {
    const auto plan = plan_verify(text, example_org);
    EXPECT_FALSE(plan.answer.has_value()) << text;
    EXPECT_FALSE(plan.lookup.empty()) << text;
  }
  EXPECT_EQ(plan_verify("<ann@example.org>", example_org).lookup, "ann@example.org");
}

TEST(VerifyStage, WhatIsNotALocalMailboxIsNotLookedUp) {
  for (const char* text : {"ann", "", "<>", "zed@remote.example", "ann@[192.0.2.1]", "a b@c"}) {
    const auto plan = plan_verify(text, example_org);
    ASSERT_TRUE(plan.answer.has_value()) << text;
    EXPECT_EQ(*plan.answer, replies::cannot_verify()) << text;
  }
}

TEST(VerifyStage, TheDirectorysAnswerIsTheReply) {
  using directory::RecipientStatus;
  EXPECT_EQ(verify_reply("ann@example.org", false, RecipientStatus::local),
            replies::mailbox_verified("ann@example.org"));
  EXPECT_EQ(verify_reply("ann@example.org", true, RecipientStatus::local).code, 250);
  EXPECT_EQ(verify_reply("x@example.org", false, RecipientStatus::unknown),
            replies::mailbox_unknown());
  EXPECT_EQ(verify_reply("x@example.org", false, RecipientStatus::unavailable),
            replies::directory_unavailable());
}

TEST(RcptStage, TheDirectorysAnswerIsTheVerdict) {
  const auto local =
      rcpt_answer(directory::RecipientOutcome{directory::RecipientStatus::local, "ann"});
  EXPECT_FALSE(local.refusal.has_value());
  EXPECT_EQ(local.account, "ann");
  EXPECT_EQ(rcpt_answer({directory::RecipientStatus::unknown, ""}).refusal,
            replies::mailbox_unknown());
  const auto down = rcpt_answer({directory::RecipientStatus::unavailable, ""});
  ASSERT_TRUE(down.refusal.has_value());
  EXPECT_EQ(down.refusal->code / 100, 4) << "a directory that cannot answer is never a 5xx";
}

TEST(MailStage, TheDirectorysAnswerIsTheVerdict) {
  EXPECT_EQ(mail_answer({directory::SenderStatus::allowed}), std::nullopt);
  EXPECT_EQ(mail_answer({directory::SenderStatus::not_owned}), replies::sender_not_owned());
  EXPECT_EQ(mail_answer({directory::SenderStatus::unavailable}), replies::directory_unavailable());
}

TEST(AuthLockout, LocksAtNFailuresPerAddressAndPerLogin) {
  using protocol::Duration;
  using protocol::Instant;
  AuthLockout lockout;
  const LockoutLimits limits{3, 5, Duration::minutes(10)};
  const Instant t0{0};
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(lockout.failed("192.0.2.1", "ann", t0, limits));
  EXPECT_EQ(lockout.locked("192.0.2.1", "bob", t0, limits), std::nullopt) << "N-1 failures";
  EXPECT_TRUE(lockout.failed("192.0.2.1", "ann", t0, limits)) << "the Nth locks (logged once)";
  EXPECT_EQ(lockout.locked("192.0.2.1", "bob", t0, limits), "address");
  EXPECT_EQ(lockout.locked("192.0.2.2", "bob", t0, limits), std::nullopt);
  EXPECT_EQ(lockout.locked("192.0.2.2", "ann", t0, limits), std::nullopt) << "ann has 3 of 5";
  EXPECT_FALSE(lockout.failed("192.0.2.2", "ANN", t0, limits));
  EXPECT_TRUE(lockout.failed("192.0.2.3", "Ann", t0, limits)) << "logins compare in any case";
  EXPECT_EQ(lockout.locked("192.0.2.9", "ann", t0, limits), "account");
  // The window: a count lasts `window` from its first failure.
  const Instant later = t0 + Duration::minutes(10);
  EXPECT_EQ(lockout.locked("192.0.2.1", "ann", later, limits), std::nullopt);
  EXPECT_FALSE(lockout.failed("192.0.2.1", "ann", later, limits)) << "a fresh count";
  // A limit of 0 never locks.
  const LockoutLimits off{0, 0, Duration::minutes(10)};
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(lockout.failed("192.0.2.5", "x", t0, off));
  EXPECT_EQ(lockout.locked("192.0.2.5", "x", t0, off), std::nullopt);
}

TEST(AuthLockout, MemoryIsBounded) {
  using protocol::Duration;
  using protocol::Instant;
  AuthLockout lockout(100);
  const LockoutLimits limits{2, 0, Duration::minutes(10)};
  EXPECT_FALSE(lockout.failed("10.0.0.0", "", Instant{0}, limits));
  EXPECT_TRUE(lockout.failed("10.0.0.0", "", Instant{0}, limits));
  for (int i = 1; i < 1000; ++i) {
    (void)lockout.failed("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "",
                         Instant{i}, limits);
  }
  EXPECT_EQ(lockout.locked("10.0.0.0", "", Instant{1000}, limits), std::nullopt)
      << "the oldest count was dropped to make room";
  EXPECT_EQ(lockout.locked("10.0.3.231", "", Instant{1000}, limits), std::nullopt);
}

}  // namespace
}  // namespace tern::runtime::inbound
