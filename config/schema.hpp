// config/schema.hpp — the one declaration of every configuration key Tern understands.
//
// Contract: each component registers its keys (a pattern, a type, a default, a one-line
// description) into a Schema; the loader validates a file against it and the CLI prints
// the configuration reference from it (`tern config reference` > docs/configuration.md),
// so the documentation and the code cannot drift apart.
//
// Patterns are dot-separated segments. A segment written `<name>` matches any one segment
// of the file's key path (an identifier the user chooses, e.g. `remote.<id>.address`
// matches `remote.relay.address`). A key marked `required` must be present in every
// instance of its pattern that the file mentions: if the file has any `remote.relay.*`
// key, `remote.relay.address` must be there too. Keys without wildcards are never required
// (every top-level setting has a default).
//
// Registration mistakes (a duplicate pattern, a default that does not parse as the key's
// own type) are programming errors: Schema::add throws std::logic_error, which the schema
// test catches for every registered key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.hpp"

namespace tern::config {

enum class ValueType {
  string,       // any TOML string (after macro expansion)
  boolean,      // true / false
  integer,      // a TOML integer within [min, max]
  port,         // an integer 1..65535
  duration,     // "30s", "5m", "1h", "1d", "250ms"; an integer only where integer_unit_ms
  size,         // "100MB", "64KB", "1GB" (powers of 1024) or an integer count of bytes
  choice,       // a string among `choices`
  string_list,  // an array of strings; a single string is accepted as a list of one
  expression,   // a plain value or a rule list [{ if = "...", then = ... }, { else = ... }]
  table_list,   // an array of tables whose fields are `fields` (each checked as its spec)
};

std::string_view to_string(ValueType type);

struct KeySpec {
  std::string pattern{};  // e.g. "remote.<id>.tls.implicit"
  ValueType type = ValueType::string;
  std::optional<std::string> default_value{};  // as a user would write it in TOML
  std::string description{};                   // one line, no trailing period
  bool required = false;                       // see the header comment
  std::vector<std::string> choices{};          // for ValueType::choice
  std::int64_t min = INT64_MIN;                // for ValueType::integer
  std::int64_t max = INT64_MAX;
  bool integer_unit_ms = false;  // duration: a bare integer counts milliseconds
  bool secret = false;           // never printed back (logs, `tern config show`)
  // For ValueType::table_list: the fields of each table, as specs whose pattern is the
  // field name; a `required` field must be in every table, a default fills a missing one.
  std::vector<KeySpec> fields{};

  // Filled by Schema::add from default_value, through the same checks as a file's value.
  std::optional<Value> parsed_default{};
};

// A key path of the file matched against a pattern: which spec, and the values of its
// `<name>` segments in order.
struct KeyMatch {
  const KeySpec* spec = nullptr;
  std::vector<std::string> bindings;
};

class Schema {
 public:
  // Throws std::logic_error on a duplicate pattern or an invalid default (see above).
  void add(KeySpec spec);

  // The spec whose pattern matches `path` exactly (segment by segment), if any. When two
  // patterns match, the one with fewer wildcards wins (a literal beats `<id>`).
  std::optional<KeyMatch> match(std::string_view path) const;

  // True when `path` is a proper prefix of some pattern, i.e. a table that may hold keys.
  bool is_table_prefix(std::string_view path) const;

  // The concrete key a misspelled `path` most likely meant: same number of segments, at
  // most `max_edits` letter edits (Damerau-Levenshtein) over the literal segments, the
  // user's own identifiers kept. Empty when nothing is that close.
  std::optional<std::string> suggest(std::string_view path, int max_edits = 2) const;

  const std::vector<KeySpec>& keys() const { return keys_; }

  // The configuration reference as Markdown, grouped by the first segment.
  std::string reference_markdown() const;

 private:
  std::vector<KeySpec> keys_;
};

// Splits "a.b.c" into segments. Key paths never contain empty segments.
std::vector<std::string> split_path(std::string_view path);

// Letter edits between two strings (optimal string alignment distance).
int edit_distance(std::string_view a, std::string_view b);

// The schema of every key Tern registers (built once, on first use).
const Schema& tern_schema();

}  // namespace tern::config
