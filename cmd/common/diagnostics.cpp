#include "cmd/common/diagnostics.hpp"

#include <algorithm>
#include <tuple>

#include <unistd.h>

#include "config/embedded_default.hpp"

namespace tern::cmd {

std::string machine_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

CheckedConfig load_and_check(const std::string& file, std::ostream& out) {
  CheckedConfig checked;
  checked.load =
      file.empty() ? config::load_string(config::embedded_default_toml(), "<embedded default.toml>")
                   : config::load_file(file);
  std::vector<config::Diagnostic> all = checked.load.diagnostics;
  if (checked.load.ok()) {
    checked.model = config::build_route_model(checked.load.config);
    all.insert(all.end(), checked.model.diagnostics.begin(), checked.model.diagnostics.end());
    if (checked.model.ok()) {
      checked.engine = config::build_engine_config(checked.load.config, checked.model.model);
      // server.hostname unset: the machine's host name, as docs/configuration.md says.
      auto& hostname = checked.engine.engine.settings.hostname;
      if (hostname.empty()) hostname = machine_hostname();
      all.insert(all.end(), checked.engine.diagnostics.begin(), checked.engine.diagnostics.end());
    }
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
    });
  }
  for (const auto& diagnostic : all) out << config::to_string(diagnostic) << '\n';
  checked.ok = checked.load.ok() && checked.model.ok() && checked.engine.ok();
  checked.warnings = all.size();
  return checked;
}

}  // namespace tern::cmd
