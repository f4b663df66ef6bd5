// protocol/route/regex.hpp — the PCRE2 (libpcre2-8) wrapper behind matches(); internal to
// protocol/route, so that pcre2.h stays out of the public headers.
//
// Contract:
// - compile_regex(pattern): the compiled pattern, or an Error whose offset is the byte in
//   `pattern` (the unescaped literal) where PCRE2 stopped, and whose message is PCRE2's.
//   Patterns are byte-oriented: (*UTF) is refused (PCRE2_NEVER_UTF), so any subject bytes
//   are valid and matching never fails on encoding.
// - regex_search(regex, subject): true when the pattern matches somewhere in subject
//   (anchor with ^ and $ for a whole match). Work is bounded by a match limit and a depth
//   limit; a subject that exceeds them counts as not matching (never an error, never a
//   hang). A compiled pattern is immutable and may be shared between threads.
#pragma once

#include <memory>
#include <string_view>

#include "protocol/core/result.hpp"

namespace tern::protocol::route {

struct CompiledRegex;

struct RegexLimits {
  static constexpr unsigned kMatchLimit = 100000;  // backtracking steps per match
  static constexpr unsigned kDepthLimit = 1000;    // nested backtracking frames
};

Result<std::shared_ptr<const CompiledRegex>> compile_regex(std::string_view pattern);

// Result of one search; `limit_hit` tells explain output why a match failed.
struct RegexOutcome {
  bool matched = false;
  bool limit_hit = false;
};
RegexOutcome regex_search(const CompiledRegex& regex, std::string_view subject);

}  // namespace tern::protocol::route
