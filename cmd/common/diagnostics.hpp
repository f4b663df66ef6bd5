// cmd/common/diagnostics.hpp — how every Tern executable reports a configuration.
//
// Contract: print_diagnostics writes one `FILE:LINE:COL: message` line per diagnostic to
// `out`, errors and warnings in file order. config_exit_code is 0 when the configuration
// has no error and kConfigErrorExit (2) otherwise: `tern config check` and `ternd` agree.
#pragma once

#include <ostream>

#include "config/loader.hpp"

namespace tern::cmd {

inline constexpr int kConfigErrorExit = 2;
inline constexpr int kUsageExit = 64;  // EX_USAGE

void print_diagnostics(const config::LoadResult& result, std::ostream& out);
int config_exit_code(const config::LoadResult& result);

// The embedded default configuration, loaded as "<embedded default.toml>".
config::LoadResult load_embedded_default();

}  // namespace tern::cmd
