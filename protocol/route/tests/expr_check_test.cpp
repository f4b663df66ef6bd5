#include "protocol/route/expr_check.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tern::protocol::route {
namespace {

const Environment& next_hop_env() {
  static const Environment env = Environment::standard("queue.outbound.next-hop");
  return env;
}

Type type_ok(std::string_view text, const Environment& env = next_hop_env()) {
  Result<CheckedExpr> r = compile_expression(text, env, TypeSet::any());
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().message);
  return r ? r->type : Type::boolean;
}

Error check_error(std::string_view text, TypeSet expected = TypeSet::any(),
                  const Environment& env = next_hop_env()) {
  Result<CheckedExpr> r = compile_expression(text, env, expected);
  EXPECT_FALSE(r.has_value()) << text;
  return r ? Error{} : r.error();
}

TEST(ExprCheck, TypesOfWellFormedExpressions) {
  EXPECT_EQ(type_ok("is_local_domain('', rcpt_domain)"), Type::boolean);
  EXPECT_EQ(type_ok("is_local_address('', rcpt)"), Type::boolean);
  EXPECT_EQ(type_ok("'local'"), Type::string);
  EXPECT_EQ(type_ok("priority"), Type::integer);
  EXPECT_EQ(type_ok("recipients"), Type::string_list);
  EXPECT_EQ(type_ok("['a', rcpt_domain]"), Type::string_list);
  EXPECT_EQ(type_ok("contains(recipients, rcpt) && contains(rcpt, '@')"), Type::boolean);
  EXPECT_EQ(
      type_ok(
          "starts_with(rcpt, 'a') || ends_with(rcpt, '.org') || eq_ignore_case(listener, 'MX')"),
      Type::boolean);
  EXPECT_EQ(type_ok("in_list(sender_domain, ['a.org', 'b.org'])"), Type::boolean);
  EXPECT_EQ(type_ok("matches('^[a-z]+@example\\\\.org$', rcpt)"), Type::boolean);
  EXPECT_EQ(type_ok("len(recipients) > 1 && len(rcpt) <= 64"), Type::boolean);
  EXPECT_EQ(type_ok("lowercase(authenticated_as)"), Type::string);
  EXPECT_EQ(type_ok("retry_num >= 3 && last_error != ''"), Type::boolean);
  EXPECT_EQ(
      type_ok("remote_ip == '127.0.0.1' || local_ip == '::1' || helo_domain == sender_domain"),
      Type::boolean);
  EXPECT_EQ(type_ok("recipients == ['a']"), Type::boolean);
  EXPECT_EQ(type_ok("!(true == false)"), Type::boolean);
}

struct ErrorCase {
  const char* text;
  std::size_t offset;
  const char* message;
};

TEST(ExprCheck, EveryErrorKindWithItsOffset) {
  const ErrorCase cases[] = {
      {"rcpt_domian == 'a'", 0, "unknown variable 'rcpt_domian' (did you mean 'rcpt_domain'?)"},
      {"is_local_domain('', rcptdomain)", 20,
       "unknown variable 'rcptdomain' (did you mean 'rcpt_domain'?)"},
      {"x == 'a'", 0, "unknown variable 'x'"},
      {"rcpt_domain == 'a' && hostname == 'b'", 22, "unknown variable 'hostname'"},
      {"is_local_domian('', rcpt)", 0,
       "unknown function 'is_local_domian' (did you mean 'is_local_domain'?)"},
      {"lookup('', rcpt)", 0, "unknown function 'lookup'"},
      {"contains(rcpt)", 0, "function 'contains' takes 2 arguments, found 1"},
      {"priority == 1 || len(rcpt, sender)", 17, "function 'len' takes 1 argument, found 2"},
      {"starts_with(rcpt, 5)", 18, "argument 2 of 'starts_with' must be string, found integer"},
      {"contains(priority, 'a')", 9,
       "argument 1 of 'contains' must be string or list of strings, found integer"},
      {"in_list(rcpt, rcpt)", 14, "argument 2 of 'in_list' must be list of strings, found string"},
      {"rcpt_domain == 5", 12, "cannot compare string with integer using '=='"},
      {"priority != true", 9, "cannot compare integer with boolean using '!='"},
      {"rcpt < 'b'", 5, "'<' compares integers only, found string"},
      {"!rcpt", 1, "'!' needs a boolean operand, found string"},
      {"rcpt && true", 0, "'&&' needs boolean operands, found string"},
      {"true || priority", 8, "'||' needs boolean operands, found integer"},
      {"['a', 1]", 6, "list items must be strings, found integer"},
      {"matches(rcpt, rcpt)", 8,
       "argument 1 of 'matches' must be a string literal (the pattern is compiled once)"},
      {"matches('a(b', rcpt)", 12, "invalid regular expression: missing closing parenthesis"},
      {"matches('\\'x\\'(', rcpt)", 15, "invalid regular expression: missing closing parenthesis"},
      {"matches('[z-a]', rcpt)", 12,
       "invalid regular expression: range out of order in character class"},
      {"matches('(*UTF)a', rcpt)", 15,
       "invalid regular expression: using UTF is disabled by the application"},
  };
  for (const ErrorCase& c : cases) {
    Error e = check_error(c.text);
    EXPECT_EQ(e.offset, c.offset) << c.text;
    EXPECT_EQ(e.message, c.message) << c.text;
  }
}

