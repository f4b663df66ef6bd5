#include "config/schema.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace tern::config {
namespace {

Schema small_schema() {
  Schema s;
  s.add({.pattern = "remote.<id>.address", .type = ValueType::string, .required = true});
  s.add({.pattern = "remote.<id>.port", .type = ValueType::port, .default_value = "25"});
  s.add({.pattern = "remote.local.port", .type = ValueType::port, .default_value = "24"});
  s.add({.pattern = "queue.outbound.next-hop",
         .type = ValueType::expression,
         .default_value = "false"});
  return s;
}

TEST(Schema, EveryRegisteredKeyHasAValidDefaultOrNone) {
  // tern_schema() runs Schema::add on every key, which parses each default as TOML and
  // checks it against the key's own type; a bad default throws here.
  const Schema& schema = tern_schema();
  EXPECT_GT(schema.keys().size(), 30u);
  for (const auto& key : schema.keys()) {
    EXPECT_EQ(key.default_value.has_value(), key.parsed_default.has_value()) << key.pattern;
    EXPECT_FALSE(key.description.empty()) << key.pattern;
  }
}

TEST(Schema, RegistrationMistakesThrow) {
  Schema s = small_schema();
  EXPECT_THROW(s.add({.pattern = "remote.<id>.address"}), std::logic_error);
  EXPECT_THROW(s.add({.pattern = "a.b", .type = ValueType::port, .default_value = "70000"}),
               std::logic_error);
  EXPECT_THROW(s.add({.pattern = "a.c", .type = ValueType::choice}), std::logic_error);
  EXPECT_THROW(s.add({.pattern = "a.d", .default_value = "\"x\"", .required = true}),
               std::logic_error);
}

TEST(Schema, MatchBindsIdentifiersAndPrefersLiterals) {
  Schema s = small_schema();
  auto relay = s.match("remote.relay.port");
  ASSERT_TRUE(relay);
  EXPECT_EQ(relay->spec->pattern, "remote.<id>.port");
  EXPECT_EQ(relay->bindings, std::vector<std::string>{"relay"});
  auto local = s.match("remote.local.port");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->spec->pattern, "remote.local.port");
  EXPECT_FALSE(s.match("remote.relay"));
  EXPECT_FALSE(s.match("remote.relay.port.extra"));
}

TEST(Schema, TablePrefixes) {
  Schema s = small_schema();
  EXPECT_TRUE(s.is_table_prefix("remote"));
  EXPECT_TRUE(s.is_table_prefix("remote.anything"));
  EXPECT_TRUE(s.is_table_prefix("queue.outbound"));
  EXPECT_FALSE(s.is_table_prefix("queue.outbound.next-hop"));
  EXPECT_FALSE(s.is_table_prefix("queue.inbound"));
}

TEST(Schema, SuggestsWithinTwoEditsKeepingTheUsersIdentifiers) {
  Schema s = small_schema();
  EXPECT_EQ(s.suggest("remote.relay.adress"), "remote.relay.address");   // one deletion
  EXPECT_EQ(s.suggest("remote.relay.addrses"), "remote.relay.address");  // one swap
  EXPECT_EQ(s.suggest("queue.outbund.next-hop"), "queue.outbound.next-hop");
  EXPECT_EQ(s.suggest("queue.outbound.nexthop"), "queue.outbound.next-hop");
  EXPECT_EQ(s.suggest("queue.otbund.next-hop"), "queue.outbound.next-hop");  // two edits
  EXPECT_EQ(s.suggest("queue.otbnd.next-hop"), std::nullopt);                // three edits
  EXPECT_EQ(s.suggest("remote.relay.colour"), std::nullopt);
}

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(edit_distance("", ""), 0);
  EXPECT_EQ(edit_distance("abc", "abc"), 0);
  EXPECT_EQ(edit_distance("abc", "ab"), 1);
  EXPECT_EQ(edit_distance("abc", "abd"), 1);
  EXPECT_EQ(edit_distance("abc", "acb"), 1);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
}

TEST(Schema, ReferenceListsEveryKey) {
  const std::string reference = tern_schema().reference_markdown();
  for (const auto& key : tern_schema().keys()) {
    EXPECT_NE(reference.find("`" + key.pattern + "`"), std::string::npos) << key.pattern;
  }
}

TEST(Schema, DocsConfigurationMdIsGeneratedFromTheSchema) {
  std::ifstream in(TERN_SOURCE_DIR "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing: run `make docs`";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), tern_schema().reference_markdown())
      << "docs/configuration.md is stale: run `make docs` and commit the result";
}

}  // namespace
}  // namespace tern::config
