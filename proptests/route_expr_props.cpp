// Properties of the routing expression language (protocol/route/):
// - parse(print(e)) == e for generated syntax trees (any names, any string bytes a literal
//   may hold, any int64);
// - generated well-typed expressions check, and evaluate deterministically and totally
//   for generated bindings and partial lookup answers;
// - the needs-lookups flow is sound: answering what is asked, round after round, ends in
//   the same value as evaluating with every answer known up front;
// - a rule list matches the first rule whose condition alone is true.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/route/eval.hpp"
#include "protocol/route/expr_check.hpp"
#include "protocol/route/expr_parser.hpp"
#include "protocol/route/rules.hpp"

namespace tern::protocol::route {
namespace {

// rc::gen::inRange scales with the test's size (size 0 always gives the minimum); choices of
// node kinds and depths use the whole range from the first case on, and still shrink.
template <class T>
T pick(T lo, T hi) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(lo, hi));
}

// ---- untyped trees, for the printer round trip -------------------------------------------

std::string gen_name() {
  static const std::string first = "abcxyzABZ_";
  static const std::string rest = "abcxyzABZ_0189";
  std::string name(1, *rc::gen::elementOf(first));
  std::size_t extra = pick<std::size_t>(0, 8);
  for (std::size_t i = 0; i < extra; ++i) name += *rc::gen::elementOf(rest);
  if (name == "true" || name == "false") name += "_";
  return name;
}

std::string gen_literal_text() {
  // Any byte a literal may hold: no control characters, everything else including ' \ and
  // bytes above 0x7f.
  auto byte = rc::gen::map(rc::gen::inRange(0x20, 0x100), [](int c) {
    return c == 0x7f ? '\'' : static_cast<char>(static_cast<unsigned char>(c));
  });
  return *rc::gen::resize(12, rc::gen::container<std::string>(byte));
}

Expr gen_tree(int depth);

std::vector<Expr> gen_children(int depth, std::size_t min, std::size_t max) {
  std::size_t n = pick(min, max + 1);
  std::vector<Expr> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(gen_tree(depth - 1));
  return out;
}

Expr gen_tree(int depth) {
  int kind = pick(0, depth <= 0 ? 4 : 10);
  switch (kind) {
    case 0: return Expr::string_literal(gen_literal_text());
    case 1: return Expr::integer_literal(*rc::gen::arbitrary<std::int64_t>());
    case 2: return Expr::boolean_literal(*rc::gen::arbitrary<bool>());
    case 3: return Expr::variable(gen_name());
    case 4: return Expr::list(gen_children(depth, 0, 3));
    case 5: return Expr::call(gen_name(), gen_children(depth, 0, 3));
    case 6: return Expr::logical_not(gen_tree(depth - 1));
    case 7: {
      auto op = static_cast<CompareOp>(pick(0, 6));
      return Expr::comparison(op, gen_tree(depth - 1), gen_tree(depth - 1));
    }
    case 8: return Expr::logical_and(gen_children(depth, 2, 4));
    default: return Expr::logical_or(gen_children(depth, 2, 4));
  }
}

RC_GTEST_PROP(RouteExpr, ParsePrintRoundTrips, ()) {
  Expr e = gen_tree(pick(0, 5));
  std::string text = print(e);
  Result<Expr> back = parse(text);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == e);
  RC_ASSERT(print(*back) == text);
}

// ---- well-typed trees, for the checker and the evaluator ----------------------------------

const std::vector<std::string> string_vars = {
    "rcpt",     "rcpt_domain", "sender",   "sender_domain", "authenticated_as",
    "listener", "remote_ip",   "local_ip", "helo_domain",   "last_error"};
const std::vector<std::string> small_strings = {"", "a", "A", "a.org", "b.org", "x@a.org", "'\\"};
const std::vector<std::string> patterns = {"^a", "org$", "(?i)A", "^(a+)+$", "x@", "."};

Expr gen_str(int depth);
Expr gen_list(int depth);

Expr gen_int(int depth) {
  int kind = pick(0, depth <= 0 ? 3 : 5);
  switch (kind) {
    case 0:
      return Expr::integer_literal(
          *rc::gen::element<std::int64_t>(0, 1, 2, -1, INT64_MIN, INT64_MAX));
    case 1: return Expr::variable("priority");
    case 2: return Expr::variable("retry_num");
    case 3: return Expr::call("len", {gen_str(depth - 1)});
    default: return Expr::call("len", {gen_list(depth - 1)});
  }
}

