// SimDisk: the simulation's non-durable disk (sim_disk.hpp). What a sync covers, what a
// crash may keep, and the capacity at N and N+1.
#include "adapters/sim/sim_disk.hpp"

#include <set>

#include <gtest/gtest.h>

namespace tern::adapters::sim {
namespace {

using runtime::IoErrc;
using runtime::spool::OpenMode;

struct DiskTest : ::testing::Test {
  void SetUp() override {
    bool created = false;
    ASSERT_TRUE(disk.make_dir("/d", created).ok());
    EXPECT_TRUE(created);
  }
  SimDisk::File create(const std::string& path) {
    auto file = disk.open(path, OpenMode::create_new);
    EXPECT_TRUE(file.has_value());
    return file ? *file : -1;
  }
  SimDisk disk;
};

TEST_F(DiskTest, ReadsSeeWritesAtOnceTheDurableImageOnlySyncedOnes) {
  const auto f = create("/d/a");
  ASSERT_TRUE(disk.write_at(f, 0, {"hello", " world"}).ok());
  EXPECT_EQ(*disk.read_at(f, 0, 11), "hello world");
  EXPECT_EQ(disk.read_at(f, 5, 7).error().code, IoErrc::io_error);  // past the end
  EXPECT_FALSE(disk.durable_file("/d/a")) << "the name is not durable before sync_dir";
  ASSERT_TRUE(disk.sync_dir("/d").ok());
  EXPECT_EQ(*disk.durable_file("/d/a"), "");
  const auto mark = disk.sync_mark();
  ASSERT_TRUE(disk.write_at(f, 11, {"!"}).ok());  // after the sync began: not covered
  ASSERT_TRUE(disk.sync_apply(f, mark).ok());
  EXPECT_EQ(*disk.durable_file("/d/a"), "hello world");
  ASSERT_TRUE(disk.sync_apply(f, disk.sync_mark()).ok());
  EXPECT_EQ(*disk.durable_file("/d/a"), "hello world!");
  EXPECT_EQ(disk.open("/d/a", OpenMode::create_new).error().code, IoErrc::io_error);
  EXPECT_EQ(disk.open("/d/b", OpenMode::existing).error().code, IoErrc::not_found);
  EXPECT_EQ(disk.open("/nowhere/b", OpenMode::create_new).error().code, IoErrc::not_found);
}

TEST_F(DiskTest, ACrashKeepsEverythingSyncedAndDrawsTheRest) {
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    SimDisk d;
    bool created = false;
    ASSERT_TRUE(d.make_dir("/d", created).ok());
    const auto f = *d.open("/d/a", OpenMode::create_new);
    ASSERT_TRUE(d.write_at(f, 0, {"durable"}).ok());
    ASSERT_TRUE(d.sync_apply(f, d.sync_mark()).ok());
    ASSERT_TRUE(d.sync_dir("/d").ok());
    ASSERT_TRUE(d.write_at(f, 7, {"+pending"}).ok());
    const auto g = *d.open("/d/unsynced", OpenMode::create_new);
    ASSERT_TRUE(d.write_at(g, 0, {"x"}).ok());
    Prng prng(seed);
    d.crash(prng);
    const auto a = d.durable_file("/d/a");
    ASSERT_TRUE(a.has_value());
    ASSERT_EQ(a->substr(0, 7), "durable") << "seed " << seed;
    ASSERT_TRUE(std::string("durable+pending").substr(0, a->size()) == *a) << *a;
    outcomes.insert(a->size() == 7 ? "lost" : a->size() == 15 ? "kept" : "torn");
    outcomes.insert(d.durable_file("/d/unsynced") ? "name kept" : "name lost");
    EXPECT_EQ(d.size(f).error().code, IoErrc::io_error) << "files from before are gone";
    EXPECT_EQ(*d.read_at(*d.open("/d/a", OpenMode::existing), 0, a->size()), std::string(*a));
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"lost", "kept", "torn", "name kept", "name lost"}));
}

TEST_F(DiskTest, RemoveAndRenameAreDurableAtSyncDir) {
  bool created = false;
  ASSERT_TRUE(disk.make_dir("/d/sub", created).ok());
  const auto f = create("/d/a");
  ASSERT_TRUE(disk.sync_dir("/d").ok());
  ASSERT_TRUE(disk.rename("/d/a", "/d/sub/b").ok());
  EXPECT_TRUE(disk.list_dir("/d").value().empty()) << "folders are not entries";
  EXPECT_EQ(disk.list_dir("/d/sub").value(), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(disk.durable_file("/d/a")) << "the old name stays until /d is synced";
  ASSERT_TRUE(disk.sync_dir("/d/sub").ok());
  ASSERT_TRUE(disk.sync_dir("/d").ok());
  EXPECT_FALSE(disk.durable_file("/d/a"));
  EXPECT_TRUE(disk.durable_file("/d/sub/b"));
  ASSERT_TRUE(disk.remove("/d/sub/b").ok());
  EXPECT_EQ(disk.remove("/d/sub/b").error->code, IoErrc::not_found);
  EXPECT_TRUE(disk.write_at(f, 0, {"still open"}).ok()) << "an open file outlives its name";
  disk.close(f);
  ASSERT_TRUE(disk.sync_dir("/d/sub").ok());
  EXPECT_EQ(disk.used(), 0u);
}

TEST_F(DiskTest, CapacityAtNAndNPlusOne) {
  disk.set_capacity(10);
  const auto f = create("/d/a");
  ASSERT_TRUE(disk.write_at(f, 0, {"12345", "6789"}).ok());              // 9
  EXPECT_EQ(disk.write_at(f, 9, {"ab"}).error->code, IoErrc::no_space);  // 11
  ASSERT_TRUE(disk.write_at(f, 9, {"a"}).ok());                          // 10: exactly full
  EXPECT_EQ(disk.used(), 10u);
  EXPECT_TRUE(disk.write_at(f, 0, {"overwrite"}).ok()) << "bytes that exist need no space";
  const auto g = create("/d/b");
  EXPECT_EQ(disk.write_at(g, 0, {"x"}).error->code, IoErrc::no_space);
  ASSERT_TRUE(disk.truncate(f, 5).ok());
  EXPECT_TRUE(disk.write_at(g, 0, {"x"}).ok());
}

}  // namespace
}  // namespace tern::adapters::sim
