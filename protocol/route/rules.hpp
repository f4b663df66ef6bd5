// protocol/route/rules.hpp — rule lists: `[ { if = "...", then = "..." }, { else = ... } ]`
// and plain values (`next-hop = "relay"`, `next-hop = false`), compiled for eval.hpp.
//
// Contract:
// - The caller (the config loader) extracts each rule's condition text, its result (an
//   expression text, or a literal value when the TOML value is a plain value or a bare
//   boolean/integer) and its source position; this module never sees TOML. A plain value
//   is one RuleInput without a condition.
// - compile_rules(inputs, env, options) parses and checks every condition (must be
//   boolean) and every result (its type must be in options.result_types) and returns all
//   errors, not only the first, each with the rule's position and the byte offset inside
//   the failing text. It fails on: an empty list, more than rules_max rules, a rule without
//   a condition (an `else`) that is not the last rule, any parse or check error.
// - Warnings (the list still compiles): a rule after one whose condition is constant true
//   (`true`, `1 == 1`: no variables, no lookups) is unreachable; a constant false
//   condition never matches.
// - A compiled RuleList is immutable and may be shared between threads; literal_result
//   and string_results() give the config layer the literal values each rule can return
//   (e.g. to check that every `then` names a remote host that exists).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/route/expr.hpp"
#include "protocol/route/expr_check.hpp"
#include "protocol/route/expr_parser.hpp"

namespace tern::protocol::route {

// Where a rule was written; filled by the caller, only carried and printed here.
struct SourcePosition {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  friend bool operator==(const SourcePosition&, const SourcePosition&) = default;
};

std::string to_string(const SourcePosition& position);

// A rule's result: an expression text ("'local'", "rcpt_domain") or a literal value (the
// plain TOML string "relay", false, 25).
struct RuleResultInput {
  bool is_expression = false;
  std::string expression;
  Value literal;

  static RuleResultInput expression_text(std::string text);
  static RuleResultInput literal_value(Value value);
};

struct RuleInput {
  std::optional<std::string> condition;  // nullopt: `else`, or a plain value
  RuleResultInput result;
  SourcePosition position;
};

struct RulesOptions {
  TypeSet result_types = TypeSet::any();
  ParseLimits limits;
  std::size_t rules_max = 64;
};

struct Diagnostic {
  SourcePosition position;
  std::optional<std::size_t> rule_index;  // nullopt: about the list as a whole
  bool in_condition = false;  // the offset is inside the condition text, else the result
  std::size_t offset = 0;
  std::string message;
};

std::string to_string(const Diagnostic& diagnostic);

struct CompiledRule {
  std::optional<CheckedExpr> condition;  // nullopt: matches unconditionally
  CheckedExpr result;
  std::optional<Value> literal_result;  // set when the result is a literal ('local', false)
  std::string condition_text;           // as written, for explain output
  std::string result_text;
  SourcePosition position;
};

struct StringResult {
  std::size_t rule_index;
  std::string value;
  SourcePosition position;
};

struct RuleList {
  std::vector<CompiledRule> rules;

  // Every string literal a rule can return, in rule order.
  std::vector<StringResult> string_results() const;
  // True when some result is computed (a variable, lowercase(...)) and so cannot be
  // checked against the configuration ahead of time.
  bool has_computed_results() const;
};

struct RulesCompilation {
  RuleList rules;  // meaningful only when errors is empty
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;

  bool ok() const { return errors.empty(); }
};

RulesCompilation compile_rules(std::span<const RuleInput> inputs, const Environment& env,
                               const RulesOptions& options = {});

}  // namespace tern::protocol::route
