// tern-sim — runs simulated worlds (adapters/sim/world.hpp) from seeds.
//   tern-sim --seed N [--trace] [--messages M] [--calm]
//       one world: its summary, `trace hash: 0x...`, and with --trace the full event log;
//       exit 1 when an invariant was violated.
//   tern-sim --seeds A..B [--jobs J] [--messages M] [--calm]
//       every seed in [A, B] on J worker processes (each world is single-threaded and
//       independent); one line per failing seed with the command that replays it, then a
//       total; exit 1 when any seed failed. 64 on a usage error.
//   --fault-sites a,b (either form) switches on the engine's named fault sites
//       (runtime/buggify.hpp) to watch the invariants catch a broken engine; only builds
//       configured with TERN_BUGGIFY=ON (the asan preset) have them, others refuse.
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/sim/world.hpp"
#include "runtime/buggify.hpp"

namespace {

using tern::adapters::sim::run_world;
using tern::adapters::sim::WorldOptions;

constexpr int kUsage = 64;
constexpr unsigned kJobsMax = 256;

struct Args {
  std::optional<std::uint64_t> seed;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
  unsigned jobs = 1;
  std::string fault_sites;
  WorldOptions options;
};

std::optional<std::uint64_t> number(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "tern-sim: %s\nusage: tern-sim --seed N [--trace] [--messages M] [--calm]"
               " [--fault-sites A,B]\n"
               "       tern-sim --seeds A..B [--jobs J] [--messages M] [--calm]"
               " [--fault-sites A,B]\n",
               why);
  return kUsage;
}

std::optional<Args> parse(int argc, char** argv, const char*& why) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--trace") {
      args.options.trace = true;
    } else if (arg == "--calm") {
      args.options.swarm = false;
    } else if ((arg == "--seed" || arg == "--jobs" || arg == "--messages") && value) {
      const auto n = number(value);
      ++i;
      if (!n) return why = "not a number", std::nullopt;
      if (arg == "--seed") args.seed = *n;
      if (arg == "--jobs") args.jobs = static_cast<unsigned>(std::min<std::uint64_t>(*n, kJobsMax));
      if (arg == "--messages") args.options.messages = static_cast<std::size_t>(*n);
    } else if (arg == "--fault-sites" && value) {
      args.fault_sites = value;
      ++i;
    } else if (arg == "--seeds" && value) {
      const std::string_view text = value;
      ++i;
      const auto dots = text.find("..");
      const auto a = dots == std::string_view::npos ? number(text) : number(text.substr(0, dots));
      const auto b = dots == std::string_view::npos ? a : number(text.substr(dots + 2));
      if (!a || !b || *a > *b) return why = "--seeds wants A..B with A <= B", std::nullopt;
      args.range = std::make_pair(*a, *b);
    } else {
      return why = "unknown or incomplete argument", std::nullopt;
    }
  }
  if (args.seed.has_value() == args.range.has_value())
    return why = "give exactly one of --seed and --seeds", std::nullopt;
  if (args.jobs == 0) args.jobs = 1;
  return args;
}

int run_one(const Args& args) {
  const auto report = run_world(*args.seed, args.options);
  if (args.options.trace) {
    for (const auto& line : report.trace) std::printf("%s\n", line.c_str());
  }
  std::printf("%s", report.summary().c_str());
  std::printf("trace hash: 0x%016" PRIx64 "\n", report.trace_hash);
  return report.ok ? 0 : 1;
}

// A worker runs the seeds A + job, A + job + jobs, ... and writes one line per failure and a
// final "done <ran> <failed>" line to `fd`.
void worker(const Args& args, unsigned job, int fd) {
  std::uint64_t ran = 0, failed = 0;
  for (std::uint64_t seed = args.range->first + job; seed <= args.range->second;
       seed += args.jobs) {
    const auto report = run_world(seed, args.options);
    ++ran;
    if (report.ok) continue;
    ++failed;
    std::string line = "seed " + std::to_string(seed) + " FAILED (" +
                       std::to_string(report.violations.size()) +
                       " violations: " + report.violations.front().substr(0, 160) +
                       ")\n  replay: tern-sim --seed " + std::to_string(seed) + " --trace";
    if (args.options.messages != WorldOptions{}.messages)
      line += " --messages " + std::to_string(args.options.messages);
    if (!args.options.swarm) line += " --calm";
    if (!args.fault_sites.empty()) line += " --fault-sites " + args.fault_sites;
    line += "\n";
    if (write(fd, line.data(), line.size()) < 0) break;
  }
  const std::string done = "done " + std::to_string(ran) + " " + std::to_string(failed) + "\n";
  if (write(fd, done.data(), done.size()) < 0) std::_Exit(2);
}

int run_many(const Args& args) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::pair<pid_t, int>> workers;
  for (unsigned job = 0; job < args.jobs; ++job) {
    int fds[2];
    if (pipe(fds) != 0) return usage("pipe failed");
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) return usage("fork failed");
    if (pid == 0) {
      close(fds[0]);
      worker(args, job, fds[1]);
      std::_Exit(0);
    }
    close(fds[1]);
    workers.emplace_back(pid, fds[0]);
  }
  std::uint64_t ran = 0, failed = 0;
  for (auto& [pid, fd] : workers) {
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;)
      text.append(buffer, static_cast<std::size_t>(n));
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    const auto done = text.rfind("done ");
    if (done == std::string::npos) {
      std::printf("a worker died without finishing (status %d)\n", status);
      ++failed;
      continue;
    }
    std::fputs(text.substr(0, done).c_str(), stdout);
    unsigned long long r = 0, f = 0;
    std::sscanf(text.c_str() + done, "done %llu %llu", &r, &f);
    ran += r;
    failed += f;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%" PRIu64 " seeds, %" PRIu64 " failed, %.1f s (%.1f seeds/s)\n", ran, failed,
              seconds, seconds > 0 ? static_cast<double>(ran) / seconds : 0.0);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* why = "";
  const auto args = parse(argc, argv, why);
  if (!args) return usage(why);
  if (const auto error = tern::runtime::buggify::enable_from_list(args->fault_sites);
      !error.empty())
    return usage(error.c_str());
  return args->seed ? run_one(*args) : run_many(*args);
}
