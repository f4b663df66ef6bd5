// adapters/sim/world.hpp — one whole simulated world around the real engine: client hosts
// submitting mail, remote SMTP/LMTP servers, DNS, a faulty disk and crashes of the engine,
// all drawn from one 64-bit seed, with the invariants of issue 8 checked at the end.
//
// Contract:
// - run_world(seed, options) builds a SimIo for `seed`, draws a swarm profile (which fault
//   kinds are on and at what rate), a workload, the remote servers' scripts, DNS and the
//   engine configuration (TOML through the daemon's own config path), then runs three
//   phases in virtual time: faults (workload, faults, crashes each followed by a restart
//   that recovers the spool), heal (faults off, remote servers accept, DNS answers) and
//   drain (bounded: the queue must be empty by kDrainBound). It never throws and never
//   touches a real clock, socket or file.
// - The same seed and options give the same report, trace hash included, on every run and
//   compiler (our own PRNG, integer arithmetic, ordered containers only).
// - WorldReport::ok is true when no invariant was violated; each violation is a line that
//   names the invariant, the message token ("SIMTOKEN-<seed>-<n>"), the recipient and what
//   went wrong. Invariants: (1) every message acknowledged with 250 is delivered to each
//   accepted recipient or reported failed in a DSN to its sender, exactly once (repeats
//   allowed only for messages with an attempt in flight at a crash, or whose remote 250
//   may have been lost with its connection); (2) nothing acknowledged is missing from the
//   durable spool while unfinished (checked when the 250 reaches the client and at every
//   crash), nothing refused and no unknown token is ever delivered; (3) each RCPT outcome
//   the client sees matches the world's truth, in order; (4) consecutive attempts of a
//   recipient are at least the retry step apart; (5) the queue drains after healing.
// - Beyond its messages a seed draws (each from its own child stream): the engine's
//   directory (half the swarm seeds: the world's own; the rest smtp, lmtp or imap, a
//   scripted DirectoryServer on the simulated network that stalls, slows, fails answers
//   with 4xx, fails STARTTLS, goes down a while); per client STARTTLS (always for
//   submission), a failed TLS handshake, BDAT with random chunk sizes. Invariant 3 also
//   holds that a 451 4.4.3 (directory unavailable) reaches a client only from a remote
//   directory, before the heal or within a minute after it.
// - options.trace keeps the event log lines in the report (they feed the trace hash
//   either way); options.messages bounds the workload (at least 1, at most 1000).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tern::adapters::sim {

struct WorldOptions {
  bool trace = false;         // keep the event log in WorldReport::trace
  std::size_t messages = 24;  // the scale: messages submitted per run (1..1000)
  bool swarm = true;          // false: no faults, no crashes (a calm world)
};

struct WorldStats {
  std::uint64_t sessions = 0;
  std::uint64_t messages = 0;   // messages in the workload
  std::uint64_t submitted = 0;  // messages whose body the client sent in full (every
                                // RCPT refused: no body)
  std::uint64_t acked = 0;      // ... and saw a 250 for
  std::uint64_t refused = 0;    // ... and saw a 4xx/5xx at the end of data
  std::uint64_t delivered = 0;  // (token, recipient) deliveries, maildir and remote sinks
  std::uint64_t bounced = 0;    // (token, recipient) failures reported in a DSN
  std::uint64_t crashes = 0;
  std::uint64_t starttls_clients = 0;  // client sessions that ask for STARTTLS
  std::uint64_t bdat_clients = 0;      // ... that send bodies with BDAT when offered
  std::int64_t virtual_ms = 0;         // virtual time at the end
  std::uint64_t events = 0;            // SimIo events run
};

struct WorldReport {
  std::uint64_t seed = 0;
  bool ok = true;
  std::vector<std::string> violations;
  std::uint64_t trace_hash = 0;
  WorldStats stats;
  std::string profile;                                // the swarm profile, one line
  std::map<std::string, std::uint64_t> fault_counts;  // SimIo's and the world's own
  std::vector<std::string> trace;                     // with WorldOptions::trace
  std::string summary() const;
};

[[nodiscard]] WorldReport run_world(std::uint64_t seed, const WorldOptions& options = {});

}  // namespace tern::adapters::sim
