// adapters/sim/world_setup.hpp — what a seed draws before the world runs (internal to
// adapters/sim/world.cpp): the swarm profile, the engine's TOML, the workload.
//
// Contract: every function is a pure function of its Prng (a child stream of the seed) and
// its arguments; none fails. The TOML loads through config/ (world.cpp reports it when not).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adapters/sim/sim_io.hpp"
#include "adapters/sim/world_actors.hpp"

namespace tern::adapters::sim::world {

struct Profile {
  SimFaults io;                        // SimIo's own faults (part A), off when swarm is off
  std::vector<std::int64_t> crash_ms;  // virtual instants of engine crashes
  std::uint32_t fsync_burst = 0;       // per million steps: fail the next 1..3 fsyncs
  std::uint32_t disk_squeeze = 0;      // per million steps: the disk is full for a while
  std::uint32_t endpoint_fault = 0;    // per million steps: a remote refuses or blackholes
  bool dns_servfail = false;           // flaky.example's MX query fails until healed
  bool dns_timeout = false;            // ... or times out
  RemoteScript remote;
  std::string describe() const;
};

inline constexpr std::int64_t kFaultPhaseMs = 10 * 60 * 1000;
inline constexpr std::int64_t kWorkloadSpanMs = 8 * 60 * 1000;
inline constexpr std::size_t kUsers = 6;

Profile draw_profile(Prng prng, bool swarm);
std::string engine_toml();
std::vector<ClientPlan> draw_workload(Prng prng, Ledger& ledger, std::size_t messages);

}  // namespace tern::adapters::sim::world
