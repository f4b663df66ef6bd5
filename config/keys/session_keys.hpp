// config/keys/session_keys.hpp — every session.* expression key, declared once: its name,
// the stage whose variables it sees, the type of its result, its default and its
// description (config/keys/session.cpp). The schema registers them from this list and the
// route model compiles them from it; a configured rule list that can end without a match
// falls through to the default, so the engine never needs a default of its own.
#pragma once

#include <span>
#include <string_view>

namespace tern::config {

enum class SessionStage { auth, ehlo, rcpt, data };
enum class SessionResult { boolean, integer, string_or_false, list_or_false };

struct SessionKeySpec {
  std::string_view key;
  SessionStage stage;
  SessionResult result;
  std::string_view default_value;  // TOML
  std::string_view description;
};

std::span<const SessionKeySpec> session_key_specs();

}  // namespace tern::config