Expr gen_str(int depth) {
  int kind = pick(0, depth <= 0 ? 2 : 3);
  if (kind == 0) return Expr::string_literal(*rc::gen::elementOf(small_strings));
  if (kind == 1) return Expr::variable(*rc::gen::elementOf(string_vars));
  return Expr::call("lowercase", {gen_str(depth - 1)});
}

Expr gen_list(int depth) {
  if (pick(0, 2) == 0) return Expr::variable("recipients");
  std::size_t n = pick<std::size_t>(0, 3);
  std::vector<Expr> items;
  for (std::size_t i = 0; i < n; ++i) items.push_back(gen_str(depth - 1));
  return Expr::list(std::move(items));
}

Expr gen_bool(int depth);

Expr gen_bool_call(int depth) {
  int kind = pick(0, 12) % 10;  // lookups (0, 1) twice as often
  const char* names[] = {"is_local_domain", "is_local_address", "starts_with", "ends_with",
                         "eq_ignore_case"};
  switch (kind) {
    case 5: return Expr::call("contains", {gen_list(depth - 1), gen_str(depth - 1)});
    case 6: return Expr::call("in_list", {gen_str(depth - 1), gen_list(depth - 1)});
    case 7:
      return Expr::call("matches",
                        {Expr::string_literal(*rc::gen::elementOf(patterns)), gen_str(depth - 1)});
    case 8: return Expr::call("contains", {gen_str(depth - 1), gen_str(depth - 1)});
    case 9: return Expr::call("is_local_domain", {gen_str(depth - 1), gen_str(depth - 1)});
    default: return Expr::call(names[kind], {gen_str(depth - 1), gen_str(depth - 1)});
  }
}

Expr gen_bool(int depth) {
  int kind = pick(0, depth <= 0 ? 2 : 10);
  switch (kind) {
    case 0: return Expr::boolean_literal(*rc::gen::arbitrary<bool>());
    case 8: return Expr::call("is_local_domain", {gen_str(depth - 1), gen_str(depth - 1)});
    case 9: return Expr::call("is_local_address", {gen_str(depth - 1), gen_str(depth - 1)});
    case 1: return gen_bool_call(depth);
    case 2: return Expr::logical_not(gen_bool(depth - 1));
    case 3: {
      auto op = static_cast<CompareOp>(pick(0, 6));
      return Expr::comparison(op, gen_int(depth - 1), gen_int(depth - 1));
    }
    case 4: {
      auto op = *rc::gen::element(CompareOp::equal, CompareOp::not_equal);
      return *rc::gen::arbitrary<bool>()
                 ? Expr::comparison(op, gen_str(depth - 1), gen_str(depth - 1))
                 : Expr::comparison(op, gen_list(depth - 1), gen_list(depth - 1));
    }
    case 5: return Expr::logical_and({gen_bool(depth - 1), gen_bool(depth - 1)});
    case 6:
      return Expr::logical_or({gen_bool(depth - 1), gen_bool(depth - 1), gen_bool(depth - 1)});
    default: return Expr::comparison(CompareOp::equal, gen_bool(depth - 1), gen_bool(depth - 1));
  }
}

Variables gen_variables() {
  Variables v;
  for (const std::string& name : string_vars) v.set(name, *rc::gen::elementOf(small_strings));
  v.set("priority", *rc::gen::element<std::int64_t>(0, 1, 2, -1));
  v.set("retry_num", *rc::gen::element<std::int64_t>(0, 3, INT64_MAX));
  std::vector<std::string> rcpts;
  std::size_t n = pick<std::size_t>(0, 3);
  for (std::size_t i = 0; i < n; ++i) rcpts.push_back(*rc::gen::elementOf(small_strings));
  v.set("recipients", rcpts);
  return v;
}

// Answers from a seed: every key has a fixed answer; `known` leaves some of them out.
class SeededLookups final : public Lookups {
 public:
  SeededLookups(std::uint64_t seed, bool all_known) : seed_(seed), all_known_(all_known) {}
  std::optional<bool> find(const LookupKey& key) const override {
    std::uint64_t h = hash(key);
    if (!all_known_ && (h & 2) != 0) return std::nullopt;
    return (h & 1) != 0;
  }
  std::uint64_t hash(const LookupKey& key) const {
    std::uint64_t h = 1469598103934665603ull ^ seed_ ^ static_cast<std::uint64_t>(key.function);
    for (char c : key.directory + '\0' + key.key)
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h ^ (h >> 29);
  }

 private:
  std::uint64_t seed_;
  bool all_known_;
};

