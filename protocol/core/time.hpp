// protocol/core/time.hpp — time as the machines see it.
//
// Contract: no machine in tern::protocol reads a clock. The caller passes `now` as an
// Instant, a count of nanoseconds on a monotonic clock whose epoch is the caller's business
// (the production Io uses steady_clock, the simulation uses virtual time starting at 0).
// Durations are signed nanosecond counts. Both are plain integers underneath so that a
// simulation seed means the same thing on every compiler and platform.
#pragma once

#include <compare>
#include <cstdint>

namespace tern::protocol {

struct Duration {
  std::int64_t ns = 0;

  static constexpr Duration nanoseconds(std::int64_t n) { return {n}; }
  static constexpr Duration milliseconds(std::int64_t n) { return {n * 1'000'000}; }
  static constexpr Duration seconds(std::int64_t n) { return {n * 1'000'000'000}; }
  static constexpr Duration minutes(std::int64_t n) { return seconds(n * 60); }

  friend constexpr Duration operator+(Duration a, Duration b) { return {a.ns + b.ns}; }
  friend constexpr Duration operator-(Duration a, Duration b) { return {a.ns - b.ns}; }
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  friend constexpr auto operator<=>(Duration, Duration) = default;
};

struct Instant {
  std::int64_t ns = 0;  // since the caller's epoch

  friend constexpr Instant operator+(Instant t, Duration d) { return {t.ns + d.ns}; }
  friend constexpr Duration operator-(Instant a, Instant b) { return {a.ns - b.ns}; }
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  friend constexpr auto operator<=>(Instant, Instant) = default;
};

}  // namespace tern::protocol
