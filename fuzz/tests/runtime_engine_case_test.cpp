// The engine fuzzer's invariants, proven on its seed corpus (fuzz/corpus/runtime_engine,
// written by scripts/make-engine-corpus): the real engine keeps them on every whole
// conversation, each conversation gets a message acknowledged, and engines broken on
// purpose through fault sites (runtime/buggify.hpp) are caught.
#include "fuzz/runtime_engine_case.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/buggify.hpp"

namespace tern::fuzz {
namespace {

namespace buggify = runtime::buggify;

std::map<std::string, std::string> corpus() {
  std::map<std::string, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(TERN_ENGINE_CORPUS)) {
    std::ifstream file(entry.path(), std::ios::binary);
    out[entry.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  return out;
}

EngineCaseResult run(const std::string& input) {
  return run_engine_case(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

class EngineCase : public ::testing::Test {
 protected:
  void TearDown() override { buggify::disable_all(); }
};

TEST_F(EngineCase, EveryConversationOfTheCorpusKeepsTheInvariantsAndIsAcknowledged) {
  const auto inputs = corpus();
  ASSERT_GE(inputs.size(), 10u);
  std::size_t delivered = 0, failed = 0, dsns = 0;
  for (const auto& [name, input] : inputs) {
    const auto result = run(input);
    EXPECT_EQ(result.violation, "") << name;
    EXPECT_GE(result.acknowledged, 1u) << name << " never gets a message queued";
    delivered += result.delivered;
    failed += result.failed;
    dsns += result.dsns;
  }
  // The corpus reaches every end: Maildir deliveries, failures and DSNs.
  EXPECT_GT(delivered, 0u);
  EXPECT_GT(failed, 0u);
  EXPECT_GT(dsns, 0u);
}

// Issue 27's input: a message to a domain with no MX fails, its DSN to a@b.example fails
// too and is dropped as a double bounce. That is an end, not a loss.
TEST_F(EngineCase, ABounceAndADoubleBounceAreNotALoss) {
  const auto inputs = corpus();
  const auto found = inputs.find("issue-27-double-bounce");
  ASSERT_NE(found, inputs.end());
  EXPECT_EQ(run(found->second).violation, "");
}

// Each broken engine must be caught by some conversation of the corpus, and by the rule
// that names what it broke.
void expect_caught(buggify::Site site, const std::string& rule_words) {
  ASSERT_TRUE(buggify::enable(site));
  std::vector<std::string> caught;
  for (const auto& [name, input] : corpus()) {
    const auto result = run(input);
    if (result.violation.find(rule_words) != std::string::npos)
      caught.push_back(name + ": " + result.violation);
  }
  buggify::disable_all();
  for (const auto& line : caught)
    std::printf("%s caught by %s\n", std::string(buggify::name(site)).c_str(), line.c_str());
  EXPECT_FALSE(caught.empty()) << buggify::name(site) << " was not caught";
}

TEST_F(EngineCase, AnEngineThatSkipsTheMaildirWriteIsCaught) {
  expect_caught(buggify::Site::skip_maildir_write, "neither delivered");
}

TEST_F(EngineCase, AnEngineThatSkipsTheDsnIsCaught) {
  expect_caught(buggify::Site::skip_dsn, "nor reported in a DSN");
}

TEST_F(EngineCase, AnEngineThatSays250BeforeTheCommitIsCaught) {
  expect_caught(buggify::Site::early_250, "before it was durable");
}

}  // namespace
}  // namespace tern::fuzz
