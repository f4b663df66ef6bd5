#include "cmd/common/diagnostics.hpp"

#include "config/embedded_default.hpp"

namespace tern::cmd {

void print_diagnostics(const config::LoadResult& result, std::ostream& out) {
  for (const auto& diagnostic : result.diagnostics) out << config::to_string(diagnostic) << '\n';
}

int config_exit_code(const config::LoadResult& result) {
  return result.ok() ? 0 : kConfigErrorExit;
}

config::LoadResult load_embedded_default() {
  return config::load_string(config::embedded_default_toml(), "<embedded default.toml>");
}

}  // namespace tern::cmd
