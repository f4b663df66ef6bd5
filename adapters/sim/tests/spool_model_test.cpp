// The spool log against a model, on SimDisk (runtime/spool/log_spool.hpp): random commits
// (bodies in the log and in body/), envelope updates and removals, failing fdatasyncs and
// crashes at random points, with segments small enough that every run rotates, relocates
// and deletes them. After each crash, what the restarted spool lists must agree with what
// its callbacks said: every acknowledged message is there with its body and an envelope
// no older than the last acknowledged one; nothing whose commit failed or whose removal
// was acknowledged comes back; nothing unknown appears.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"
#include "runtime/buggify.hpp"

namespace tern::adapters::sim {
namespace {

using runtime::IoStatus;

struct Truth {
  std::string body;
  std::vector<std::string> envelopes;  // every envelope written, in order
  std::size_t acked = 0;               // index of the newest acknowledged one
  bool commit_acked = false;
  bool commit_failed = false;
  bool remove_acked = false;
  bool remove_written = false;
};

std::string check_after_crash(SimIo& io, std::map<std::string, Truth>& truth) {
  auto list = io.spool_list();
  if (!list) return "spool_list failed: " + list.error().detail;
  std::set<std::string> listed;
  for (const auto& entry : *list) {
    listed.insert(entry.id);
    const auto it = truth.find(entry.id);
    if (it == truth.end()) return "unknown message " + entry.id + " came back";
    Truth& t = it->second;
    if (t.commit_failed) return entry.id + ": its commit failed, yet it came back";
    if (t.remove_acked) return entry.id + ": its removal was acknowledged, yet it came back";
    const auto& envs = t.envelopes;
    std::size_t found = envs.size();
    for (std::size_t i = 0; i < envs.size(); ++i)
      if (envs[i] == entry.envelope) found = i;
    if (found == envs.size()) return entry.id + ": an envelope never written: " + entry.envelope;
    if (t.commit_acked && found < t.acked)
      return entry.id + ": envelope " + std::to_string(found) + " is older than the acknowledged " +
             std::to_string(t.acked);
    auto body = io.spool_read_body(entry.id);
    if (!body || *body != t.body) return entry.id + ": the body changed";
    // What the restarted spool holds is now the truth the engine goes on from.
    t.commit_acked = true;
    t.remove_written = false;  // a removal in flight died with the process
    t.acked = found;
    t.envelopes.resize(found + 1);
  }
  for (auto it = truth.begin(); it != truth.end();) {
    const Truth& t = it->second;
    const bool must = t.commit_acked && !t.remove_acked && !t.remove_written;
    if (must && listed.count(it->first) == 0) return it->first + ": acknowledged, then lost";
    it = listed.count(it->first) == 0 ? truth.erase(it) : std::next(it);
  }
  return "";
}

std::string run_model(std::uint64_t seed) {
  SimIo io(seed);
  Prng prng(seed * 7919 + 1);
  std::map<std::string, Truth> truth;
  std::uint64_t next = 0;
  if (auto listed = io.spool_list(); !listed) return "first spool_list failed";
  for (int step = 0; step < 400; ++step) {
    const std::uint64_t op = prng.below(100);
    if (op < 35) {  // commit
      const std::string id = "M" + std::to_string(++next);
      const std::size_t size = prng.below(4) == 0 ? 20'000 + prng.below(30'000) : prng.below(3'000);
      Truth t;
      t.body = std::string(size, static_cast<char>('a' + prng.below(26)));
      t.envelopes.push_back("env " + id + " 0");
      auto writer = io.spool_create(id);
      if (!writer) return "spool_create failed: " + writer.error().detail;
      const IoStatus appended = io.spool_append(*writer, {t.body.data(), t.body.size()});
      truth[id] = t;
      if (!appended.ok()) {
        io.spool_discard(*writer);
        truth.erase(id);
        continue;
      }
      io.spool_commit(*writer, t.envelopes.back(), [&truth, id](IoStatus s) {
        auto it = truth.find(id);
        if (it == truth.end()) return;
        (s.ok() ? it->second.commit_acked : it->second.commit_failed) = true;
      });
    } else if (op < 80) {  // update (35..59) or remove (60..79) a live message
      std::vector<std::string> live;
      for (const auto& [id, t] : truth)
        if (t.commit_acked && !t.remove_written) live.push_back(id);
      if (live.empty()) continue;
      const std::string id = live[prng.below(live.size())];
      Truth& t = truth[id];
      if (op < 60) {
        t.envelopes.push_back("env " + id + " " + std::to_string(t.envelopes.size()));
        const std::size_t index = t.envelopes.size() - 1;
        io.spool_update_envelope(id, t.envelopes.back(), [&truth, id, index](IoStatus s) {
          auto it = truth.find(id);
          if (it != truth.end() && s.ok()) it->second.acked = std::max(it->second.acked, index);
        });
      } else {
        t.remove_written = true;
        io.spool_remove(id, [&truth, id](IoStatus s) {
          auto it = truth.find(id);
          if (it == truth.end()) return;
          if (s.ok())
            it->second.remove_acked = true;
          else
            it->second.remove_written = false;  // still live: may be removed again
        });
      }
    } else if (op < 84) {
      io.fail_next_fsyncs(1 + static_cast<int>(prng.below(2)));
    } else if (op < 87) {
      io.run_for(runtime::Duration::milliseconds(static_cast<std::int64_t>(prng.below(5))));
      io.crash();
      if (auto error = check_after_crash(io, truth); !error.empty())
        return "seed " + std::to_string(seed) + ", step " + std::to_string(step) + ": " + error;
      continue;
    }
    io.run_for(runtime::Duration::milliseconds(static_cast<std::int64_t>(prng.below(30))));
  }
  io.fail_next_fsyncs(0);
  io.run_for(runtime::Duration::seconds(1));
  io.crash();
  if (auto error = check_after_crash(io, truth); !error.empty())
    return "seed " + std::to_string(seed) + ", at the end: " + error;
  return "";
}

TEST(SpoolModel, CrashesAndFailedSyncsNeverLoseOrResurrect) {
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    const std::string error = run_model(seed);
    ASSERT_EQ(error, "");
  }
}

// The model must catch a broken spool: one that calls its records durable without syncing
// them (the fault site spool.skip-fdatasync) loses acknowledged messages at a crash.
TEST(SpoolModel, CatchesASpoolThatSkipsItsFdatasync) {
  if (!runtime::buggify::enable(runtime::buggify::Site::spool_skip_sync))
    GTEST_SKIP() << "fault sites are off in this build";
  int caught = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) caught += run_model(seed).empty() ? 0 : 1;
  runtime::buggify::disable_all();
  EXPECT_GE(caught, 15);
}

}  // namespace
}  // namespace tern::adapters::sim