// Evaluates, answering each round's lookups from `oracle`, until a value or a fault.
ExprOutcome evaluate_in_rounds(const CheckedExpr& e, const Variables& vars,
                               const SeededLookups& partial, const SeededLookups& oracle,
                               std::size_t& rounds) {
  LookupTable answered;
  struct Both final : Lookups {
    const Lookups& a;
    const Lookups& b;
    Both(const Lookups& x, const Lookups& y) : a(x), b(y) {}
    std::optional<bool> find(const LookupKey& k) const override {
      auto r = a.find(k);
      return r ? r : b.find(k);
    }
  };
  for (rounds = 0;; ++rounds) {
    ExprOutcome o = evaluate_expression(e, vars, Both(partial, answered));
    auto* needs = std::get_if<NeedsLookups>(&o);
    if (needs == nullptr) return o;
    if (needs->lookups.empty() || rounds > node_count(e.ast)) return o;
    for (const LookupKey& k : needs->lookups) answered.set(k, *oracle.find(k));
  }
}

// An independent, naive reading of the semantics (every operand evaluated, every lookup
// answered), to hold the real evaluator to.
Value reference_eval(const Expr& e, const Variables& vars, const Lookups& oracle);

bool ref_bool(const Expr& e, const Variables& vars, const Lookups& oracle) {
  return std::get<bool>(reference_eval(e, vars, oracle));
}
std::string ref_str(const Expr& e, const Variables& vars, const Lookups& oracle) {
  return std::get<std::string>(reference_eval(e, vars, oracle));
}

Value reference_call(const Expr& e, const Variables& vars, const Lookups& oracle) {
  const std::string& f = e.text;
  if (f == "len") {
    Value v = reference_eval(e.children[0], vars, oracle);
    if (auto* s = std::get_if<std::string>(&v)) return static_cast<std::int64_t>(s->size());
    return static_cast<std::int64_t>(std::get<StringList>(v).size());
  }
  if (f == "lowercase") {
    std::string s = ref_str(e.children[0], vars, oracle);
    for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    return s;
  }
  if (f == "matches") {
    // Only the generator's fixed patterns, spelled out by hand.
    const std::string& p = e.children[0].text;
    std::string s = ref_str(e.children[1], vars, oracle);
    if (p == "^a") return !s.empty() && s[0] == 'a';
    if (p == "org$") return s.size() >= 3 && s.substr(s.size() - 3) == "org";
    if (p == "(?i)A") return s.find_first_of("aA") != std::string::npos;
    if (p == "^(a+)+$") return !s.empty() && s.find_first_not_of('a') == std::string::npos;
    if (p == "x@") return s.find("x@") != std::string::npos;
    return !s.empty();  // "."
  }
  Value a = reference_eval(e.children[0], vars, oracle);
  Value b = reference_eval(e.children[1], vars, oracle);
  if (f == "is_local_domain" || f == "is_local_address") {
    LookupKey k{
        f == "is_local_domain" ? LookupFunction::is_local_domain : LookupFunction::is_local_address,
        std::get<std::string>(a), std::get<std::string>(b)};
    return *oracle.find(k);
  }
  if (f == "in_list") std::swap(a, b);
  if (f == "contains" || f == "in_list") {
    if (auto* l = std::get_if<StringList>(&a)) {
      return std::count(l->begin(), l->end(), std::get<std::string>(b)) > 0;
    }
    return std::get<std::string>(a).find(std::get<std::string>(b)) != std::string::npos;
  }
  const std::string& x = std::get<std::string>(a);
  const std::string& y = std::get<std::string>(b);
  if (f == "starts_with") return x.rfind(y, 0) == 0;
  if (f == "ends_with")
    return x.size() >= y.size() && x.compare(x.size() - y.size(), y.size(), y) == 0;
  // eq_ignore_case
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(x[i])) !=
        std::tolower(static_cast<unsigned char>(y[i])))
      return false;
  }
  return true;
}

