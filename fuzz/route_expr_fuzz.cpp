// Fuzz target route_expr: any text as a routing expression (protocol/route/).
// Invariants checked (a violation aborts):
// - parse never fails with an offset past the end of the text;
// - if the text parses, print(ast) parses back to the same tree and prints the same text;
// - check errors point inside the text; a tree that checks also checks from its printed text;
// - if it checks, evaluation with every binding present never faults, is deterministic,
//   gives a value of the checked type once the lookups it asks for are answered (within
//   one round per node), and as a rule list's condition selects a rule.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/route/eval.hpp"
#include "protocol/route/expr_check.hpp"
#include "protocol/route/expr_parser.hpp"
#include "protocol/route/rules.hpp"

namespace route = tern::protocol::route;

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "route_expr invariant violated: %s\n", what);
    std::abort();
  }
}

route::Variables bindings() {
  route::Variables v;
  v.set("rcpt", std::string("user@example.org"));
  v.set("rcpt_domain", std::string("example.org"));
  v.set("sender", std::string("Alice@Sender.ORG"));
  v.set("sender_domain", std::string("sender.org"));
  v.set("recipients", route::StringList{"user@example.org", "b@y.net"});
  v.set("authenticated_as", std::string(""));
  v.set("listener", std::string("mx"));
  v.set("remote_ip", std::string("192.0.2.7"));
  v.set("local_ip", std::string("::1"));
  v.set("helo_domain", std::string("mail.sender.org"));
  v.set("priority", std::int64_t{1});
  v.set("retry_num", std::int64_t{3});
  v.set("last_error", std::string("451 4.7.1 try later"));
  return v;
}

// Every key has a fixed answer derived from its text.
bool oracle(const route::LookupKey& key) {
  std::uint64_t h = 1469598103934665603ull + static_cast<std::uint64_t>(key.function);
  for (char c : key.directory + '\0' + key.key)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return ((h >> 17) & 1) != 0;
}

route::ExprOutcome settle(const route::CheckedExpr& e, const route::Variables& vars) {
  route::LookupTable answers;
  std::size_t rounds_max = route::node_count(e.ast) + 1;
  for (std::size_t round = 0;; ++round) {
    route::ExprOutcome o = route::evaluate_expression(e, vars, answers);
    require(o == route::evaluate_expression(e, vars, answers), "evaluation is deterministic");
    auto* needs = std::get_if<route::NeedsLookups>(&o);
    if (needs == nullptr) return o;
    require(!needs->lookups.empty(), "NeedsLookups lists at least one lookup");
    require(round < rounds_max, "lookup rounds are bounded by the node count");
    for (const route::LookupKey& k : needs->lookups) {
      require(!answers.find(k).has_value(), "an answered lookup is not asked again");
      answers.set(k, oracle(k));
    }
  }
}

void check_rule_list(std::string_view text, const route::Environment& env,
                     const route::Variables& vars) {
  std::vector<route::RuleInput> in = {
      {std::string(text), route::RuleResultInput::expression_text("'hit'"), {"fuzz.toml", 1, 1}},
      {std::nullopt, route::RuleResultInput::literal_value(false), {"fuzz.toml", 2, 1}}};
  route::RulesCompilation c = route::compile_rules(in, env, {});
  require(c.ok(), "a boolean expression compiles as a condition");
  route::LookupTable answers;
  for (std::size_t round = 0; round < 4096; ++round) {
    route::Explanation ex;
    route::RulesOutcome o = route::evaluate(c.rules, vars, answers, &ex);
    require(!route::to_string(ex).empty(), "explain output is produced");
    if (auto* needs = std::get_if<route::NeedsLookups>(&o)) {
      for (const route::LookupKey& k : needs->lookups) answers.set(k, oracle(k));
      continue;
    }
    require(std::holds_alternative<route::Matched>(o), "a list with an else always matches");
    return;
  }
  require(false, "rule list settles");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const route::Environment env = route::Environment::standard("fuzz");
  tern::protocol::Result<route::Expr> ast = route::parse(text);
  if (!ast) {
    require(ast.error().offset <= size, "parse error offset inside the text");
    return 0;
  }
  std::string printed = route::print(*ast);
  // Canonical text adds spaces around operators, so it may outgrow text_bytes_max; every
  // other limit must still hold for it.
  route::ParseLimits printed_limits;
  printed_limits.text_bytes_max = SIZE_MAX;
  tern::protocol::Result<route::Expr> again = route::parse(printed, printed_limits);
  require(again.has_value(), "printed text parses");
  require(*again == *ast, "parse(print(ast)) == ast");
  require(route::print(*again) == printed, "print is idempotent");

  tern::protocol::Result<route::CheckedExpr> checked =
      route::check(*ast, env, route::TypeSet::any());
  if (!checked) {
    require(checked.error().offset <= size, "check error offset inside the text");
    require(!route::check(*again, env, route::TypeSet::any()).has_value(),
            "printed text fails too");
    return 0;
  }
  tern::protocol::Result<route::CheckedExpr> checked_again =
      route::check(*again, env, route::TypeSet::any());
  require(checked_again.has_value() && checked_again->type == checked->type,
          "printed text checks the same");

  route::Variables vars = bindings();
  route::ExprOutcome settled = settle(*checked, vars);
  require(!std::holds_alternative<route::EvalFault>(settled), "no fault with every variable bound");
  const auto* value = std::get_if<route::Value>(&settled);
  require(value != nullptr && route::type_of(*value) == checked->type, "value of the checked type");
  if (checked->type == route::Type::boolean) check_rule_list(text, env, vars);
  return 0;
}
