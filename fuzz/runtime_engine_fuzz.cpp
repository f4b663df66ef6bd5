// The receiving engine on the simulated Io, with settings loaded as ternd loads them: a
// client sends fuzzed bytes in fuzzed chunks over SMTP, submission or LMTP while the disk
// fails fsyncs or fills up at fuzzed moments. The input format and the invariants are in
// fuzz/runtime_engine_case.hpp; nothing may crash, assert or leak (ASan/UBSan) either.
//
// TERN_FAULT_SITES=site[,site] in the environment switches on fault sites (runtime/buggify.hpp)
// to watch the invariants catch a broken engine; TERN_FUZZ_STATS=1 prints at exit how many
// messages were acknowledged, delivered, failed and reported, to see what a run reached.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/runtime_engine_case.hpp"
#include "runtime/buggify.hpp"

namespace {

struct Totals {
  std::size_t runs = 0, acknowledged = 0, delivered = 0, failed = 0, dsns = 0;
  bool print = false;
  ~Totals() {
    if (!print) return;
    std::fprintf(stderr,
                 "runtime_engine: %zu runs, %zu messages acknowledged, %zu recipients delivered, "
                 "%zu failed, %zu DSNs\n",
                 runs, acknowledged, delivered, failed, dsns);
  }
} totals;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* sites = std::getenv("TERN_FAULT_SITES")) {
    const auto error = tern::runtime::buggify::enable_from_list(sites);
    if (!error.empty()) {
      std::fprintf(stderr, "runtime_engine: TERN_FAULT_SITES: %s\n", error.c_str());
      std::exit(2);
    }
  }
  const char* stats = std::getenv("TERN_FUZZ_STATS");
  totals.print = stats != nullptr && std::string(stats) == "1";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto result = tern::fuzz::run_engine_case(data, size);
  ++totals.runs;
  totals.acknowledged += result.acknowledged;
  totals.delivered += result.delivered;
  totals.failed += result.failed;
  totals.dsns += result.dsns;
  if (!result.violation.empty()) {
    std::fprintf(stderr, "invariant broken: %s\n", result.violation.c_str());
    std::abort();
  }
  return 0;
}