Value reference_eval(const Expr& e, const Variables& vars, const Lookups& oracle) {
  switch (e.kind) {
    case NodeKind::string_literal: return e.text;
    case NodeKind::integer_literal: return e.integer;
    case NodeKind::boolean_literal: return e.boolean;
    case NodeKind::variable: return *vars.find(e.text);
    case NodeKind::list: {
      StringList items;
      for (const Expr& c : e.children) items.push_back(ref_str(c, vars, oracle));
      return items;
    }
    case NodeKind::call: return reference_call(e, vars, oracle);
    case NodeKind::logical_not: return !ref_bool(e.children[0], vars, oracle);
    case NodeKind::logical_and:
    case NodeKind::logical_or: {
      bool any = false, all = true;
      for (const Expr& c : e.children) {
        bool b = ref_bool(c, vars, oracle);
        any = any || b;
        all = all && b;
      }
      return e.kind == NodeKind::logical_and ? all : any;
    }
    case NodeKind::comparison: {
      Value a = reference_eval(e.children[0], vars, oracle);
      Value b = reference_eval(e.children[1], vars, oracle);
      switch (e.op) {
        case CompareOp::equal: return a == b;
        case CompareOp::not_equal: return a != b;
        case CompareOp::less: return std::get<std::int64_t>(a) < std::get<std::int64_t>(b);
        case CompareOp::greater: return std::get<std::int64_t>(a) > std::get<std::int64_t>(b);
        case CompareOp::less_equal: return std::get<std::int64_t>(a) <= std::get<std::int64_t>(b);
        case CompareOp::greater_equal:
          return std::get<std::int64_t>(a) >= std::get<std::int64_t>(b);
      }
    }
  }
  return false;
}

const Environment& env() {
  static const Environment e = Environment::standard("props");
  return e;
}

RC_GTEST_PROP(RouteExpr, TypedExpressionsCheckAndRoundTrip, ()) {
  Expr e = gen_bool(pick(0, 5));
  Result<CheckedExpr> checked = check(e, env(), Type::boolean);
  RC_ASSERT(checked.has_value());
  Result<CheckedExpr> again = compile_expression(print(e), env(), Type::boolean);
  RC_ASSERT(again.has_value());
  RC_ASSERT(again->ast == e);
}

RC_GTEST_PROP(RouteExpr, EvaluationIsDeterministicTotalAndSound, (std::uint64_t seed)) {
  Expr e = gen_bool(pick(1, 7));
  Result<CheckedExpr> checked = check(e, env(), Type::boolean);
  RC_ASSERT(checked.has_value());
  Variables vars = gen_variables();
  SeededLookups partial(seed, false);
  SeededLookups oracle(seed, true);

  ExprOutcome first = evaluate_expression(*checked, vars, partial);
  RC_ASSERT(first == evaluate_expression(*checked, vars, partial));
  RC_ASSERT(!std::holds_alternative<EvalFault>(first));

  ExprOutcome full = evaluate_expression(*checked, vars, oracle);
  RC_ASSERT(std::holds_alternative<Value>(full));
  RC_ASSERT(std::holds_alternative<bool>(std::get<Value>(full)));
  RC_ASSERT(std::get<Value>(full) == reference_eval(e, vars, oracle));
  // A value reached with partial answers is the value with all answers.
  if (std::holds_alternative<Value>(first)) RC_ASSERT(first == full);
  if (auto* needs = std::get_if<NeedsLookups>(&first)) {
    RC_ASSERT(!needs->lookups.empty());
    for (const LookupKey& k : needs->lookups) RC_ASSERT(!partial.find(k).has_value());
  }
  std::size_t rounds = 0;
  ExprOutcome settled = evaluate_in_rounds(*checked, vars, partial, oracle, rounds);
  RC_ASSERT(settled == full);
  RC_ASSERT(rounds <= node_count(e));
}

RC_GTEST_PROP(RouteExpr, RuleListMatchesFirstTrueCondition, (std::uint64_t seed)) {
  std::size_t n = pick<std::size_t>(1, 5);
  std::vector<RuleInput> inputs;
  std::vector<CheckedExpr> conditions;
  for (std::size_t i = 0; i < n; ++i) {
    Expr cond = gen_bool(pick(0, 4));
    inputs.push_back({print(cond),
                      RuleResultInput::literal_value(std::string("host") + std::to_string(i)),
                      {"props.toml", static_cast<std::uint32_t>(i + 1), 1}});
    conditions.push_back(*check(cond, env(), Type::boolean));
  }
  RulesCompilation c = compile_rules(inputs, env(), {});
  RC_ASSERT(c.ok());
  Variables vars = gen_variables();
  SeededLookups oracle(seed, true);
  RulesOutcome got = evaluate(c.rules, vars, oracle);
  RC_ASSERT(got == evaluate(c.rules, vars, oracle));
  RulesOutcome expected = NoMatch{};
  for (std::size_t i = 0; i < n; ++i) {
    if (reference_eval(conditions[i].ast, vars, oracle) == Value(true)) {
      expected = Matched{i, std::string("host") + std::to_string(i)};
      break;
    }
  }
  RC_ASSERT(got == expected);
}

}  // namespace
}  // namespace tern::protocol::route
