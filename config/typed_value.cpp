#include "config/typed_value.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

#include "config/values.hpp"

namespace tern::config::detail {
namespace {

using Checked = std::variant<Value, ValueError>;

ValueError error_at(const toml::node& node, const std::string& file, std::string message) {
  return ValueError{position(node.source(), file), std::move(message)};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

ValueError type_error(const KeySpec& spec, const toml::node& node, const std::string& file,
                      std::string_view expected) {
  return error_at(
      node, file,
      "'" + spec.pattern + "' expects " + std::string(expected) + ", found " + describe(node));
}

// A string node with its macros expanded, or the error.
std::variant<std::string, ValueError> expanded_string(const toml::node& node,
                                                      const std::string& file,
                                                      const MacroContext& macros) {
  auto expanded = expand_macros(node.as_string()->get(), macros);
  if (!expanded) return error_at(node, file, expanded.error().message);
  return std::move(expanded).value();
}

Checked check_integer(const KeySpec& spec, const toml::node& node, const std::string& file,
                      std::int64_t min, std::int64_t max) {
  if (!node.is_integer()) return type_error(spec, node, file, "an integer");
  std::int64_t number = node.as_integer()->get();
  if (number < min || number > max) {
    return error_at(node, file,
                    "'" + spec.pattern + "' must be between " + std::to_string(min) + " and " +
                        std::to_string(max) + ", found " + std::to_string(number));
  }
  return Value{number};
}

Checked check_duration(const KeySpec& spec, const toml::node& node, const std::string& file,
                       const MacroContext& macros) {
  if (node.is_integer() && spec.integer_unit_ms) {
    std::int64_t ms = node.as_integer()->get();
    if (ms < 0 || ms > INT64_MAX / 1'000'000) return error_at(node, file, "duration out of range");
    return Value{protocol::Duration::milliseconds(ms)};
  }
  if (!node.is_string())
    return type_error(spec, node, file, "a duration such as \"30s\" or \"5m\"");
  auto text = expanded_string(node, file, macros);
  if (text.index() == 1) return std::get<1>(text);
  auto parsed = parse_duration(std::get<0>(text));
  if (!parsed) return error_at(node, file, "'" + spec.pattern + "': " + parsed.error().message);
  return Value{*parsed};
}

Checked check_size(const KeySpec& spec, const toml::node& node, const std::string& file,
                   const MacroContext& macros) {
  if (node.is_integer()) {
    std::int64_t count = node.as_integer()->get();
    if (count < 0) return error_at(node, file, "'" + spec.pattern + "' must not be negative");
    return Value{Bytes{static_cast<std::uint64_t>(count)}};
  }
  if (!node.is_string()) return type_error(spec, node, file, "a size such as \"100MB\"");
  auto text = expanded_string(node, file, macros);
  if (text.index() == 1) return std::get<1>(text);
  auto parsed = parse_size(std::get<0>(text));
  if (!parsed) return error_at(node, file, "'" + spec.pattern + "': " + parsed.error().message);
  return Value{Bytes{*parsed}};
}

Checked check_choice(const KeySpec& spec, const toml::node& node, const std::string& file,
                     const MacroContext& macros) {
  if (!node.is_string()) return type_error(spec, node, file, "one of " + join(spec.choices, ", "));
  auto text = expanded_string(node, file, macros);
  if (text.index() == 1) return std::get<1>(text);
  const std::string& choice = std::get<0>(text);
  if (std::find(spec.choices.begin(), spec.choices.end(), choice) != spec.choices.end()) {
    return Value{choice};
  }
  std::string message = "'" + spec.pattern + "' must be one of " + join(spec.choices, ", ") +
                        ", found '" + choice + "'";
  const std::string* closest = nullptr;
  int closest_edits = 3;  // suggest only within two edits
  for (const auto& candidate : spec.choices) {
    int edits = edit_distance(candidate, choice);
    if (edits < closest_edits) {
      closest = &candidate;
      closest_edits = edits;
    }
  }
  if (closest != nullptr) message += " (did you mean '" + *closest + "'?)";
  return error_at(node, file, message);
}

Checked check_string_list(const KeySpec& spec, const toml::node& node, const std::string& file,
                          const MacroContext& macros) {
  std::vector<std::string> items;
  if (node.is_string()) {
    auto text = expanded_string(node, file, macros);
    if (text.index() == 1) return std::get<1>(text);
    items.push_back(std::get<0>(std::move(text)));
    return Value{std::move(items)};
  }
  if (!node.is_array()) return type_error(spec, node, file, "an array of strings");
  for (const toml::node& item : *node.as_array()) {
    if (!item.is_string()) return type_error(spec, item, file, "an array of strings");
    auto text = expanded_string(item, file, macros);
    if (text.index() == 1) return std::get<1>(text);
    items.push_back(std::get<0>(std::move(text)));
  }
  return Value{std::move(items)};
}

// The contents of a %{file:PATH}% macro, trailing CR/LF removed.
protocol::Result<std::string> read_macro_file(const std::string& argument,
                                              const MacroContext& macros) {
  if (!macros.allow_files) return protocol::fail(0, "%{file:}% macros are not allowed here");
  std::string path = argument;
  if (path.front() != '/' && !macros.base_dir.empty()) path = macros.base_dir + "/" + path;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return protocol::fail(0, "cannot read file '" + path + "' named by %{file:" + argument + "}%");
  struct stat st {};
  if (macros.secret && ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    return protocol::fail(0, "file '" + path + "' holds a secret and is open to others (mode " +
                                 std::to_string((st.st_mode >> 6) & 7) +
                                 std::to_string((st.st_mode >> 3) & 7) +
                                 std::to_string(st.st_mode & 7) + "); chmod o-rw it");
  }
  std::string contents(macros.file_bytes_max + 1, '\0');
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  contents.resize(static_cast<std::size_t>(in.gcount()));
  if (contents.size() > macros.file_bytes_max) {
    return protocol::fail(0, "file '" + path + "' is larger than " +
                                 std::to_string(macros.file_bytes_max) + " bytes");
  }
  while (!contents.empty() && (contents.back() == '\n' || contents.back() == '\r')) {
    contents.pop_back();
  }
  return contents;
}

Checked check_value_impl(const KeySpec& spec, const toml::node& node, const std::string& file,
                         const MacroContext& macros);

// " (did you mean 'x'?)" for the closest field within two edits, else "".
std::string field_hint(const KeySpec& spec, std::string_view name) {
  const KeySpec* best = nullptr;
  int best_edits = 3;
  for (const auto& field : spec.fields) {
    int edits = edit_distance(field.pattern, name);
    if (edits < best_edits) {
      best = &field;
      best_edits = edits;
    }
  }
  return best == nullptr ? std::string() : " (did you mean '" + best->pattern + "'?)";
}

std::variant<TableItem, ValueError> check_table_item(const KeySpec& spec, const toml::table& table,
                                                     const std::string& file,
                                                     const MacroContext& macros) {
  TableItem item;
  item.pos = position(table.source(), file);
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    auto field = std::find_if(spec.fields.begin(), spec.fields.end(),
                              [&](const KeySpec& f) { return f.pattern == name; });
    if (field == spec.fields.end()) {
      return ValueError{position(key.source(), file), "unknown field '" + name +
                                                          "' in a table of '" + spec.pattern + "'" +
                                                          field_hint(spec, name)};
    }
    auto checked = check_value_impl(*field, node, file, macros);
    if (checked.index() == 1) return std::get<1>(std::move(checked));
    item.fields.push_back({name, std::get<0>(std::move(checked)), position(node.source(), file)});
  }
  for (const auto& field : spec.fields) {
    if (item.find(field.pattern) != nullptr) continue;
    if (field.required) {
      return ValueError{item.pos, "a table of '" + spec.pattern + "' needs the field '" +
                                      field.pattern + "' (" + field.description + ")"};
    }
    if (field.parsed_default)
      item.fields.push_back({field.pattern, *field.parsed_default, item.pos});
  }
  return item;
}

Checked check_table_list(const KeySpec& spec, const toml::node& node, const std::string& file,
                         const MacroContext& macros) {
  if (!node.is_array()) return type_error(spec, node, file, "an array of tables");
  TableList items;
  for (const toml::node& element : *node.as_array()) {
    if (!element.is_table()) return type_error(spec, element, file, "an array of tables");
    auto item = check_table_item(spec, *element.as_table(), file, macros);
    if (item.index() == 1) return std::get<1>(std::move(item));
    items.push_back(std::get<0>(std::move(item)));
  }
  return Value{std::move(items)};
}

}  // namespace

SourcePos position(const toml::source_region& region, const std::string& file) {
  return SourcePos{file, region.begin.line, region.begin.column};
}

// Defined in expression_value.cpp: the plain-value-or-rule-list form.
Checked check_expression(const KeySpec& spec, const toml::node& node, const std::string& file,
                         const MacroContext& macros);

Checked check_value(const KeySpec& spec, const toml::node& node, const std::string& file,
                    const MacroContext& macros) {
  if (!spec.secret) return check_value_impl(spec, node, file, macros);
  MacroContext secret = macros;
  secret.secret = true;
  return check_value_impl(spec, node, file, secret);
}

namespace {
Checked check_value_impl(const KeySpec& spec, const toml::node& node, const std::string& file,
                         const MacroContext& macros) {
  switch (spec.type) {
    case ValueType::string: {
      if (!node.is_string()) return type_error(spec, node, file, "a string");
      auto text = expanded_string(node, file, macros);
      if (text.index() == 1) return std::get<1>(text);
      return Value{std::get<0>(std::move(text))};
    }
    case ValueType::boolean:
      if (!node.is_boolean()) return type_error(spec, node, file, "true or false");
      return Value{node.as_boolean()->get()};
    case ValueType::integer: return check_integer(spec, node, file, spec.min, spec.max);
    case ValueType::port: return check_integer(spec, node, file, 1, 65535);
    case ValueType::duration: return check_duration(spec, node, file, macros);
    case ValueType::size: return check_size(spec, node, file, macros);
    case ValueType::choice: return check_choice(spec, node, file, macros);
    case ValueType::string_list: return check_string_list(spec, node, file, macros);
    case ValueType::expression: return check_expression(spec, node, file, macros);
    case ValueType::table_list: return check_table_list(spec, node, file, macros);
  }
  return type_error(spec, node, file, "a known type");
}
}  // namespace

protocol::Result<std::string> expand_macros(const std::string& text, const MacroContext& macros) {
  std::string out;
  std::size_t at = 0;
  while (true) {
    std::size_t open = text.find("%{", at);
    out.append(text, at, open == std::string::npos ? std::string::npos : open - at);
    if (open == std::string::npos) return out;
    std::size_t close = text.find("}%", open + 2);
    if (close == std::string::npos) {
      return protocol::fail(open, "unterminated macro: '%{' without a closing '}%'");
    }
    std::string body = text.substr(open + 2, close - open - 2);
    std::size_t colon = body.find(':');
    std::string kind = body.substr(0, colon);
    std::string argument = colon == std::string::npos ? std::string() : body.substr(colon + 1);
    if (colon == std::string::npos || argument.empty()) {
      return protocol::fail(
          open, "malformed macro '%{" + body + "}%' (use %{env:NAME}% or %{file:PATH}%)");
    }
    if (kind == "env") {
      auto value = macros.getenv ? macros.getenv(argument) : std::nullopt;
      if (!value) return protocol::fail(open, "environment variable '" + argument + "' is not set");
      out += *value;
    } else if (kind == "file") {
      auto contents = read_macro_file(argument, macros);
      if (!contents) return protocol::fail(open, contents.error().message);
      out += *contents;
    } else {
      return protocol::fail(open,
                            "unknown macro '" + kind + "' (use %{env:NAME}% or %{file:PATH}%)");
    }
    at = close + 2;
  }
}

Value parse_default(const KeySpec& spec) {
  if (!spec.default_value) throw std::logic_error("no default for " + spec.pattern);
  toml::table table;
  try {
    table = toml::parse(std::string_view("value = " + *spec.default_value),
                        std::string_view("<default>"));
  } catch (const toml::parse_error& e) {
    throw std::logic_error("default of '" + spec.pattern +
                           "' is not TOML: " + std::string(e.description()));
  }
  MacroContext no_macros;
  auto checked = check_value(spec, *table.get("value"), "<default>", no_macros);
  if (checked.index() == 1) {
    throw std::logic_error("default of '" + spec.pattern + "': " + std::get<1>(checked).message);
  }
  return std::get<0>(std::move(checked));
}

}  // namespace tern::config::detail
