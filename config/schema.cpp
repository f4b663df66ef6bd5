#include "config/schema.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "config/typed_value.hpp"

namespace tern::config {
namespace {

bool is_wildcard(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '<' && segment.back() == '>';
}

int wildcard_count(const std::vector<std::string>& segments) {
  return static_cast<int>(std::count_if(segments.begin(), segments.end(),
                                        [](const std::string& s) { return is_wildcard(s); }));
}

// Matches `path` against `pattern` segment by segment over the first `length` segments.
bool matches_prefix(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                    std::size_t length, std::vector<std::string>* bindings) {
  if (pattern.size() < length || path.size() < length) return false;
  for (std::size_t i = 0; i < length; ++i) {
    if (is_wildcard(pattern[i])) {
      if (bindings != nullptr) bindings->push_back(path[i]);
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

std::string default_text(const KeySpec& spec) {
  if (!spec.default_value) return spec.required ? "required" : "none";
  return "`" + *spec.default_value + "`";
}

std::string type_text(const KeySpec& spec) {
  if (spec.type == ValueType::choice) {
    std::string out;
    for (const auto& choice : spec.choices) out += (out.empty() ? "" : " \\| ") + choice;
    return out;
  }
  if (spec.type == ValueType::integer && (spec.min != INT64_MIN || spec.max != INT64_MAX)) {
    return "integer " + std::to_string(spec.min) + "–" + std::to_string(spec.max);
  }
  if (spec.type == ValueType::table_list) {
    std::string out;
    for (const auto& field : spec.fields) out += (out.empty() ? "" : ", ") + field.pattern;
    return "list of tables (" + out + ")";
  }
  return std::string(to_string(spec.type));
}

}  // namespace

std::string_view to_string(ValueType type) {
  switch (type) {
    case ValueType::string: return "string";
    case ValueType::boolean: return "boolean";
    case ValueType::integer: return "integer";
    case ValueType::port: return "port";
    case ValueType::duration: return "duration";
    case ValueType::size: return "size";
    case ValueType::choice: return "choice";
    case ValueType::string_list: return "list of strings";
    case ValueType::expression: return "expression";
    case ValueType::table_list: return "list of tables";
  }
  return "unknown";
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    segments.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return segments;
}

int edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions, adjacent swaps.
  std::vector<std::vector<int>> d(a.size() + 1, std::vector<int>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<int>(i);
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

void Schema::add(KeySpec spec) {
  for (const auto& existing : keys_) {
    if (existing.pattern == spec.pattern) throw std::logic_error("duplicate key " + spec.pattern);
  }
  if (spec.type == ValueType::choice && spec.choices.empty()) {
    throw std::logic_error("choice key without choices: " + spec.pattern);
  }
  if (spec.required && spec.default_value) {
    throw std::logic_error("a required key cannot have a default: " + spec.pattern);
  }
  if (spec.type == ValueType::table_list && spec.fields.empty()) {
    throw std::logic_error("table list without fields: " + spec.pattern);
  }
  for (auto& field : spec.fields) {
    if (field.type == ValueType::table_list || field.type == ValueType::expression) {
      throw std::logic_error("unsupported field type in " + spec.pattern + "." + field.pattern);
    }
    if (field.default_value) field.parsed_default = detail::parse_default(field);
  }
  if (spec.default_value) spec.parsed_default = detail::parse_default(spec);
  keys_.push_back(std::move(spec));
}

std::optional<KeyMatch> Schema::match(std::string_view path) const {
  const auto segments = split_path(path);
  std::optional<KeyMatch> best;
  int best_wildcards = INT32_MAX;
  for (const auto& spec : keys_) {
    auto pattern = split_path(spec.pattern);
    std::vector<std::string> bindings;
    if (pattern.size() != segments.size() ||
        !matches_prefix(pattern, segments, segments.size(), &bindings)) {
      continue;
    }
    int wildcards = wildcard_count(pattern);
    if (wildcards < best_wildcards) {
      best = KeyMatch{&spec, std::move(bindings)};
      best_wildcards = wildcards;
    }
  }
  return best;
}

bool Schema::is_table_prefix(std::string_view path) const {
  const auto segments = split_path(path);
  return std::any_of(keys_.begin(), keys_.end(), [&](const KeySpec& spec) {
    auto pattern = split_path(spec.pattern);
    return pattern.size() > segments.size() &&
           matches_prefix(pattern, segments, segments.size(), nullptr);
  });
}

std::optional<std::string> Schema::suggest(std::string_view path, int max_edits) const {
  const auto segments = split_path(path);
  std::optional<std::string> best;
  int best_edits = max_edits + 1;
  for (const auto& spec : keys_) {
    auto pattern = split_path(spec.pattern);
    if (pattern.size() != segments.size()) continue;
    int edits = 0;
    std::string concrete;
    for (std::size_t i = 0; i < pattern.size() && edits < best_edits; ++i) {
      const std::string& segment = is_wildcard(pattern[i]) ? segments[i] : pattern[i];
      if (!is_wildcard(pattern[i])) edits += edit_distance(pattern[i], segments[i]);
      concrete += (i == 0 ? "" : ".") + segment;
    }
    if (edits > 0 && edits < best_edits) {
      best = concrete;
      best_edits = edits;
    }
  }
  return best;
}

std::string Schema::reference_markdown() const {
  std::map<std::string, std::vector<const KeySpec*>> groups;
  for (const auto& spec : keys_) groups[split_path(spec.pattern).front()].push_back(&spec);
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated by `tern config reference` from the schema in config/keys/.\n"
      "     Do not edit by hand: run `make docs`. A test fails when this file drifts. -->\n\n"
      "Tern reads one TOML file. Keys are written as dotted paths; `<id>` stands for a name\n"
      "you choose (`remote.<id>.address` is `remote.relay.address` for a host named\n"
      "`relay`). Every key has a default unless it is marked required, and required keys are\n"
      "required only inside an instance the file mentions. String values may use the macros\n"
      "`%{env:NAME}%` and `%{file:PATH}%`. Durations are written `250ms`, `30s`, `5m`, `1h`,\n"
      "`1d`; sizes `100MB` (powers of 1024) or a number of bytes.\n";
  for (const auto& [group, specs] : groups) {
    out += "\n## `" + group + "`\n\n| key | type | default | description |\n|---|---|---|---|\n";
    for (const KeySpec* spec : specs) {
      out += "| `" + spec->pattern + "` | " + type_text(*spec) + " | " + default_text(*spec) +
             " | " + spec->description + " |\n";
    }
  }
  return out;
}

}  // namespace tern::config
