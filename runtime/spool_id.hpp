// runtime/spool_id.hpp — the spool's id rule, the one both Ios apply (and the spool log's
// record format): 1 to kSpoolIdBytesMax ASCII letters and digits. queue_id_from
// (runtime/spool_format.hpp) makes 16 upper-case hex digits; spool_create refuses others.
// Header-only, so that the spool log's format library needs nothing else from runtime/.
#pragma once

#include <cstddef>
#include <string_view>

namespace tern::runtime {

inline constexpr std::size_t kSpoolIdBytesMax = 64;

inline bool valid_spool_id(std::string_view id) {
  if (id.empty() || id.size() > kSpoolIdBytesMax) return false;
  for (const char c : id) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

}  // namespace tern::runtime