TEST(ExprCheck, VariableNotAvailableInContext) {
  const std::string_view names[] = {"remote_ip", "local_ip", "helo_domain", "listener"};
  Environment env = Environment::with_variables("session.ehlo", names);
  EXPECT_EQ(type_ok("helo_domain == 'x'", env), Type::boolean);
  Error e = check_error("remote_ip == '::1' && rcpt == 'a'", TypeSet::any(), env);
  EXPECT_EQ(e.offset, 22u);
  EXPECT_EQ(e.message, "variable 'rcpt' is not available in context 'session.ehlo'");
}

TEST(ExprCheck, FunctionNotAvailableInContext) {
  Environment env("session.connect", {{"remote_ip", Type::string}}, {Builtin::starts_with});
  EXPECT_EQ(type_ok("starts_with(remote_ip, '10.')", env), Type::boolean);
  Error e = check_error("is_local_domain('', remote_ip)", TypeSet::any(), env);
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.message, "function 'is_local_domain' is not available in context 'session.connect'");
}

TEST(ExprCheck, CustomVariablesAndSuggestionsFromThem) {
  Environment env("custom", {{"tenant_id", Type::integer}}, {});
  EXPECT_EQ(type_ok("tenant_id == 3", env), Type::boolean);
  Error e = check_error("tenant_di == 3", TypeSet::any(), env);
  EXPECT_EQ(e.message, "unknown variable 'tenant_di' (did you mean 'tenant_id'?)");
}

TEST(ExprCheck, ExpectedType) {
  Error e = check_error("rcpt_domain", Type::boolean);
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.message, "expression has type string, expected boolean");
  e = check_error("priority == 1", TypeSet(Type::string) | Type::integer);
  EXPECT_EQ(e.message, "expression has type boolean, expected integer or string");
}

TEST(ExprCheck, OrBetweenStringLiteralsHint) {
  Error e = check_error("rcpt_domain == ('a' || 'b')");
  EXPECT_EQ(e.offset, 20u);
  EXPECT_EQ(e.message,
            "'||' between string literals is not a boolean; did you mean rcpt_domain == 'a' || "
            "rcpt_domain == 'b' or in_list(rcpt_domain, ['a', 'b'])?");
  e = check_error("('x.org' || 'y.org' || 'z.org') != sender_domain");
  EXPECT_EQ(e.offset, 9u);
  EXPECT_EQ(
      e.message,
      "'||' between string literals is not a boolean; did you mean sender_domain != 'x.org' && "
      "sender_domain != 'y.org' && sender_domain != 'z.org' or !in_list(sender_domain, ['x.org', "
      "'y.org', 'z.org'])?");
  e = check_error("rcpt == ('a' && 'b')");
  EXPECT_EQ(e.offset, 13u);
  EXPECT_EQ(
      e.message,
      "'&&' between string literals is not a boolean; did you mean rcpt == 'a' && rcpt == 'b'?");
  e = check_error("priority > 1 && ('a' || 'b')");
  EXPECT_EQ(e.offset, 21u);
  EXPECT_EQ(
      e.message,
      "'||' between string literals is not a boolean; did you mean in_list(value, ['a', 'b'])?");
}

TEST(ExprCheck, DidYouMeanStopsAtTwoEdits) {
  EXPECT_EQ(edit_distance("rcpt_domain", "rcpt_domain"), 0u);
  EXPECT_EQ(edit_distance("rcpt_domian", "rcpt_domain"), 1u);  // adjacent swap
  EXPECT_EQ(edit_distance("rcp_domai", "rcpt_domain"), 2u);
  EXPECT_EQ(edit_distance("rc_domai", "rcpt_domain"), 3u);
  EXPECT_EQ(check_error("rcp_domai == 'a'").message,
            "unknown variable 'rcp_domai' (did you mean 'rcpt_domain'?)");
  EXPECT_EQ(check_error("rc_domai == 'a'").message, "unknown variable 'rc_domai'");
}

TEST(ExprCheck, HandBuiltTreeTooDeepIsRefused) {
  Expr e = Expr::boolean_literal(true);
  for (std::size_t i = 0; i < kAstDepthMax; ++i) e = Expr::logical_not(std::move(e));
  Result<CheckedExpr> r = check(e, next_hop_env(), Type::boolean);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "expression nested deeper than 512");
  Expr ok = Expr::boolean_literal(true);
  for (std::size_t i = 0; i + 1 < kAstDepthMax; ++i) ok = Expr::logical_not(std::move(ok));
  EXPECT_TRUE(check(ok, next_hop_env(), Type::boolean).has_value());
}

TEST(ExprCheck, DeepestParsableTreeIsWithinTheCheckerDepth) {
  // 64 nesting levels of `[rcpt || rcpt && rcpt == ...]`: four tree levels each.
  std::string deep = "x";
  for (int i = 0; i < 64; ++i) deep = "[rcpt || rcpt && rcpt == " + deep + "]";
  Result<Expr> parsed = parse(deep);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(depth(*parsed), 4u * 64u + 1u);
  Result<CheckedExpr> r = check(*parsed, next_hop_env(), TypeSet::any());
  ASSERT_FALSE(r.has_value());  // a type error, not a depth error
  EXPECT_EQ(r.error().offset, 1u);
  EXPECT_EQ(r.error().message, "'||' needs boolean operands, found string");
}

TEST(ExprCheck, RecordsWhatEvaluationNeeds) {
  Result<CheckedExpr> r = compile_expression("matches('a', rcpt) && matches('b', sender)",
                                             next_hop_env(), Type::boolean);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->regexes.size(), 2u);
  EXPECT_TRUE(r->reads_variables);
  EXPECT_FALSE(r->uses_lookups);
  r = compile_expression("is_local_domain('', 'a.org')", next_hop_env(), Type::boolean);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->reads_variables);
  EXPECT_TRUE(r->uses_lookups);
}

}  // namespace
}  // namespace tern::protocol::route
