#include "protocol/route/rules.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tern::protocol::route {
namespace {

const Environment& env() {
  static const Environment e = Environment::standard("queue.outbound.next-hop");
  return e;
}

RulesOptions next_hop_options() {
  RulesOptions o;
  o.result_types = TypeSet(Type::string) | Type::boolean;
  return o;
}

RuleInput when(std::string condition, std::string then, std::uint32_t line) {
  return RuleInput{std::move(condition), RuleResultInput::expression_text(std::move(then)),
                   SourcePosition{"tern.toml", line, 14}};
}

RuleInput otherwise(Value value, std::uint32_t line) {
  return RuleInput{std::nullopt, RuleResultInput::literal_value(std::move(value)),
                   SourcePosition{"tern.toml", line, 14}};
}

TEST(Rules, SeedLocalDelivery) {
  // next-hop = [ { if = "is_local_domain('', rcpt_domain)", then = "'local'" }, { else = false } ]
  std::vector<RuleInput> in = {when("is_local_domain('', rcpt_domain)", "'local'", 2),
                               otherwise(false, 3)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.warnings.empty());
  ASSERT_EQ(c.rules.rules.size(), 2u);
  EXPECT_EQ(c.rules.rules[0].condition_text, "is_local_domain('', rcpt_domain)");
  EXPECT_EQ(c.rules.rules[0].literal_result, Value(std::string("local")));
  EXPECT_FALSE(c.rules.rules[1].condition.has_value());
  EXPECT_EQ(c.rules.rules[1].literal_result, Value(false));
  EXPECT_EQ(c.rules.rules[1].result_text, "false");
  std::vector<StringResult> strings = c.rules.string_results();
  ASSERT_EQ(strings.size(), 1u);
  EXPECT_EQ(strings[0].rule_index, 0u);
  EXPECT_EQ(strings[0].value, "local");
  EXPECT_EQ(strings[0].position, (SourcePosition{"tern.toml", 2, 14}));
  EXPECT_FALSE(c.rules.has_computed_results());
}

TEST(Rules, SeedPlainRelayValue) {
  // next-hop = "relay": the caller says a plain value is a literal.
  std::vector<RuleInput> in = {otherwise(std::string("relay"), 1)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.rules.string_results().size(), 1u);
  EXPECT_EQ(c.rules.string_results()[0].value, "relay");
  EXPECT_EQ(c.rules.rules[0].result_text, "'relay'");
  // The same text given as an expression is a variable name, and an unknown one.
  in = {RuleInput{std::nullopt, RuleResultInput::expression_text("relay"), {"tern.toml", 1, 12}}};
  c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(to_string(c.errors[0]),
            "tern.toml:1:12: rule 1, result at byte 0: unknown variable 'relay'");
}

TEST(Rules, ComputedResultsAreFlagged) {
  std::vector<RuleInput> in = {when("true", "lowercase(rcpt_domain)", 1)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.rules.has_computed_results());
  EXPECT_TRUE(c.rules.string_results().empty());
}

TEST(Rules, AllErrorsAreReportedWithPositions) {
  std::vector<RuleInput> in = {when("rcpt_domain = 'a'", "'x'", 5),
                               when("priority > 1", "priority", 6), otherwise(std::string("y"), 7)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(to_string(c.errors[0]),
            "tern.toml:5:14: rule 1, condition at byte 12: unexpected '=', did you mean '=='?");
  EXPECT_TRUE(c.errors[0].in_condition);
  EXPECT_EQ(to_string(c.errors[1]),
            "tern.toml:6:14: rule 2, result at byte 0: expression has type integer, expected "
            "boolean or string");
  EXPECT_TRUE(c.rules.rules.empty());
}

TEST(Rules, ConditionMustBeBoolean) {
  std::vector<RuleInput> in = {when("rcpt_domain", "'x'", 1)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].message, "expression has type string, expected boolean");
}

TEST(Rules, ElseMustBeLast) {
  std::vector<RuleInput> in = {otherwise(false, 1), when("true", "'x'", 2)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(to_string(c.errors[0]),
            "tern.toml:1:14: rule 1, result at byte 0: a rule without a condition ('else') must be "
            "the last rule");
  in = {when("true", "'x'", 1), otherwise(false, 2), otherwise(true, 3)};
  c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].rule_index, 1u);
}

TEST(Rules, EmptyListAndRuleCountLimit) {
  RulesCompilation c = compile_rules({}, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].message, "rule list is empty");

  RulesOptions o = next_hop_options();
  o.rules_max = 3;
  std::vector<RuleInput> in = {when("priority == 1", "'a'", 1), when("priority == 2", "'b'", 2),
                               otherwise(false, 3)};
  EXPECT_TRUE(compile_rules(in, env(), o).ok());
  in.insert(in.begin(), when("priority == 0", "'c'", 9));
  c = compile_rules(in, env(), o);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(to_string(c.errors[0]), "tern.toml:3:14: more than 3 rules");
}

TEST(Rules, UnreachableRulesWarn) {
  std::vector<RuleInput> in = {when("priority > 3", "'a'", 1), when("true", "'b'", 2),
                               when("rcpt == 'x'", "'c'", 3), otherwise(false, 4)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(to_string(c.warnings[0]),
            "tern.toml:3:14: rule 3, condition at byte 0: rule is unreachable: rule 2 at "
            "tern.toml:2:14 always matches");
  EXPECT_EQ(c.warnings[1].rule_index, 3u);
  // A constant true that is not the literal `true` counts too.
  in = {when("1 == 1 || false", "'a'", 1), otherwise(false, 2)};
  c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].rule_index, 1u);
  // A last rule that is constant true warns about nothing.
  in = {when("true", "'a'", 1)};
  EXPECT_TRUE(compile_rules(in, env(), next_hop_options()).warnings.empty());
  // Lookups are not constants even without variables.
  in = {when("is_local_domain('', 'a.org')", "'a'", 1), otherwise(false, 2)};
  EXPECT_TRUE(compile_rules(in, env(), next_hop_options()).warnings.empty());
}

TEST(Rules, ConstantFalseWarns) {
  std::vector<RuleInput> in = {when("!true", "'a'", 1), otherwise(false, 2)};
  RulesCompilation c = compile_rules(in, env(), next_hop_options());
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].message, "condition is always false; this rule never matches");
  EXPECT_EQ(c.warnings[0].rule_index, 0u);
}

TEST(Rules, LiteralResultsOfEveryType) {
  RulesOptions o;
  std::vector<RuleInput> in = {when("priority == 1", "['a', 'b']", 1),
                               when("priority == 2", "-5", 2), otherwise(StringList{"x"}, 3)};
  RulesCompilation c = compile_rules(in, env(), o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.rules.rules[0].literal_result, Value(StringList{"a", "b"}));
  EXPECT_EQ(c.rules.rules[1].literal_result, Value(std::int64_t{-5}));
  EXPECT_EQ(c.rules.rules[2].literal_result, Value(StringList{"x"}));
  EXPECT_TRUE(c.rules.string_results().empty());
  // A literal of a type the key does not take is an error.
  in = {otherwise(std::int64_t{25}, 4)};
  c = compile_rules(in, env(), next_hop_options());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].message, "expression has type integer, expected boolean or string");
}

}  // namespace
}  // namespace tern::protocol::route
