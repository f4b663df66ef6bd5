#include "protocol/route/rules.hpp"

#include <utility>

#include "protocol/route/eval.hpp"

namespace tern::protocol::route {

RuleResultInput RuleResultInput::expression_text(std::string text) {
  RuleResultInput r;
  r.is_expression = true;
  r.expression = std::move(text);
  return r;
}

RuleResultInput RuleResultInput::literal_value(Value value) {
  RuleResultInput r;
  r.literal = std::move(value);
  return r;
}

std::string to_string(const SourcePosition& p) {
  if (p.file.empty() && p.line == 0) return "?";
  return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

std::string to_string(const Diagnostic& d) {
  std::string out = to_string(d.position) + ": ";
  if (d.rule_index) {
    out += "rule " + std::to_string(*d.rule_index + 1) +
           (d.in_condition ? ", condition" : ", result") + " at byte " + std::to_string(d.offset) +
           ": ";
  }
  return out + d.message;
}

std::vector<StringResult> RuleList::string_results() const {
  std::vector<StringResult> out;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& lit = rules[i].literal_result;
    if (lit && type_of(*lit) == Type::string)
      out.push_back({i, std::get<std::string>(*lit), rules[i].position});
  }
  return out;
}

bool RuleList::has_computed_results() const {
  for (const CompiledRule& r : rules) {
    if (!r.literal_result) return true;
  }
  return false;
}

namespace {

Expr literal_to_ast(const Value& value) {
  switch (type_of(value)) {
    case Type::boolean: return Expr::boolean_literal(std::get<bool>(value));
    case Type::integer: return Expr::integer_literal(std::get<std::int64_t>(value));
    case Type::string: return Expr::string_literal(std::get<std::string>(value));
    case Type::string_list: {
      std::vector<Expr> items;
      for (const std::string& s : std::get<StringList>(value))
        items.push_back(Expr::string_literal(s));
      return Expr::list(std::move(items));
    }
  }
  return Expr::boolean_literal(false);
}

// The value of a tree made only of literals, else nullopt.
std::optional<Value> literal_of(const Expr& e) {
  switch (e.kind) {
    case NodeKind::string_literal: return Value(e.text);
    case NodeKind::integer_literal: return Value(e.integer);
    case NodeKind::boolean_literal: return Value(e.boolean);
    case NodeKind::list: {
      StringList items;
      for (const Expr& c : e.children) {
        if (c.kind != NodeKind::string_literal) return std::nullopt;
        items.push_back(c.text);
      }
      return Value(std::move(items));
    }
    default: return std::nullopt;
  }
}

Diagnostic diagnostic(const RuleInput& in, std::size_t index, bool in_condition, const Error& e) {
  return Diagnostic{in.position, index, in_condition, e.offset, e.message};
}

std::optional<CompiledRule> compile_one(const RuleInput& in, std::size_t index,
                                        const Environment& env, const RulesOptions& options,
                                        std::vector<Diagnostic>& errors) {
  CompiledRule rule;
  rule.position = in.position;
  bool ok = true;
  if (in.condition) {
    rule.condition_text = *in.condition;
    auto c = compile_expression(*in.condition, env, Type::boolean, options.limits);
    if (c) {
      rule.condition = std::move(*c);
    } else {
      errors.push_back(diagnostic(in, index, true, c.error()));
      ok = false;
    }
  }
  Result<CheckedExpr> r =
      in.result.is_expression
          ? compile_expression(in.result.expression, env, options.result_types, options.limits)
          : check(literal_to_ast(in.result.literal), env, options.result_types);
  if (!r) {
    errors.push_back(diagnostic(in, index, false, r.error()));
    return std::nullopt;
  }
  rule.result_text =
      in.result.is_expression ? in.result.expression : format_value(in.result.literal);
  rule.literal_result = literal_of(r->ast);
  rule.result = std::move(*r);
  if (!ok) return std::nullopt;
  return rule;
}

// The value of a condition that reads no variable and no lookup, else nullopt.
std::optional<bool> constant_condition(const CompiledRule& rule) {
  if (!rule.condition) return true;
  if (rule.condition->reads_variables || rule.condition->uses_lookups) return std::nullopt;
  ExprOutcome o = evaluate_expression(*rule.condition, Variables{}, LookupTable{});
  const Value* v = std::get_if<Value>(&o);
  const bool* b = v != nullptr ? std::get_if<bool>(v) : nullptr;
  if (b == nullptr) return std::nullopt;
  return *b;
}

void add_reachability_warnings(const RuleList& list, std::vector<Diagnostic>& warnings) {
  for (std::size_t i = 0; i < list.rules.size(); ++i) {
    std::optional<bool> constant = constant_condition(list.rules[i]);
    if (!constant || !list.rules[i].condition) continue;
    const SourcePosition& pos = list.rules[i].position;
    if (!*constant) {
      warnings.push_back({pos, i, true, 0, "condition is always false; this rule never matches"});
      continue;
    }
    for (std::size_t j = i + 1; j < list.rules.size(); ++j) {
      warnings.push_back({list.rules[j].position, j, true, 0,
                          "rule is unreachable: rule " + std::to_string(i + 1) + " at " +
                              to_string(pos) + " always matches"});
    }
    return;
  }
}

}  // namespace

RulesCompilation compile_rules(std::span<const RuleInput> inputs, const Environment& env,
                               const RulesOptions& options) {
  RulesCompilation out;
  if (inputs.empty()) {
    Diagnostic empty;  // named, not braced: GCC 12 -O3 warns falsely (-Wmaybe-uninitialized)
    empty.message = "rule list is empty";
    out.errors.push_back(std::move(empty));
    return out;
  }
  if (inputs.size() > options.rules_max) {
    out.errors.push_back({inputs[options.rules_max].position, std::nullopt, false, 0,
                          "more than " + std::to_string(options.rules_max) + " rules"});
    return out;
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].condition && i + 1 != inputs.size()) {
      out.errors.push_back({inputs[i].position, i, false, 0,
                            "a rule without a condition ('else') must be the last rule"});
    }
    std::optional<CompiledRule> rule = compile_one(inputs[i], i, env, options, out.errors);
    if (rule) out.rules.rules.push_back(std::move(*rule));
  }
  if (!out.errors.empty()) {
    out.rules.rules.clear();
    return out;
  }
  add_reachability_warnings(out.rules, out.warnings);
  return out;
}

}  // namespace tern::protocol::route
