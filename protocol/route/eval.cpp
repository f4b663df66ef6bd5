#include "protocol/route/eval.hpp"

#include <algorithm>
#include <utility>

#include "protocol/route/regex.hpp"

namespace tern::protocol::route {

void Variables::set(std::string name, Value value) {
  values_.insert_or_assign(std::move(name), std::move(value));
}

const Value* Variables::find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

std::string_view lookup_function_name(LookupFunction function) {
  return function == LookupFunction::is_local_domain ? "is_local_domain" : "is_local_address";
}

std::string to_string(const LookupKey& key) {
  return std::string(lookup_function_name(key.function)) + "(" + quote_string(key.directory) +
         ", " + quote_string(key.key) + ")";
}

void LookupTable::set(LookupKey key, bool answer) {
  answers_.insert_or_assign(std::move(key), answer);
}

std::optional<bool> LookupTable::find(const LookupKey& key) const {
  auto it = answers_.find(key);
  if (it == answers_.end()) return std::nullopt;
  return it->second;
}

namespace {

// nullopt: unknown (an answer is missing), or a fault when Evaluator::fault is set.
using Maybe = std::optional<Value>;

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool list_has(const StringList& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

class Evaluator {
 public:
  Evaluator(const CheckedExpr& expr, const Variables& vars, const Lookups& lookups,
            RuleTrace* trace)
      : expr_(expr), vars_(vars), lookups_(lookups), trace_(trace) {}

  std::vector<LookupKey> missing;
  std::optional<EvalFault> fault;

  Maybe eval(const Expr& node) {
    switch (node.kind) {
      case NodeKind::string_literal: return Value(node.text);
      case NodeKind::integer_literal: return Value(node.integer);
      case NodeKind::boolean_literal: return Value(node.boolean);
      case NodeKind::list: return eval_list(node);
      case NodeKind::variable: return eval_variable(node);
      case NodeKind::call: return eval_call(node);
      case NodeKind::logical_not: return eval_not(node);
      case NodeKind::comparison: return eval_comparison(node);
      case NodeKind::logical_and:
      case NodeKind::logical_or: return eval_logical(node);
    }
    return malformed(node);
  }

 private:
  Maybe malformed(const Expr& node) {
    if (!fault) fault = EvalFault{node.offset, "malformed checked expression"};
    return std::nullopt;
  }

  Maybe eval_list(const Expr& node) {
    StringList items;
    items.reserve(node.children.size());
    for (const Expr& child : node.children) {
      Maybe v = eval(child);
      if (fault) return std::nullopt;
      const std::string* s = v ? std::get_if<std::string>(&*v) : nullptr;
      if (s == nullptr) return malformed(child);
      items.push_back(*s);
    }
    return Value(std::move(items));
  }

  Maybe eval_variable(const Expr& node) {
    const Value* v = vars_.find(node.text);
    if (v == nullptr) {
      fault = EvalFault{node.offset, "variable '" + node.text + "' is not bound"};
      return std::nullopt;
    }
    auto declared = static_cast<Type>(node.slot);
    if (type_of(*v) != declared) {
      fault = EvalFault{node.offset, "variable '" + node.text + "' is declared " +
                                         std::string(type_name(declared)) + " but bound to " +
                                         std::string(type_name(type_of(*v)))};
      return std::nullopt;
    }
    if (trace_ != nullptr) record_variable(node.text, *v);
    return *v;
  }

  void record_variable(const std::string& name, const Value& value) {
    auto& reads = trace_->variables;
    bool seen = std::any_of(reads.begin(), reads.end(),
                            [&](const VariableRead& r) { return r.name == name; });
    if (!seen) reads.push_back({name, value});
  }

  Maybe eval_not(const Expr& node) {
    if (node.children.size() != 1) return malformed(node);
    Maybe v = eval(node.children[0]);
    if (!v) return std::nullopt;
    const bool* b = std::get_if<bool>(&*v);
    if (b == nullptr) return malformed(node);
    return Value(!*b);
  }

  Maybe eval_comparison(const Expr& node) {
    if (node.children.size() != 2) return malformed(node);
    // Both sides are evaluated even when one is unknown, so one round asks for both lookups.
    Maybe left = eval(node.children[0]);
    if (fault) return std::nullopt;
    Maybe right = eval(node.children[1]);
    if (fault || !left || !right) return std::nullopt;
    if (left->index() != right->index()) return malformed(node);
    if (node.op == CompareOp::equal) return Value(*left == *right);
    if (node.op == CompareOp::not_equal) return Value(*left != *right);
    const auto* a = std::get_if<std::int64_t>(&*left);
    const auto* b = std::get_if<std::int64_t>(&*right);
    if (a == nullptr || b == nullptr) return malformed(node);
    switch (node.op) {
      case CompareOp::less: return Value(*a < *b);
      case CompareOp::greater: return Value(*a > *b);
      case CompareOp::less_equal: return Value(*a <= *b);
      default: return Value(*a >= *b);
    }
  }

  // Kleene logic: a known deciding operand (false for &&, true for ||) settles the chain
  // and drops the lookups the other operands asked for; otherwise unknown stays unknown.
  Maybe eval_logical(const Expr& node) {
    bool is_and = node.kind == NodeKind::logical_and;
    std::size_t mark = missing.size();
    bool unknown = false;
    for (const Expr& child : node.children) {
      Maybe v = eval(child);
      if (fault) return std::nullopt;
      if (!v) {
        unknown = true;
        continue;
      }
      const bool* b = std::get_if<bool>(&*v);
      if (b == nullptr) return malformed(child);
      if (*b != is_and) {
        missing.resize(mark);
        return Value(*b);
      }
    }
    if (unknown) return std::nullopt;
    return Value(is_and);
  }

  Maybe eval_call(const Expr& node) {
    auto id = static_cast<Builtin>(node.slot);
    std::vector<Value> args;
    args.reserve(node.children.size());
    bool unknown = false;
    for (std::size_t i = 0; i < node.children.size(); ++i) {
      if (id == Builtin::matches && i == 0) {
        args.emplace_back(node.children[0].text);  // compiled already; kept for arity
        continue;
      }
      Maybe v = eval(node.children[i]);
      if (fault) return std::nullopt;
      unknown = unknown || !v;
      args.push_back(v ? std::move(*v) : Value(false));
    }
    if (unknown) return std::nullopt;
    if (args.size() != signature_of(id).arity) return malformed(node);
    return apply(id, node, args);
  }

  Maybe apply(Builtin id, const Expr& node, const std::vector<Value>& args) {
    const auto* s0 = std::get_if<std::string>(&args[0]);
    const auto* l0 = std::get_if<StringList>(&args[0]);
    const auto* s1 = args.size() > 1 ? std::get_if<std::string>(&args[1]) : nullptr;
    const auto* l1 = args.size() > 1 ? std::get_if<StringList>(&args[1]) : nullptr;
    switch (id) {
      case Builtin::is_local_domain:
      case Builtin::is_local_address:
        if (s0 == nullptr || s1 == nullptr) break;
        return lookup(id == Builtin::is_local_domain ? LookupFunction::is_local_domain
                                                     : LookupFunction::is_local_address,
                      *s0, *s1);
      case Builtin::contains:
        if (s1 == nullptr) break;
        if (s0 != nullptr) return Value(s0->find(*s1) != std::string::npos);
        if (l0 != nullptr) return Value(list_has(*l0, *s1));
        break;
      case Builtin::starts_with:
        if (s0 == nullptr || s1 == nullptr) break;
        return Value(std::string_view(*s0).starts_with(*s1));
      case Builtin::ends_with:
        if (s0 == nullptr || s1 == nullptr) break;
        return Value(std::string_view(*s0).ends_with(*s1));
      case Builtin::eq_ignore_case:
        if (s0 == nullptr || s1 == nullptr) break;
        return Value(equal_ignore_case(*s0, *s1));
      case Builtin::in_list:
        if (s0 == nullptr || l1 == nullptr) break;
        return Value(list_has(*l1, *s0));
      case Builtin::matches: return match(node, s1);
      case Builtin::len:
        if (s0 != nullptr) return Value(static_cast<std::int64_t>(s0->size()));
        if (l0 != nullptr) return Value(static_cast<std::int64_t>(l0->size()));
        break;
      case Builtin::lowercase: {
        if (s0 == nullptr) break;
        std::string out = *s0;
        std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
        return Value(std::move(out));
      }
    }
    return malformed(node);
  }

  Maybe match(const Expr& node, const std::string* subject) {
    std::size_t slot = node.children.empty() ? 0 : node.children[0].slot;
    if (subject == nullptr || slot == 0 || slot > expr_.regexes.size() ||
        !expr_.regexes[slot - 1]) {
      return malformed(node);
    }
    return Value(regex_search(*expr_.regexes[slot - 1], *subject).matched);
  }

  Maybe lookup(LookupFunction function, const std::string& directory, const std::string& key) {
    LookupKey k{function, directory, key};
    std::optional<bool> answer = lookups_.find(k);
    if (trace_ != nullptr) trace_->lookups.push_back({k, answer});
    if (answer) return Value(*answer);
    if (std::find(missing.begin(), missing.end(), k) == missing.end())
      missing.push_back(std::move(k));
    return std::nullopt;
  }

  const CheckedExpr& expr_;
  const Variables& vars_;
  const Lookups& lookups_;
  RuleTrace* trace_;
};

// One expression of a rule: the value, or the outcome that ends the evaluation.
std::variant<Value, NeedsLookups, EvalFault> run(const CheckedExpr& expr, const Variables& vars,
                                                 const Lookups& lookups, RuleTrace* trace) {
  Evaluator ev(expr, vars, lookups, trace);
  Maybe v = ev.eval(expr.ast);
  if (ev.fault) return *ev.fault;
  if (!v) {
    if (ev.missing.empty()) return EvalFault{0, "undecided without a missing lookup"};
    return NeedsLookups{std::move(ev.missing)};
  }
  return std::move(*v);
}

RuleTrace* start_trace(Explanation* explain, const CompiledRule& rule, std::size_t index) {
  if (explain == nullptr) return nullptr;
  RuleTrace& t = explain->rules.emplace_back();
  t.rule_index = index;
  t.position = rule.position;
  if (rule.condition) t.condition_text = rule.condition_text;
  return &t;
}

// Turns a non-value step into the rule list's outcome, noting it in the explanation.
RulesOutcome stop(std::variant<Value, NeedsLookups, EvalFault>&& step, std::size_t index,
                  Explanation* explain) {
  if (auto* needs = std::get_if<NeedsLookups>(&step)) {
    if (explain != nullptr) explain->needs_lookups = needs->lookups;
    return std::move(*needs);
  }
  auto& fault = std::get<EvalFault>(step);
  if (explain != nullptr) explain->fault = fault.message;
  return RulesFault{index, std::move(fault)};
}

}  // namespace

ExprOutcome evaluate_expression(const CheckedExpr& expr, const Variables& variables,
                                const Lookups& lookups) {
  auto step = run(expr, variables, lookups, nullptr);
  if (auto* v = std::get_if<Value>(&step)) return std::move(*v);
  if (auto* n = std::get_if<NeedsLookups>(&step)) return std::move(*n);
  return std::get<EvalFault>(std::move(step));
}

RulesOutcome evaluate(const RuleList& rules, const Variables& variables, const Lookups& lookups,
                      Explanation* explain) {
  if (explain != nullptr) *explain = Explanation{};
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    const CompiledRule& rule = rules.rules[i];
    RuleTrace* trace = start_trace(explain, rule, i);
    if (rule.condition) {
      auto step = run(*rule.condition, variables, lookups, trace);
      const Value* v = std::get_if<Value>(&step);
      if (v == nullptr) return stop(std::move(step), i, explain);
      const bool* b = std::get_if<bool>(v);
      if (b == nullptr) return stop(EvalFault{0, "condition is not a boolean"}, i, explain);
      if (trace != nullptr) trace->condition_result = *b;
      if (!*b) continue;
    }
    auto step = run(rule.result, variables, lookups, trace);
    auto* v = std::get_if<Value>(&step);
    if (v == nullptr) return stop(std::move(step), i, explain);
    if (explain != nullptr) {
      explain->matched_rule = i;
      explain->result = *v;
    }
    return Matched{i, std::move(*v)};
  }
  return NoMatch{};
}

namespace {
void append_trace(std::string& out, const RuleTrace& t) {
  out += "rule " + std::to_string(t.rule_index + 1) + " at " + to_string(t.position) + ": ";
  out += t.condition_text ? "if " + *t.condition_text : std::string("else");
  out += '\n';
  for (const VariableRead& v : t.variables)
    out += "  " + v.name + " = " + format_value(v.value) + "\n";
  for (const LookupRead& l : t.lookups) {
    out += "  " + to_string(l.key) + " -> " +
           (l.answer ? (*l.answer ? "true" : "false") : "unknown") + "\n";
  }
  if (t.condition_text) {
    out += "  condition: ";
    out += t.condition_result ? (*t.condition_result ? "true" : "false") : "undecided";
    out += '\n';
  }
}
}  // namespace

std::string to_string(const Explanation& e) {
  std::string out;
  for (const RuleTrace& t : e.rules) append_trace(out, t);
  if (e.fault) {
    out += "fault: " + *e.fault + "\n";
  } else if (!e.needs_lookups.empty()) {
    out += "needs lookups:";
    for (const LookupKey& k : e.needs_lookups) {
      out += ' ';  // appended separately: GCC 12 -O3 warns falsely (-Wrestrict) on " " + s
      out += to_string(k);
    }
    out += '\n';
  } else if (e.matched_rule && e.result) {
    out += "matched rule " + std::to_string(*e.matched_rule + 1) + ": " + format_value(*e.result) +
           "\n";
  } else {
    out += "no rule matched\n";
  }
  return out;
}

}  // namespace tern::protocol::route
