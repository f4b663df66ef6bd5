// config/loader.hpp — reads a TOML configuration file and checks it against a Schema.
//
// Contract: load_file/load_string never throw for anything the file contains. They return
// a Config holding every key the file set (typed, macros expanded, with its position) and
// a list of Diagnostics in file order, errors and warnings, each printable as `FILE:LINE:COL:
// message`. The Config is usable only when no diagnostic is an error (LoadResult::ok()).
//
// What is an error: TOML syntax (one error: parsing stops there), a table declared twice
// (with the line of the first declaration), an unknown key (with "did you mean ..." when a
// registered key is at most two letter edits away), a value of the wrong type or out of
// range, a required key missing from an instance (see config/schema.hpp), a macro that
// cannot be expanded.
//
// Macros, expanded inside every string value before it is checked:
//   %{env:NAME}%   the environment variable NAME (an error when it is not set)
//   %{file:PATH}%  the contents of PATH, relative to the configuration file's folder,
//                  with trailing CR/LF removed (an error when unreadable or over 1 MiB)
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.hpp"
#include "config/value.hpp"

namespace tern::config {

struct Diagnostic {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  SourcePos pos;
  std::string message;
};

// "FILE:LINE:COL: message", with "warning: " before the message for warnings.
std::string to_string(const Diagnostic& diagnostic);

struct Entry {
  const KeySpec* spec = nullptr;
  std::vector<std::string> bindings;  // values of the pattern's <name> segments
  Value value;
  SourcePos pos;  // where the value stands in the file
};

class Config {
 public:
  // The entry the file set for this exact key path, if it set one.
  const Entry* find(std::string_view path) const;

  // The file's value for `path`, else the registered default; nullptr when the path is
  // not a registered key or the key has no default.
  const Value* value_or_default(std::string_view path) const;
  // The schema's default for `path`, whether or not the file sets it; nullptr when none.
  const Value* schema_default(std::string_view path) const;

  // The identifiers the file uses for the first `<name>` segment under `prefix`:
  // instances("remote") -> {"lmtp", "relay"}. Sorted, without duplicates.
  std::vector<std::string> instances(std::string_view prefix) const;

  const std::map<std::string, Entry, std::less<>>& entries() const { return entries_; }

 private:
  friend class Loader;
  const Schema* schema_ = nullptr;
  std::map<std::string, Entry, std::less<>> entries_;
};

struct LoadOptions {
  const Schema* schema = &tern_schema();
  // Environment lookup for %{env:NAME}% (tests replace it); nullopt means "not set".
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::size_t file_macro_bytes_max = 1 << 20;
  // When false, %{file:}% is an error (the fuzzer must not read /dev/stdin).
  bool allow_file_macros = true;
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;
};

// Reads `path` (an unreadable file is one error at "PATH").
LoadResult load_file(const std::string& path, const LoadOptions& options = {});

// Parses `text` as if it were the file `display_name`; %{file:}% paths are relative to
// `base_dir` (the process's working folder when empty).
LoadResult load_string(std::string_view text, const std::string& display_name,
                       const std::string& base_dir = {}, const LoadOptions& options = {});

}  // namespace tern::config
