// protocol/route/expr.hpp — the syntax tree, types and values of Tern's configuration
// expressions (`is_local_domain('', rcpt_domain)`, `priority > 2 && sender_domain != ''`).
//
// Contract:
// - An Expr is a plain value tree. parse() (expr_parser.hpp) builds it, print() gives it back
//   as canonical text, check() (expr_check.hpp) types it, eval.hpp evaluates it.
// - Equality (operator==) is structural: it compares kinds, operators, names and literal
//   values and ignores `offset` and `slot`, so parse(print(e)) == e holds for every tree
//   parse() can produce.
// - `&&` and `||` are n-ary (two or more children) so that long chains stay shallow;
//   comparisons do not chain (`a == b == c` is a parse error), so the depth of a tree is
//   bounded by the nesting the text spells out.
// - Values are one of four types: boolean, integer (int64), string (bytes, compared
//   exactly), list of strings. There is no implicit conversion between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tern::protocol::route {

enum class Type : std::uint8_t { boolean, integer, string, string_list };

std::string_view type_name(Type type);

// A set of acceptable types (an argument that takes a string or a list, a rule result that
// may be a host name or `false`).
class TypeSet {
 public:
  constexpr TypeSet() = default;
  constexpr TypeSet(Type type) : bits_(bit(type)) {}  // NOLINT(google-explicit-constructor)
  static constexpr TypeSet any() {
    return TypeSet(Type::boolean) | Type::integer | Type::string | Type::string_list;
  }
  constexpr bool contains(Type type) const { return (bits_ & bit(type)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  friend constexpr TypeSet operator|(TypeSet a, TypeSet b) { return TypeSet(a.bits_ | b.bits_); }
  friend constexpr bool operator==(TypeSet, TypeSet) = default;

 private:
  constexpr explicit TypeSet(unsigned bits) : bits_(static_cast<std::uint8_t>(bits)) {}
  static constexpr unsigned bit(Type type) { return 1u << static_cast<unsigned>(type); }
  std::uint8_t bits_ = 0;
};

// "string or boolean", for messages.
std::string type_set_name(TypeSet set);

using StringList = std::vector<std::string>;
// The index order matches Type: boolean, integer, string, string_list.
using Value = std::variant<bool, std::int64_t, std::string, StringList>;

Type type_of(const Value& value);
// The value in expression syntax: true, -3, 'it\'s', ['a', 'b'].
std::string format_value(const Value& value);
// A string literal in expression syntax: quotes added, `'` and `\` escaped.
std::string quote_string(std::string_view text);

enum class NodeKind : std::uint8_t {
  string_literal,   // text
  integer_literal,  // integer
  boolean_literal,  // boolean
  list,             // children: the items
  variable,         // text: the name
  call,             // text: the function name; children: the arguments
  logical_not,      // children[0]
  comparison,       // op; children[0], children[1]
  logical_and,      // children: two or more operands
  logical_or,       // children: two or more operands
};

enum class CompareOp : std::uint8_t { equal, not_equal, less, greater, less_equal, greater_equal };

std::string_view compare_op_text(CompareOp op);

struct Expr {
  NodeKind kind = NodeKind::boolean_literal;
  CompareOp op = CompareOp::equal;
  std::string text;
  std::int64_t integer = 0;
  bool boolean = false;
  std::vector<Expr> children;
  // Byte offset in the source text: the first byte of a literal, name, '[' or '!', and the
  // operator of a comparison, `&&` or `||` (where a type error about it points).
  std::size_t offset = 0;
  // Filled by check(): the function of a call, the regex of a matches() pattern.
  std::uint32_t slot = 0;

  static Expr string_literal(std::string value, std::size_t offset = 0);
  static Expr integer_literal(std::int64_t value, std::size_t offset = 0);
  static Expr boolean_literal(bool value, std::size_t offset = 0);
  static Expr list(std::vector<Expr> items, std::size_t offset = 0);
  static Expr variable(std::string name, std::size_t offset = 0);
  static Expr call(std::string name, std::vector<Expr> args, std::size_t offset = 0);
  static Expr logical_not(Expr operand, std::size_t offset = 0);
  static Expr comparison(CompareOp op, Expr left, Expr right, std::size_t offset = 0);
  static Expr logical_and(std::vector<Expr> operands, std::size_t offset = 0);
  static Expr logical_or(std::vector<Expr> operands, std::size_t offset = 0);

  friend bool operator==(const Expr& a, const Expr& b);
};

// The offset of the first byte of the text the node covers (the left operand's start for
// operators), for errors about a whole subexpression.
std::size_t start_offset(const Expr& node);

// Number of nodes and depth (a leaf has depth 1).
std::size_t node_count(const Expr& node);
std::size_t depth(const Expr& node);

}  // namespace tern::protocol::route
