#include "protocol/route/eval.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/route/regex.hpp"

namespace tern::protocol::route {
namespace {

const Environment& env() {
  static const Environment e = Environment::standard("queue.outbound.next-hop");
  return e;
}

RuleList compile(std::vector<RuleInput> in) {
  RulesCompilation c = compile_rules(in, env(), {});
  EXPECT_TRUE(c.ok()) << (c.errors.empty() ? "" : to_string(c.errors[0]));
  return c.rules;
}

RuleInput when(std::string condition, std::string then, std::uint32_t line) {
  return RuleInput{std::move(condition), RuleResultInput::expression_text(std::move(then)),
                   SourcePosition{"tern.toml", line, 3}};
}

RuleInput otherwise(Value value, std::uint32_t line) {
  return RuleInput{std::nullopt, RuleResultInput::literal_value(std::move(value)),
                   SourcePosition{"tern.toml", line, 3}};
}

Variables message_vars(std::string rcpt_domain) {
  Variables v;
  v.set("rcpt", "user@" + rcpt_domain);
  v.set("rcpt_domain", std::move(rcpt_domain));
  v.set("sender", std::string("alice@sender.org"));
  v.set("sender_domain", std::string("sender.org"));
  v.set("recipients", StringList{"a@x.org", "b@y.org"});
  v.set("priority", std::int64_t{2});
  v.set("retry_num", std::int64_t{0});
  v.set("listener", std::string("MX"));
  return v;
}

LookupKey domain_key(std::string domain) {
  return {LookupFunction::is_local_domain, "", std::move(domain)};
}

Value eval_value(std::string_view text, const Variables& vars,
                 const Lookups& lookups = LookupTable{}) {
  Result<CheckedExpr> c = compile_expression(text, env(), TypeSet::any());
  EXPECT_TRUE(c.has_value()) << text << ": " << (c ? "" : c.error().message);
  if (!c) return Value(false);
  ExprOutcome o = evaluate_expression(*c, vars, lookups);
  EXPECT_TRUE(std::holds_alternative<Value>(o)) << text;
  return std::holds_alternative<Value>(o) ? std::get<Value>(o) : Value(false);
}

TEST(Eval, SeedLocalOrDnsWithLookupRoundTrip) {
  RuleList rules =
      compile({when("is_local_domain('', rcpt_domain)", "'local'", 1), otherwise(false, 2)});
  Variables vars = message_vars("example.org");
  LookupTable lookups;
  RulesOutcome first = evaluate(rules, vars, lookups);
  ASSERT_TRUE(std::holds_alternative<NeedsLookups>(first));
  EXPECT_EQ(std::get<NeedsLookups>(first).lookups,
            std::vector<LookupKey>{domain_key("example.org")});

  lookups.set(domain_key("example.org"), true);
  EXPECT_EQ(evaluate(rules, vars, lookups), RulesOutcome(Matched{0, std::string("local")}));
  lookups.set(domain_key("example.org"), false);
  EXPECT_EQ(evaluate(rules, vars, lookups), RulesOutcome(Matched{1, false}));
}

TEST(Eval, SeedLmtpAndRelay) {
  RuleList lmtp =
      compile({when("is_local_domain('', rcpt_domain)", "'lmtp'", 1), otherwise(false, 2)});
  LookupTable lookups;
  lookups.set(domain_key("example.org"), true);
  EXPECT_EQ(evaluate(lmtp, message_vars("example.org"), lookups),
            RulesOutcome(Matched{0, std::string("lmtp")}));
  RuleList relay = compile({otherwise(std::string("relay"), 1)});
  EXPECT_EQ(evaluate(relay, Variables{}, LookupTable{}),
            RulesOutcome(Matched{0, std::string("relay")}));
}

TEST(Eval, NoMatchWithoutElse) {
  RuleList rules = compile({when("priority > 5", "'slow'", 1)});
  EXPECT_EQ(evaluate(rules, message_vars("a.org"), LookupTable{}), RulesOutcome(NoMatch{}));
}

TEST(Eval, ResultCanBeAVariable) {
  RuleList rules = compile({when("true", "rcpt_domain", 1)});
  EXPECT_EQ(evaluate(rules, message_vars("a.org"), LookupTable{}),
            RulesOutcome(Matched{0, std::string("a.org")}));
}

TEST(Eval, NeedsOnlyTheLookupsThatCanMatter) {
  Variables vars = message_vars("a.org");
  // Both sides of || may matter: both are asked for in one round, without duplicates.
  RuleList rules =
      compile({when("is_local_domain('', rcpt_domain) || is_local_address('', rcpt) || "
                    "is_local_domain('', rcpt_domain)",
                    "'a'", 1),
               when("is_local_domain('', sender_domain)", "'b'", 2)});
  RulesOutcome o = evaluate(rules, vars, LookupTable{});
  ASSERT_TRUE(std::holds_alternative<NeedsLookups>(o));
  std::vector<LookupKey> expected = {domain_key("a.org"),
                                     {LookupFunction::is_local_address, "", "user@a.org"}};
  EXPECT_EQ(std::get<NeedsLookups>(o).lookups, expected);
  // A known true operand settles ||: the other lookup is no longer needed.
  LookupTable lookups;
  lookups.set({LookupFunction::is_local_address, "", "user@a.org"}, true);
  EXPECT_EQ(evaluate(rules, vars, lookups), RulesOutcome(Matched{0, std::string("a")}));
  // A false first rule moves on to the second rule's lookup.
  lookups.set({LookupFunction::is_local_address, "", "user@a.org"}, false);
  lookups.set(domain_key("a.org"), false);
  o = evaluate(rules, vars, lookups);
  ASSERT_TRUE(std::holds_alternative<NeedsLookups>(o));
  EXPECT_EQ(std::get<NeedsLookups>(o).lookups, std::vector<LookupKey>{domain_key("sender.org")});
}

TEST(Eval, ShortCircuitSkipsLookupsVariablesAndFaults) {
  Variables vars = message_vars("a.org");
  // priority is 2: the && is false before the lookup or the unbound variable is reached.
  RuleList rules = compile({when("priority > 5 && is_local_domain('', helo_domain)", "'a'", 1),
                            when("priority == 2 || is_local_domain('', helo_domain)", "'b'", 2)});
  EXPECT_EQ(evaluate(rules, vars, LookupTable{}), RulesOutcome(Matched{1, std::string("b")}));
  // Kleene logic: an unknown lookup followed by a known false is false, no lookup asked.
  rules = compile(
      {when("is_local_domain('', rcpt_domain) && priority > 5", "'a'", 1), otherwise(false, 2)});
  EXPECT_EQ(evaluate(rules, vars, LookupTable{}), RulesOutcome(Matched{1, false}));
}

TEST(Eval, FaultsAreTheCallersMisuse) {
  RuleList rules =
      compile({when("rcpt_domain == 'a'", "'a'", 1), when("helo_domain == 'x'", "'b'", 2)});
  Variables vars = message_vars("b.org");
  RulesOutcome o = evaluate(rules, vars, LookupTable{});
  ASSERT_TRUE(std::holds_alternative<RulesFault>(o));
  EXPECT_EQ(std::get<RulesFault>(o),
            (RulesFault{1, EvalFault{0, "variable 'helo_domain' is not bound"}}));
  vars.set("helo_domain", std::int64_t{3});
  o = evaluate(rules, vars, LookupTable{});
  EXPECT_EQ(std::get<RulesFault>(o).fault.message,
            "variable 'helo_domain' is declared string but bound to integer");
}

TEST(Eval, ComparisonsAndFunctions) {
  Variables v = message_vars("Example.ORG");
  EXPECT_EQ(eval_value("rcpt_domain == 'example.org'", v), Value(false));  // exact
  EXPECT_EQ(eval_value("eq_ignore_case(rcpt_domain, 'example.org')", v), Value(true));
  EXPECT_EQ(eval_value("lowercase(rcpt_domain)", v), Value(std::string("example.org")));
  EXPECT_EQ(
      eval_value(
          "priority < 3 && priority <= 2 && priority >= 2 && !(priority > 2) && priority != 1", v),
      Value(true));
  EXPECT_EQ(eval_value("-10 < -9", v), Value(true));
  EXPECT_EQ(eval_value("contains(rcpt, '@Example')", v), Value(true));
  EXPECT_EQ(eval_value("contains(recipients, 'b@y.org')", v), Value(true));
  EXPECT_EQ(eval_value("contains(recipients, 'b@y')", v), Value(false));
  EXPECT_EQ(eval_value("starts_with(rcpt, 'user@') && ends_with(rcpt, '.ORG')", v), Value(true));
  EXPECT_EQ(eval_value("in_list(sender_domain, ['x.org', 'sender.org'])", v), Value(true));
  EXPECT_EQ(eval_value("in_list(sender_domain, [])", v), Value(false));
  EXPECT_EQ(eval_value("len(recipients) == 2 && len(sender) == 16 && len('') == 0", v),
            Value(true));
  EXPECT_EQ(eval_value("matches('^user@[A-Za-z]+\\\\.ORG$', rcpt)", v), Value(true));
  EXPECT_EQ(eval_value("matches('^admin', rcpt)", v), Value(false));
  EXPECT_EQ(eval_value("recipients == ['a@x.org', 'b@y.org']", v), Value(true));
  EXPECT_EQ(eval_value("[rcpt_domain, 'x']", v), Value(StringList{"Example.ORG", "x"}));
}

TEST(Eval, CatastrophicRegexIsBoundedAndDoesNotMatch) {
  Variables v;
  v.set("rcpt", std::string(40, 'a') + "!");
  EXPECT_EQ(eval_value("matches('^(a+)+$', rcpt)", v), Value(false));
  auto regex = compile_regex("^(a+)+$");
  ASSERT_TRUE(regex.has_value());
  RegexOutcome o = regex_search(**regex, std::string(40, 'a') + "!");
  EXPECT_FALSE(o.matched);
  EXPECT_TRUE(o.limit_hit);
  o = regex_search(**regex, std::string(40, 'a'));
  EXPECT_TRUE(o.matched);
  EXPECT_FALSE(o.limit_hit);
}

TEST(Eval, ExplainRecordsEachRuleTried) {
  RuleList rules =
      compile({when("priority > 5 && rcpt_domain == 'x'", "'slow'", 4),
               when("is_local_domain('', rcpt_domain)", "'local'", 5), otherwise(false, 6)});
  Variables vars = message_vars("example.org");
  LookupTable lookups;
  lookups.set(domain_key("example.org"), true);
  Explanation ex;
  RulesOutcome o = evaluate(rules, vars, lookups, &ex);
  EXPECT_EQ(o, RulesOutcome(Matched{1, std::string("local")}));
  ASSERT_EQ(ex.rules.size(), 2u);
  EXPECT_EQ(ex.rules[0].condition_text, "priority > 5 && rcpt_domain == 'x'");
  ASSERT_EQ(ex.rules[0].variables.size(), 1u);  // rcpt_domain is never read: short circuit
  EXPECT_EQ(ex.rules[0].variables[0].name, "priority");
  EXPECT_EQ(ex.rules[0].condition_result, false);
  EXPECT_EQ(ex.rules[1].condition_result, true);
  EXPECT_EQ(ex.matched_rule, 1u);
  EXPECT_EQ(to_string(ex),
            "rule 1 at tern.toml:4:3: if priority > 5 && rcpt_domain == 'x'\n"
            "  priority = 2\n"
            "  condition: false\n"
            "rule 2 at tern.toml:5:3: if is_local_domain('', rcpt_domain)\n"
            "  rcpt_domain = 'example.org'\n"
            "  is_local_domain('', 'example.org') -> true\n"
            "  condition: true\n"
            "matched rule 2: 'local'\n");
}

TEST(Eval, ExplainUndecidedAndElse) {
  RuleList rules =
      compile({when("is_local_domain('', rcpt_domain)", "'local'", 1), otherwise(false, 2)});
  Variables vars = message_vars("it's.org");
  Explanation ex;
  evaluate(rules, vars, LookupTable{}, &ex);
  EXPECT_EQ(to_string(ex),
            "rule 1 at tern.toml:1:3: if is_local_domain('', rcpt_domain)\n"
            "  rcpt_domain = 'it\\'s.org'\n"
            "  is_local_domain('', 'it\\'s.org') -> unknown\n"
            "  condition: undecided\n"
            "needs lookups: is_local_domain('', 'it\\'s.org')\n");
  LookupTable lookups;
  lookups.set(domain_key("it's.org"), false);
  evaluate(rules, vars, lookups, &ex);
  EXPECT_EQ(to_string(ex),
            "rule 1 at tern.toml:1:3: if is_local_domain('', rcpt_domain)\n"
            "  rcpt_domain = 'it\\'s.org'\n"
            "  is_local_domain('', 'it\\'s.org') -> false\n"
            "  condition: false\n"
            "rule 2 at tern.toml:2:3: else\n"
            "matched rule 2: false\n");
}

TEST(Eval, DeterministicAcrossRuns) {
  RuleList rules =
      compile({when("matches('x', rcpt) || in_list(rcpt_domain, ['a.org']) || priority == 3",
                    "lowercase(sender)", 1)});
  Variables vars = message_vars("a.org");
  RulesOutcome a = evaluate(rules, vars, LookupTable{});
  RulesOutcome b = evaluate(rules, vars, LookupTable{});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, RulesOutcome(Matched{0, std::string("alice@sender.org")}));
}

}  // namespace
}  // namespace tern::protocol::route
