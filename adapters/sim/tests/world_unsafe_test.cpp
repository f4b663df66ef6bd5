// The simulation must catch a broken engine: these tests switch on a fault site
// (runtime/buggify.hpp) and the world must report invariant 2 within a slice of seeds:
// session.early-250 (the session says 250 before the message is durable) and
// spool.skip-fdatasync (the spool log calls its records durable without syncing them; the
// world sees through it because it reads the disk's durable image). Each prints which seeds
// caught it, and how.
#include <cstdint>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "adapters/sim/world.hpp"
#include "runtime/buggify.hpp"

namespace tern::adapters::sim {
namespace {

void expect_caught(runtime::buggify::Site site) {
  ASSERT_TRUE(runtime::buggify::enable(site));
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
  runtime::buggify::disable_all();
  std::printf("invariant 2 caught %s in %d of 20 seeds (first: seed %llu)\n",
              std::string(runtime::buggify::name(site)).c_str(), caught,
              static_cast<unsigned long long>(first));
  EXPECT_GE(caught, 10);
  EXPECT_EQ(first, 1u);
}

TEST(WorldUnsafeEngine, TheWorldCatchesA250BeforeFsync) {
  expect_caught(runtime::buggify::Site::early_250);
}

TEST(WorldUnsafeEngine, TheWorldCatchesASpoolThatSkipsItsFdatasync) {
  expect_caught(runtime::buggify::Site::spool_skip_sync);
}

}  // namespace
}  // namespace tern::adapters::sim
