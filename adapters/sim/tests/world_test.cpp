// The simulated world (adapters/sim/world.hpp): a fixed slice of seeds passes every
// invariant, the same seed gives the same trace hash, and the checker itself notices what
// it must notice. The broken-engine half is world_unsafe_test.cpp.
#include "adapters/sim/world.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "adapters/sim/world_actors.hpp"
#include "runtime/directory/imap_directory.hpp"
#include "runtime/directory/smtp_directory.hpp"

namespace tern::adapters::sim {
namespace {

constexpr std::uint64_t kSliceFirst = 1;
constexpr std::uint64_t kSliceLast = 500;

TEST(World, AFixedSliceOfSeedsPassesEveryInvariant) {
  std::uint64_t acked = 0, crashes = 0, starttls = 0, bdat = 0;
  std::map<std::string, std::uint64_t> directories, faults;
  for (std::uint64_t seed = kSliceFirst; seed <= kSliceLast; ++seed) {
    const auto report = run_world(seed, WorldOptions{});
    EXPECT_TRUE(report.ok) << report.summary() << "replay: tern-sim --seed " << seed << " --trace";
    acked += report.stats.acked;
    crashes += report.stats.crashes;
    starttls += report.stats.starttls_clients;
    bdat += report.stats.bdat_clients;
    for (const char* kind : {"directory=smtp", "directory=lmtp", "directory=imap"})
      directories[kind] += report.profile.find(kind) != std::string::npos;
    for (const auto& [name, count] : report.fault_counts) faults[name] += count;
  }
  // The slice exercises what it claims to: messages were acknowledged and engines crashed,
  // remote directories of each kind answered and failed, TLS and BDAT were used.
  EXPECT_GT(acked, 1000u);
  EXPECT_GT(crashes, 100u);
  EXPECT_GT(starttls, 1000u);
  EXPECT_GT(bdat, 500u);
  for (const auto& [kind, seeds] : directories) EXPECT_GT(seeds, 25u) << kind;
  for (const char* fault :
       {"dir.answer_4xx", "dir.stall", "dir.slow", "dir.tls_fail", "world.client_tls_fail"})
    EXPECT_GT(faults[fault], 10u) << fault;
}

TEST(World, TheSameSeedGivesTheSameTraceHash) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto first = run_world(seed, {});
    const auto second = run_world(seed, {});
    EXPECT_EQ(first.trace_hash, second.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.summary(), second.summary());
  }
  EXPECT_NE(run_world(1, {}).trace_hash, run_world(2, {}).trace_hash);
}

TEST(World, TheTraceIsKeptOnlyWhenAsked) {
  WorldOptions traced;
  traced.trace = true;
  const auto with = run_world(3, traced);
  const auto without = run_world(3, {});
  EXPECT_FALSE(with.trace.empty());
  EXPECT_TRUE(without.trace.empty());
  EXPECT_EQ(with.trace_hash, without.trace_hash);
  EXPECT_EQ(with.trace.front().substr(0, 22), "[1.000] world seed 3: ");
}

TEST(World, ACalmWorldDeliversEveryMessageOnce) {
  WorldOptions calm;
  calm.swarm = false;
  calm.messages = 40;
  const auto report = run_world(11, calm);
  ASSERT_TRUE(report.ok) << report.summary();
  EXPECT_EQ(report.stats.crashes, 0u);
  EXPECT_EQ(report.stats.messages, 40u);
  EXPECT_EQ(report.stats.submitted, 37u) << "3 messages had every RCPT refused: no DATA";
  EXPECT_EQ(report.stats.acked, 37u);
  EXPECT_EQ(report.stats.sessions, 19u);
  EXPECT_EQ(report.stats.refused, 0u);
  EXPECT_EQ(report.profile, "crashes=0");
  EXPECT_TRUE(report.fault_counts.empty());
}

TEST(World, TheScaleIsBoundedAtOneAndAThousand) {
  WorldOptions one;
  one.swarm = false;
  one.messages = 0;  // below the bound: one message
  EXPECT_EQ(run_world(5, one).stats.messages, 1u);
  one.messages = 1;
  EXPECT_EQ(run_world(5, one).stats.messages, 1u);
  one.messages = 2;
  EXPECT_EQ(run_world(5, one).stats.messages, 2u);
  one.messages = 1000;
  EXPECT_EQ(run_world(5, one).stats.messages, 1000u);
  one.messages = 1001;
  EXPECT_EQ(run_world(5, one).stats.messages, 1000u);
}

// ---- The checker itself (world_actors.hpp): it must be able to fail.

TEST(WorldLedger, AnUnknownTokenIsAViolation) {
  SimIo io(1);
  world::Trace trace(io);
  world::Ledger ledger(7, trace);
  ledger.add_message("a@far.example", {"u0@example.org"});
  ledger.observe("Subject: SIMTOKEN-7-1\r\n\r\nx\r\n", "u0@example.org", "test");
  ledger.observe("Subject: SIMTOKEN-8-0\r\n\r\nx\r\n", "u0@example.org", "test");
  ASSERT_EQ(ledger.violations.size(), 2u);
  EXPECT_EQ(ledger.violations[0].substr(0, 45), "inv2: a message with no known token was deliv");
}

