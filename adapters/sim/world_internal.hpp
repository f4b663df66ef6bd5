// adapters/sim/world_internal.hpp — the simulated world's state, shared by its driving
// (world.cpp) and its invariant checks (world_invariants.cpp). Not part of the simulator's
// interface: tern-sim and the tests use world.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/sim/world.hpp"
#include "adapters/sim/world_actors.hpp"
#include "adapters/sim/world_setup.hpp"
#include "runtime/server.hpp"

namespace tern::adapters::sim::world {

inline constexpr std::int64_t kStepMs = 1000;             // the world looks around every second
inline constexpr std::int64_t kSampleMs = 60'000;         // spool sampled every virtual minute
inline constexpr std::int64_t kDrainBoundMs = 3'600'000;  // liveness bound after healing
inline constexpr std::int64_t kDirectoryHealSlackMs = 60'000;
inline constexpr std::int64_t kRetryStepsS[] = {60, 120,
                                                300};  // engine_toml's queue.schedule.retry

// Engine log lines go to the trace: they replay a failure in the engine's own words.
class TraceLog final : public runtime::LogSink {
 public:
  explicit TraceLog(Trace& trace) : trace_(trace) {}
  void log(runtime::LogLevel, std::string_view session, std::string_view message) override {
    trace_.add("engine " + std::string(session) + " " + std::string(message));
  }

 private:
  Trace& trace_;
};

struct AttemptKey {
  std::string id;
  std::string rcpt;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  auto operator<=>(const AttemptKey&) const = default;
};

class World {
 public:
  World(std::uint64_t seed, const WorldOptions& options);
  WorldReport run();

 private:
  void setup_dns();
  void setup_remotes();
  bool start_engine();
  void crash();
  void step(std::int64_t ms);
  void world_faults();
  void endpoint_down(std::size_t i, std::int64_t now);
  bool directory_may_fail() const;
  void heal();
  bool drained() const;
  void scan_maildirs();
  std::set<std::size_t> tokens_in_spool();
  std::optional<std::size_t> token_for(const std::string& id);
  void check_acked(std::size_t index);
  void check_durable(const std::string& when);
  void sample_spool();
  void check_exactly_once();
  void check_schedule();
  void check_liveness();
  std::int64_t now_ms() const { return io_.now().ns / 1'000'000; }

  std::uint64_t seed_;
  WorldOptions options_;
  SimIo io_;
  Trace trace_{io_};
  TraceLog log_{trace_};
  Ledger ledger_;
  Prng root_;
  Prng faults_prng_;
  Profile profile_;
  std::shared_ptr<WorldDirectory> directory_;
  std::unique_ptr<runtime::Server> server_;
  std::vector<ClientPlan> plans_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<RemoteServer>> remotes_;
  std::unique_ptr<DirectoryServer> directory_server_;  // with a remote directory
  std::vector<std::string> accounts_;  // the Maildir accounts the engine may deliver to
  std::set<std::string> seen_files_;
  std::map<AttemptKey, std::set<std::tuple<std::int64_t, std::string, std::string>>> attempts_;
  std::map<std::string, std::size_t> token_of_id_;
  std::map<std::string, std::uint64_t> world_faults_;
  std::size_t crashes_done_ = 0;
  std::vector<std::int64_t> crash_wall_;  // wall seconds of each crash
  std::int64_t squeeze_until_ms_ = -1;
  std::map<std::size_t, std::int64_t> endpoint_restore_ms_;
  std::int64_t next_sample_ms_ = 0;
  bool engine_up_ = false;
  std::int64_t heal_ms_ = -1;
};

}  // namespace tern::adapters::sim::world
