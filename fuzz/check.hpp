// fuzz/check.hpp — how fuzz targets state an invariant: check(condition) aborts with the
// file and line of the broken invariant, so a finding says which rule it broke.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace tern::fuzz {

inline void check(bool ok, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (!ok) {
    std::fprintf(stderr, "invariant at %s:%d broken\n", file, line);
    std::abort();
  }
}

}  // namespace tern::fuzz