TEST(WorldLedger, ARefusedMessageMustNeverBeDelivered) {
  SimIo io(1);
  world::Trace trace(io);
  world::Ledger ledger(7, trace);
  const auto index = ledger.add_message("a@far.example", {"u0@example.org"});
  ledger.message(index).fate = world::Fate::refused;
  ledger.observe("Subject: SIMTOKEN-7-0\r\n", "U0@example.org", "test");
  ASSERT_EQ(ledger.violations.size(), 1u);
  EXPECT_EQ(ledger.violations[0],
            "inv2: SIMTOKEN-7-0 was delivered to u0@example.org (test) but the client saw it "
            "refused");
}

TEST(WorldLedger, ADsnCountsOneBouncePerFailedRecipientForItsSender) {
  SimIo io(1);
  world::Trace trace(io);
  world::Ledger ledger(7, trace);
  const auto index = ledger.add_message("u1@example.org", {"x@a.example", "y@b.example"});
  ledger.message(index).fate = world::Fate::acked;
  ledger.message(index).accepted = {"x@a.example", "y@b.example"};
  const std::string dsn =
      "Content-Type: multipart/report\r\n\r\nFinal-Recipient: rfc822; x@a.example\r\n"
      "Action: failed\r\n\r\nFinal-Recipient: rfc822; y@b.example\r\nAction: delayed\r\n"
      "\r\nSubject: SIMTOKEN-7-0\r\n";
  ledger.observe(dsn, "u1@example.org", "test");
  EXPECT_TRUE(ledger.violations.empty());
  EXPECT_EQ(ledger.bounces.size(), 1u);
  EXPECT_EQ(ledger.bounces.count({index, "x@a.example"}), 1u);
  EXPECT_FALSE(ledger.finished(index)) << "y was only delayed";
  ledger.observe("Subject: SIMTOKEN-7-0\r\n", "y@b.example", "test");
  EXPECT_TRUE(ledger.finished(index));
  ledger.observe(dsn, "u2@example.org", "test");
  ASSERT_EQ(ledger.violations.size(), 1u) << "a DSN that reaches someone else";
}

// ---- The directory server (world_actors.hpp), through the engine's own remote directories.

struct DirectoryRig {
  explicit DirectoryRig(world::DirectoryKind kind, bool starttls = true)
      : server(io, trace, kind, runtime::Endpoint{"192.0.2.70", 25}, {}, Prng(9), 3) {
    settings.address = "192.0.2.70";
    settings.port = 25;
    settings.tls_implicit = false;
    settings.starttls = starttls;
    settings.lookup_domains = {"example.org"};
  }
  template <class Outcome>
  Outcome wait(std::optional<Outcome>& slot) {
    io.run_until([&] { return slot.has_value(); }, runtime::Duration::seconds(60));
    return slot.value_or(Outcome{});
  }
  SimIo io{1};
  world::Trace trace{io};
  world::DirectoryServer server;
  runtime::directory::RemoteDirectorySettings settings;
};

TEST(WorldDirectoryServer, AnswersProbesAndLoginsAsTheWorldsUsers) {
  namespace dir = runtime::directory;
  for (const bool starttls : {true, false}) {
    DirectoryRig rig(world::DirectoryKind::smtp, starttls);
    dir::SmtpDirectory directory(rig.io, rig.settings, dir::SmtpDirectoryMode::smtp);
    std::optional<dir::RecipientOutcome> known, unknown, past_users;
    directory.check_recipient("U2@example.org", [&](auto o) { known = o; });
    directory.check_recipient("nobody0@example.org", [&](auto o) { unknown = o; });
    directory.check_recipient("u3@example.org", [&](auto o) { past_users = o; });
    EXPECT_EQ(rig.wait(known).status, dir::RecipientStatus::local);
    EXPECT_EQ(known->principal, "u2@example.org");
    EXPECT_EQ(rig.wait(unknown).status, dir::RecipientStatus::unknown);
    EXPECT_EQ(rig.wait(past_users).status, dir::RecipientStatus::unknown) << "3 users: u0..u2";
    std::optional<dir::AuthOutcome> good, bad;
    directory.authenticate("u1@example.org", "pw-u1", [&](auto o) { good = o; });
    directory.authenticate("u1@example.org", "pw-u2", [&](auto o) { bad = o; });
    EXPECT_EQ(rig.wait(good).status, dir::AuthStatus::authenticated);
    EXPECT_EQ(rig.wait(bad).status, dir::AuthStatus::rejected);
  }
}

TEST(WorldDirectoryServer, ImapVerifiesLoginsAndADownServerIsUnavailable) {
  namespace dir = runtime::directory;
  DirectoryRig rig(world::DirectoryKind::imap);
  dir::ImapDirectory directory(rig.io, rig.settings);
  std::optional<dir::AuthOutcome> good, bad, down;
  directory.authenticate("u0@example.org", "pw-u0", [&](auto o) { good = o; });
  directory.authenticate("u0@example.org", "pw-u1", [&](auto o) { bad = o; });
  EXPECT_EQ(rig.wait(good).status, dir::AuthStatus::authenticated);
  EXPECT_EQ(rig.wait(bad).status, dir::AuthStatus::rejected);
  EXPECT_FALSE(rig.server.failing()) << "no script: it never fails";
  rig.server.refuse();
  EXPECT_TRUE(rig.server.failing());
  directory.authenticate("u2@example.org", "pw-u2", [&](auto o) { down = o; });
  EXPECT_EQ(rig.wait(down).status, dir::AuthStatus::unavailable);
  EXPECT_EQ(rig.server.connections(), 2u);
}

}  // namespace
}  // namespace tern::adapters::sim
