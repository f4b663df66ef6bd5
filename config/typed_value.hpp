// config/typed_value.hpp — internal to config/: checks one TOML node against a KeySpec.
//
// Contract: check_value returns the typed Value, or an error message and the position it
// points at. Used by the loader for a file's values and by Schema::add for defaults, so a
// default can never be something a user could not write.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>

#include <toml++/toml.h>

#include "config/schema.hpp"
#include "config/value.hpp"
#include "protocol/core/result.hpp"

namespace tern::config::detail {

struct ValueError {
  SourcePos pos;
  std::string message;
};

struct MacroContext {
  std::string base_dir;  // for relative %{file:}% paths
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::size_t file_bytes_max = 1 << 20;
  bool allow_files = true;
  // Set while a secret key's value is expanded: a %{file:}% it names must not be readable
  // or writable by others (a private key or password anyone on the machine can read).
  bool secret = false;
};

SourcePos position(const toml::source_region& region, const std::string& file);

std::variant<Value, ValueError> check_value(const KeySpec& spec, const toml::node& node,
                                            const std::string& file, const MacroContext& macros);

// Expands %{env:NAME}% and %{file:PATH}% in `text`; the error's offset is the macro's.
protocol::Result<std::string> expand_macros(const std::string& text, const MacroContext& macros);

// The default_value of `spec` parsed as TOML and checked; throws std::logic_error if bad.
Value parse_default(const KeySpec& spec);

}  // namespace tern::config::detail
