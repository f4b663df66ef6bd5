// cmd/common/diagnostics.hpp — how every Tern executable loads and reports a configuration.
//
// Contract: load_and_check reads a file (or the embedded default), checks it against the
// schema, builds the route model (every cross-key check: remote ids, expressions,
// directories) and the engine settings (listener addresses, certificates), and writes every
// diagnostic — errors and warnings — as one `FILE:LINE:COL: message` line to `out`, in file order.
// `ok` is true when no diagnostic is an error; the model is usable only then. `tern config check`,
// `tern route` and `ternd` all go through it, so they agree on what a valid configuration is, and
// exit with kConfigErrorExit (2) when it is not.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "config/engine_settings.hpp"
#include "config/loader.hpp"
#include "config/route_model.hpp"

namespace tern::cmd {

inline constexpr int kConfigErrorExit = 2;
inline constexpr int kUsageExit = 64;  // EX_USAGE

struct CheckedConfig {
  config::LoadResult load;
  config::RouteModelResult model;
  config::EngineConfigResult engine;  // built when the model is ok
  bool ok = false;
  std::size_t warnings = 0;  // diagnostics printed while ok
};

// `file` empty: the embedded default configuration, named "<embedded default.toml>".
// Without server.hostname the engine's settings carry the machine's host name.
CheckedConfig load_and_check(const std::string& file, std::ostream& out);

// gethostname(), or "localhost" when the machine has none.
std::string machine_hostname();

}  // namespace tern::cmd
