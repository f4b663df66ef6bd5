// The simulation must catch a broken engine: this test switches on the fault site
// session.early-250 (runtime/buggify.hpp: the session says 250 before the message is
// durable), and the world must report invariant 2 within a slice of seeds. It prints which
// seeds caught it, and how.
#include <cstdint>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "adapters/sim/world.hpp"
#include "runtime/buggify.hpp"

namespace tern::adapters::sim {
namespace {

TEST(WorldUnsafeEngine, TheWorldCatchesA250BeforeFsync) {
  ASSERT_TRUE(runtime::buggify::enable(runtime::buggify::Site::early_250));
  int caught = 0;
  std::uint64_t first = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto report = run_world(seed, {});
    for (const auto& v : report.violations) {
      if (v.rfind("inv2:", 0) != 0) continue;
      if (caught++ == 0) first = seed;
      std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), v.c_str());
      break;
    }
  }
  std::printf("invariant 2 caught the unsafe engine in %d of 20 seeds (first: seed %llu)\n", caught,
              static_cast<unsigned long long>(first));
  EXPECT_GE(caught, 10);
  EXPECT_EQ(first, 1u);
}

}  // namespace
}  // namespace tern::adapters::sim
