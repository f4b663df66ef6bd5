// config/value.hpp — typed configuration values and where in a file they came from.
//
// Contract: a Value is what the loader keeps for one key after checking it against the
// key's ValueType (config/schema.hpp); each alternative corresponds to one type:
//   string, choice      -> std::string          boolean  -> bool
//   integer, port       -> std::int64_t          duration -> protocol::Duration
//   size                -> Bytes                 string_list -> std::vector<std::string>
//   expression          -> Expression            table_list  -> TableList
// An Expression is kept as source text with positions; compiling it is the business of
// protocol/route, which reports errors against these positions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/core/time.hpp"

namespace tern::config {

struct SourcePos {
  std::string file;          // as given to the loader; "<default>" for built-in defaults
  std::uint32_t line = 0;    // 1-based; 0 when unknown
  std::uint32_t column = 0;  // 1-based; 0 when unknown

  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

// "FILE:LINE:COL" (or "FILE" when the position is unknown).
std::string to_string(const SourcePos& pos);

struct Bytes {
  std::uint64_t count = 0;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

// A value as it stands in TOML, before any expression is parsed: a scalar, or an array of
// strings (a plain list value such as `mechanisms = ["PLAIN", "LOGIN"]`).
using ExpressionAtom = std::variant<std::string, bool, std::int64_t, std::vector<std::string>>;

struct ExpressionRule {
  std::optional<std::string> condition;  // the `if` text; absent for `else` and plain values
  ExpressionAtom result;                 // `then` / `else` / the plain value
  // A plain value (`next-hop = "relay"`) is a literal; a rule's `then = "'local'"` is
  // expression text. Only strings can differ: booleans and integers are always literals.
  bool result_is_expression = false;
  SourcePos condition_pos;
  SourcePos result_pos;

  friend bool operator==(const ExpressionRule&, const ExpressionRule&) = default;
};

struct Expression {
  std::vector<ExpressionRule> rules;  // a plain value is one rule without a condition
  friend bool operator==(const Expression&, const Expression&) = default;
};

// One table of an array of tables (`[[directory.main.principals]]` or an inline
// `principals = [{ name = "a", ... }]`): its fields checked against the key's field specs.
struct TableItem;
using TableList = std::vector<TableItem>;

using Value = std::variant<std::string, bool, std::int64_t, protocol::Duration, Bytes,
                           std::vector<std::string>, Expression, TableList>;

struct TableField {
  std::string name;
  Value value;
  SourcePos pos;
  friend bool operator==(const TableField&, const TableField&) = default;
};

struct TableItem {
  std::vector<TableField> fields;  // in the order the file wrote them (defaults appended)
  SourcePos pos;

  // The field's value, or nullptr when the item does not have it.
  const Value* find(std::string_view name) const {
    for (const TableField& field : fields) {
      if (field.name == name) return &field.value;
    }
    return nullptr;
  }
  friend bool operator==(const TableItem&, const TableItem&) = default;
};

}  // namespace tern::config
