// The TOML shapes of an expression-typed key (config/value.hpp): a plain scalar, or a rule
// list [{ if = "...", then = ... }, ..., { else = ... }]. Only the shape is checked here;
// the texts are compiled by protocol/route.
#include <algorithm>
#include <variant>

#include "config/typed_value.hpp"

namespace tern::config::detail {
namespace {

using Checked = std::variant<Value, ValueError>;

ValueError error_at(const toml::node& node, const std::string& file, std::string message) {
  return ValueError{position(node.source(), file), std::move(message)};
}

// A scalar `then`/`else`/plain value, or an error naming what was expected.
std::variant<ExpressionAtom, ValueError> atom(const toml::node& node, const std::string& file,
                                              const MacroContext& macros,
                                              const std::string& pattern) {
  if (node.is_boolean()) return ExpressionAtom{node.as_boolean()->get()};
  if (node.is_integer()) return ExpressionAtom{node.as_integer()->get()};
  if (node.is_string()) {
    auto text = expand_macros(node.as_string()->get(), macros);
    if (!text) return error_at(node, file, text.error().message);
    return ExpressionAtom{std::move(text).value()};
  }
  if (node.is_array()) {
    std::vector<std::string> items;
    for (const toml::node& item : *node.as_array()) {
      if (!item.is_string())
        return error_at(item, file, "'" + pattern + "': a list value holds strings only");
      auto text = expand_macros(item.as_string()->get(), macros);
      if (!text) return error_at(item, file, text.error().message);
      items.push_back(std::move(text).value());
    }
    return ExpressionAtom{std::move(items)};
  }
  return error_at(
      node, file,
      "'" + pattern + "' expects a string, a boolean, an integer or a list of strings here");
}

std::variant<ExpressionRule, ValueError> rule(const toml::table& table, bool is_last,
                                              const std::string& file, const MacroContext& macros,
                                              const std::string& pattern) {
  for (auto&& [key, value] : table) {
    if (key != "if" && key != "then" && key != "else") {
      std::string hint;
      for (const char* known : {"if", "then", "else"}) {
        if (edit_distance(key.str(), known) <= 2)
          hint = std::string(" (did you mean '") + known + "'?)";
      }
      return error_at(value, file,
                      "unknown key '" + std::string(key.str()) + "' in a rule of '" + pattern +
                          "'; a rule has 'if' and 'then', or 'else'" + hint);
    }
  }
  const toml::node* if_node = table.get("if");
  const toml::node* then_node = table.get("then");
  const toml::node* else_node = table.get("else");
  ExpressionRule out;
  const toml::node* result = nullptr;
  if (else_node != nullptr) {
    if (if_node != nullptr || then_node != nullptr) {
      return error_at(*else_node, file, "a rule has either 'if' and 'then', or 'else' alone");
    }
    if (!is_last)
      return error_at(*else_node, file, "'else' must be the last rule of '" + pattern + "'");
    result = else_node;
  } else {
    if (if_node == nullptr || then_node == nullptr) {
      return ValueError{position(table.source(), file),
                        "a rule of '" + pattern + "' needs both 'if' and 'then'"};
    }
    if (!if_node->is_string()) return error_at(*if_node, file, "'if' expects an expression string");
    auto condition = expand_macros(if_node->as_string()->get(), macros);
    if (!condition) return error_at(*if_node, file, condition.error().message);
    out.condition = std::move(condition).value();
    out.condition_pos = position(if_node->source(), file);
    result = then_node;
  }
  auto value = atom(*result, file, macros, pattern);
  if (value.index() == 1) return std::get<1>(value);
  out.result = std::get<0>(std::move(value));
  out.result_is_expression = std::holds_alternative<std::string>(out.result);
  out.result_pos = position(result->source(), file);
  return out;
}

// An array holding no table is a plain list value; one holding tables is a rule list.
bool is_plain_list(const toml::node& node) {
  const toml::array* array = node.as_array();
  if (array == nullptr || array->empty()) return false;
  return std::none_of(array->begin(), array->end(),
                      [](const toml::node& n) { return n.is_table(); });
}

}  // namespace

Checked check_expression(const KeySpec& spec, const toml::node& node, const std::string& file,
                         const MacroContext& macros) {
  if (!node.is_array() || is_plain_list(node)) {
    auto value = atom(node, file, macros, spec.pattern);
    if (value.index() == 1) return std::get<1>(value);
    ExpressionRule plain;
    plain.result = std::get<0>(std::move(value));
    plain.result_pos = position(node.source(), file);
    return Value{Expression{{std::move(plain)}}};
  }
  const toml::array& array = *node.as_array();
  if (array.empty()) return error_at(node, file, "'" + spec.pattern + "' has an empty rule list");
  Expression expression;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const toml::node& item = array[i];
    if (!item.is_table()) {
      return error_at(item, file,
                      "each rule of '" + spec.pattern +
                          "' is a table such as { if = \"...\", then = \"...\" }");
    }
    auto checked = rule(*item.as_table(), i + 1 == array.size(), file, macros, spec.pattern);
    if (checked.index() == 1) return std::get<1>(checked);
    expression.rules.push_back(std::get<0>(std::move(checked)));
  }
  return Value{std::move(expression)};
}

}  // namespace tern::config::detail
