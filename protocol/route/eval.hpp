// protocol/route/eval.hpp — evaluating checked expressions and rule lists.
//
// Contract:
// - Inputs: a compiled RuleList (rules.hpp) or CheckedExpr, the Variables the caller binds
//   (values as the caller knows them: domains already lowercased, IPs in text form), and
//   the Lookups answers the caller already has for is_local_domain/is_local_address.
// - Output: the first rule whose condition is true gives Matched{rule, value}; no rule
//   matching gives NoMatch. When an answer is missing, evaluation does not guess: it stops
//   at the first rule it cannot decide and returns NeedsLookups with every lookup that rule
//   still needs (in order of first use, without duplicates, leaving out lookups that a
//   known operand already made irrelevant). The caller fetches them and evaluates again;
//   each round decides at least one more rule.
// - EvalFault is the caller's misuse, never the expression's: a variable the Environment
//   declared but the caller did not bind, or bound with another type.
// - Evaluation is total and deterministic: it never throws (short of std::bad_alloc),
//   visits each node at most once, and && / || short-circuit left to right (an operand after
//   a known false / true is not evaluated, so its variables, lookups and faults do not
//   happen). matches() work is bounded by regex.hpp's limits (a subject over the limit
//   does not match). No clock, no IO, no hash order.
// - Explain mode records, for each rule tried, its condition text, the variables it read
//   with their values, the lookups it consulted, and its result, plus which rule matched.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/route/expr.hpp"
#include "protocol/route/expr_check.hpp"
#include "protocol/route/rules.hpp"

namespace tern::protocol::route {

class Variables {
 public:
  void set(std::string name, Value value);
  const Value* find(std::string_view name) const;
  std::size_t size() const { return values_.size(); }

 private:
  std::map<std::string, Value, std::less<>> values_;
};

enum class LookupFunction : std::uint8_t { is_local_domain, is_local_address };
std::string_view lookup_function_name(LookupFunction function);

struct LookupKey {
  LookupFunction function = LookupFunction::is_local_domain;
  std::string directory;  // '' is the default directory
  std::string key;        // the domain or address

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  friend auto operator<=>(const LookupKey&, const LookupKey&) = default;
  friend bool operator==(const LookupKey&, const LookupKey&) = default;
};

std::string to_string(const LookupKey& key);  // is_local_domain('', 'example.org')

class Lookups {
 public:
  virtual ~Lookups() = default;
  // The answer, or nullopt when the caller does not have it yet.
  virtual std::optional<bool> find(const LookupKey& key) const = 0;
};

// Lookups backed by an ordered map, for callers that collect answers as they come.
class LookupTable final : public Lookups {
 public:
  void set(LookupKey key, bool answer);
  std::optional<bool> find(const LookupKey& key) const override;
  std::size_t size() const { return answers_.size(); }

 private:
  std::map<LookupKey, bool> answers_;
};

struct NeedsLookups {
  std::vector<LookupKey> lookups;
  friend bool operator==(const NeedsLookups&, const NeedsLookups&) = default;
};

struct EvalFault {
  std::size_t offset = 0;  // in the expression text
  std::string message;
  friend bool operator==(const EvalFault&, const EvalFault&) = default;
};

struct Matched {
  std::size_t rule_index = 0;
  Value value;
  friend bool operator==(const Matched&, const Matched&) = default;
};

struct NoMatch {
  friend bool operator==(const NoMatch&, const NoMatch&) = default;
};

// A fault while evaluating rule `rule_index` (its condition or its result).
struct RulesFault {
  std::size_t rule_index = 0;
  EvalFault fault;
  friend bool operator==(const RulesFault&, const RulesFault&) = default;
};

using RulesOutcome = std::variant<Matched, NoMatch, NeedsLookups, RulesFault>;
using ExprOutcome = std::variant<Value, NeedsLookups, EvalFault>;

struct VariableRead {
  std::string name;
  Value value;
};

struct LookupRead {
  LookupKey key;
  std::optional<bool> answer;
};

struct RuleTrace {
  std::size_t rule_index = 0;
  SourcePosition position;
  std::optional<std::string> condition_text;  // nullopt: unconditional rule
  std::vector<VariableRead> variables;        // first read order, each name once
  std::vector<LookupRead> lookups;
  std::optional<bool> condition_result;  // nullopt: undecided (lookups missing) or no condition
};

struct Explanation {
  std::vector<RuleTrace> rules;  // the rules tried, in order
  std::optional<std::size_t> matched_rule;
  std::optional<Value> result;
  std::vector<LookupKey> needs_lookups;  // when evaluation stopped for lookups
  std::optional<std::string> fault;
};

std::string to_string(const Explanation& explanation);

ExprOutcome evaluate_expression(const CheckedExpr& expr, const Variables& variables,
                                const Lookups& lookups);

RulesOutcome evaluate(const RuleList& rules, const Variables& variables, const Lookups& lookups,
                      Explanation* explain = nullptr);

}  // namespace tern::protocol::route
