// The array-of-tables value type (directory principals) and plain list values of
// expression keys (session.auth.mechanisms).
#include <gtest/gtest.h>

#include "config/loader.hpp"

namespace tern::config {
namespace {

std::string all_messages(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += to_string(d) + "\n";
  return out;
}

TEST(TableList, InlineAndDoubleBracketFormsGiveTheSameItems) {
  auto inline_form = load_string(
      "[directory.main]\ntype = \"memory\"\n"
      "principals = [{ name = \"ann\", secret = \"s\", email = \"ann@example.org\" },\n"
      "              { name = \"bob\", email = [\"bob@example.org\", \"b@example.net\"] }]\n",
      "t.toml");
  ASSERT_TRUE(inline_form.ok()) << all_messages(inline_form);
  const auto& items =
      std::get<TableList>(inline_form.config.find("directory.main.principals")->value);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(std::get<std::string>(*items[0].find("name")), "ann");
  EXPECT_EQ(std::get<std::vector<std::string>>(*items[0].find("email")),
            std::vector<std::string>{"ann@example.org"});
  EXPECT_EQ(items[1].find("secret"), nullptr);
  EXPECT_EQ(std::get<std::vector<std::string>>(*items[1].find("email")),
            (std::vector<std::string>{"bob@example.org", "b@example.net"}));
  EXPECT_EQ(items[1].pos, (SourcePos{"t.toml", 4, 15}));
  auto bracket_form = load_string(
      "[directory.main]\ntype = \"memory\"\n"
      "[[directory.main.principals]]\nname = \"ann\"\nsecret = \"s\"\nemail = \"ann@example.org\"\n"
      "[[directory.main.principals]]\nname = \"bob\"\nemail = [\"bob@example.org\", "
      "\"b@example.net\"]\n",
      "t.toml");
  ASSERT_TRUE(bracket_form.ok()) << all_messages(bracket_form);
  const auto& again =
      std::get<TableList>(bracket_form.config.find("directory.main.principals")->value);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1].find("email") != nullptr, true);
  EXPECT_EQ(*again[1].find("email"), *items[1].find("email"));
}

TEST(TableList, FieldErrorsPointAtTheField) {
  EXPECT_EQ(
      all_messages(load_string(
          "[directory.m]\ntype = \"memory\"\nprincipals = [{ name = \"a\", emial = \"a@b\" }]\n",
          "t.toml")),
      "t.toml:3:29: unknown field 'emial' in a table of 'directory.<name>.principals' (did you "
      "mean "
      "'email'?)\n");
  EXPECT_EQ(all_messages(load_string(
                "[directory.m]\ntype = \"memory\"\nprincipals = [{ secret = \"x\" }]\n", "t.toml")),
            "t.toml:3:15: a table of 'directory.<name>.principals' needs the field 'name' (Login "
            "name)\n");
  EXPECT_EQ(
      all_messages(
          load_string("[directory.m]\ntype = \"memory\"\nprincipals = [\"ann\"]\n", "t.toml")),
      "t.toml:3:15: 'directory.<name>.principals' expects an array of tables, found a string\n");
  EXPECT_EQ(all_messages(load_string(
                "[directory.m]\ntype = \"memory\"\nprincipals = [{ name = 3 }]\n", "t.toml")),
            "t.toml:3:24: 'name' expects a string, found an integer\n");
}

TEST(TableList, DefaultIsEmptyAndReferenceNamesTheFields) {
  auto r = load_string("[directory.m]\ntype = \"memory\"\n", "t.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<TableList>(*r.config.value_or_default("directory.m.principals")).size(), 0u);
  EXPECT_NE(tern_schema().reference_markdown().find("list of tables (name, secret, email)"),
            std::string::npos);
}

TEST(ExpressionList, PlainStringArrayIsOneListValue) {
  auto r = load_string("[session.auth]\nmechanisms = [\"PLAIN\", \"LOGIN\"]\n", "t.toml");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  const auto& e = std::get<Expression>(r.config.find("session.auth.mechanisms")->value);
  ASSERT_EQ(e.rules.size(), 1u);
  EXPECT_EQ(e.rules[0].result, ExpressionAtom(std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_FALSE(e.rules[0].result_is_expression);
  EXPECT_EQ(all_messages(load_string("[session.auth]\nmechanisms = [\"PLAIN\", 3]\n", "t.toml")),
            "t.toml:2:24: 'session.auth.mechanisms': a list value holds strings only\n");
}

}  // namespace
}  // namespace tern::config
