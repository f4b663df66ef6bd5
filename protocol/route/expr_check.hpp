// protocol/route/expr_check.hpp — the type checker: which names exist in a configuration
// context, what type each expression has, and compiling matches() patterns once.
//
// Contract:
// - An Environment is what the caller declares for one configuration key (its context,
//   e.g. "queue.outbound.next-hop"): the variables available there with their types, and
//   the built-in functions allowed there. The standard catalogs list every variable and
//   function Tern knows; a catalog name missing from the environment is "not available in
//   <context>", any other name is unknown (with a "did you mean" when one or two edits away).
// - check(ast, env, expected) returns a CheckedExpr (the tree with calls resolved and
//   regexes compiled, plus its type) or the first Error in evaluation order; Error::offset
//   is a byte offset in the text the tree was parsed from. It fails on: unknown variable,
//   variable or function not available in the context, unknown function, wrong number of
//   arguments, an argument or operand of the wrong type, comparing different types,
//   ordering (<, >, <=, >=) anything but integers, a matches() pattern that is not a string
//   literal or that PCRE2 refuses (offset of PCRE2's complaint inside the literal), a tree
//   deeper than kAstDepthMax, a result whose type is not in `expected`. `&&`/`||` between
//   string literals (rcpt_domain == ('a' || 'b')) is refused with a hint showing the
//   comparisons or in_list() that were probably meant.
// - Semantics the checker guarantees for eval.hpp: == and != compare values of the same
//   type exactly (strings byte for byte: the caller lowercases domains before binding
//   them; use eq_ignore_case or lowercase() otherwise); <, >, <=, >= compare integers.
// - Functions: is_local_domain(directory, domain), is_local_address(directory, address):
//   boolean, answered by the caller's Lookups; contains(string|list, string): substring or
//   membership; starts_with, ends_with, eq_ignore_case (ASCII) (string, string): boolean;
//   in_list(string, list): membership; matches(pattern literal, string): PCRE2 search;
//   len(string|list): integer; lowercase(string): string (ASCII).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"
#include "protocol/route/expr.hpp"
#include "protocol/route/expr_parser.hpp"

namespace tern::protocol::route {

struct CompiledRegex;

enum class Builtin : std::uint8_t {
  is_local_domain,
  is_local_address,
  contains,
  starts_with,
  ends_with,
  eq_ignore_case,
  in_list,
  matches,
  len,
  lowercase
};

inline constexpr std::size_t kFunctionParamsMax = 2;

struct FunctionSignature {
  std::string_view name;
  Builtin id;
  std::size_t arity;
  TypeSet params[kFunctionParamsMax];
  Type result;
};

struct VariableDecl {
  std::string name;
  Type type;
};

struct StandardVariable {
  std::string_view name;
  Type type;
};

// Every function and standard variable, in a fixed order (ties in "did you mean" go to the
// first). rcpt, rcpt_domain, sender, sender_domain, authenticated_as, listener, remote_ip,
// local_ip (text form), helo_domain, last_error: string; recipients: list of strings;
// priority, retry_num: integer.
std::span<const FunctionSignature> standard_functions();
std::span<const StandardVariable> standard_variables();
const FunctionSignature& signature_of(Builtin id);

class Environment {
 public:
  Environment(std::string context, std::vector<VariableDecl> variables,
              std::vector<Builtin> functions);
  // Every standard variable and function.
  static Environment standard(std::string context);
  // The named standard variables (names not in the catalog are ignored) and every function.
  static Environment with_variables(std::string context, std::span<const std::string_view> names);

  const std::string& context() const { return context_; }
  const std::vector<VariableDecl>& variables() const { return variables_; }
  const VariableDecl* find_variable(std::string_view name) const;
  bool has_function(Builtin id) const;

 private:
  std::string context_;
  std::vector<VariableDecl> variables_;
  std::vector<Builtin> functions_;
};

struct CheckedExpr {
  Expr ast;  // call nodes: slot = Builtin; matches() pattern literals: slot = regex index + 1
  Type type = Type::boolean;
  std::vector<std::shared_ptr<const CompiledRegex>> regexes;
  bool reads_variables = false;  // false and uses_lookups false: a constant
  bool uses_lookups = false;
};

// Above any tree parse() builds with the default depth_max of 64: one nesting level adds at
// most four tree levels (a list or call, then `||`, `&&`, a comparison inside it).
inline constexpr std::size_t kAstDepthMax = 512;

Result<CheckedExpr> check(Expr ast, const Environment& env, TypeSet expected);

// parse + check.
Result<CheckedExpr> compile_expression(std::string_view text, const Environment& env,
                                       TypeSet expected, const ParseLimits& limits = {});

// Edit distance (insertions, deletions, substitutions, adjacent swaps), exposed for tests.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace tern::protocol::route
