// protocol/core/scan.hpp — the fast byte searches of the DATA path.
//
// Contract: find_cr_or_lf returns a pointer to the first '\r' or '\n' in [first, last), or
// `last` when there is none. It reads no byte outside the range. On x86-64 it compares 16
// bytes at a time with SSE2 (part of the x86-64 baseline, so no CPU dispatch is needed);
// elsewhere it falls back to a plain loop. A body line is ~78 bytes, so the search must
// jump, not step (bench/: the DATA path figures in docs/benchmarks.md).
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tern::protocol {

inline const char* find_cr_or_lf(const char* first, const char* last) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (last - first >= 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(first));
    const int mask =
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(block, cr), _mm_cmpeq_epi8(block, lf)));
    if (mask != 0) return first + __builtin_ctz(static_cast<unsigned>(mask));
    first += 16;
  }
#endif
  while (first != last && *first != '\r' && *first != '\n') ++first;
  return first;
}

}  // namespace tern::protocol
