// config/values.hpp — the text forms of configuration values that TOML has no type for.
//
// Contract: each parser takes the value as written and returns the parsed value or an
// Error whose message can follow "FILE:LINE:COL: " directly. No parser accepts trailing
// garbage, a negative quantity or a value that overflows 64 bits.
//   durations: an integer followed by ms, s, m, h, d or w ("250ms", "30s", "5m", "1d")
//   sizes:     an integer optionally followed by B, KB, MB, GB or TB (case-insensitive,
//              powers of 1024: "100MB" is 104,857,600 bytes)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"
#include "protocol/core/time.hpp"

namespace tern::config {

protocol::Result<protocol::Duration> parse_duration(std::string_view text);
protocol::Result<std::uint64_t> parse_size(std::string_view text);

// The shortest text parse_duration reads back as the same value ("90s" -> "90s", 60s -> "1m").
std::string format_duration(protocol::Duration duration);

}  // namespace tern::config
