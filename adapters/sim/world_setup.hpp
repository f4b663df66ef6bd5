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
  // The engine's directory (world.directory stream): memory is the world's own; smtp, lmtp
  // and imap ask a DirectoryServer at kDirectoryIp over STARTTLS (or in clear).
  DirectoryKind directory = DirectoryKind::memory;
  bool directory_starttls = true;
  std::int64_t directory_timeout_s = 15;
  std::uint32_t directory_pool = 10;
  std::uint32_t directory_limits_rcpt = 10;
  bool directory_cache_short = false;  // cache.ttl.positive = 1s: AUTH reaches the server
  DirectoryScript directory_script;
  std::uint32_t directory_outage = 0;  // per million steps: the directory is down a while
  std::uint32_t client_tls_fail = 0;   // per client that does STARTTLS: the handshake fails
  std::string describe() const;
};

inline constexpr std::string_view kDirectoryIp = "192.0.2.70";
std::uint16_t directory_port(DirectoryKind kind);

inline constexpr std::int64_t kFaultPhaseMs = std::int64_t{10} * 60 * 1000;
inline constexpr std::int64_t kWorkloadSpanMs = std::int64_t{8} * 60 * 1000;
inline constexpr std::size_t kUsers = 6;

Profile draw_profile(Prng prng, bool swarm);
std::string engine_toml(const Profile& profile);
std::vector<ClientPlan> draw_workload(Prng prng, Ledger& ledger, std::size_t messages);
// What each client does beyond its messages (STARTTLS, BDAT, its login, a failed handshake),
// from its own stream so that the workload's draws stay as they were. An imap directory
// cannot tell unknown users: their RCPT is then accepted (the truth says so).
void draw_variety(Prng prng, const Profile& profile, std::vector<ClientPlan>& plans);

}  // namespace tern::adapters::sim::world
