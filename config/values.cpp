#include "config/values.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace tern::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t scale;
};

// Splits "123abc" into 123 and "abc"; fails on no digits or overflow.
protocol::Result<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc::result_out_of_range) return protocol::fail(0, "number is too large");
  if (ec != std::errc() || end == text.data()) {
    return protocol::fail(0, "expected a number, e.g. \"30s\" or \"100MB\"");
  }
  return std::pair{number, text.substr(static_cast<std::size_t>(end - text.data()))};
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

protocol::Result<std::uint64_t> scale(std::uint64_t number, std::int64_t factor) {
  if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / factor)) {
    return protocol::fail(0, "value is too large");
  }
  return number * static_cast<std::uint64_t>(factor);
}

constexpr std::int64_t kMsNs = 1'000'000;
constexpr std::array<Unit, 6> kDurationUnits{{{"ms", kMsNs},
                                              {"s", 1000 * kMsNs},
                                              {"m", 60'000 * kMsNs},
                                              {"h", 3'600'000 * kMsNs},
                                              {"d", 86'400'000 * kMsNs},
                                              {"w", 604'800'000 * kMsNs}}};

constexpr std::array<Unit, 6> kSizeUnits{{{"", 1},
                                          {"b", 1},
                                          {"kb", 1LL << 10},
                                          {"mb", 1LL << 20},
                                          {"gb", 1LL << 30},
                                          {"tb", 1LL << 40}}};

}  // namespace

protocol::Result<protocol::Duration> parse_duration(std::string_view text) {
  auto split = split_number(text);
  if (!split) return split.error();
  auto [number, suffix] = *split;
  for (const Unit& unit : kDurationUnits) {
    if (suffix == unit.suffix) {
      auto ns = scale(number, unit.scale);
      if (!ns) return ns.error();
      return protocol::Duration{static_cast<std::int64_t>(*ns)};
    }
  }
  if (suffix.empty()) return protocol::fail(0, "a duration needs a unit: ms, s, m, h, d or w");
  return protocol::fail(
      0, "unknown duration unit '" + std::string(suffix) + "' (use ms, s, m, h, d or w)");
}

protocol::Result<std::uint64_t> parse_size(std::string_view text) {
  auto split = split_number(text);
  if (!split) return split.error();
  auto [number, suffix] = *split;
  for (const Unit& unit : kSizeUnits) {
    if (equals_ignore_case(suffix, unit.suffix)) return scale(number, unit.scale);
  }
  return protocol::fail(
      0, "unknown size unit '" + std::string(suffix) + "' (use B, KB, MB, GB or TB)");
}

std::string format_duration(protocol::Duration duration) {
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    if (duration.ns >= it->scale && duration.ns % it->scale == 0) {
      return std::to_string(duration.ns / it->scale) + std::string(it->suffix);
    }
  }
  return std::to_string(duration.ns / kMsNs) + "ms";
}

}  // namespace tern::config
