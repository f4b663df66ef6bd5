// tern — the command-line tool: checks configurations and prints the key reference.
// Later issues add `tern route` and `tern queue`.
//
//   tern config check FILE     exit 0 with a one-line summary, or 2 with one
//                              FILE:LINE:COL: message line per problem (on stderr)
//   tern config reference      the configuration reference in Markdown (docs/configuration.md)
//   tern config default        the embedded default configuration
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/common/diagnostics.hpp"
#include "config/embedded_default.hpp"
#include "config/loader.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: tern config check FILE\n"
    "       tern config reference\n"
    "       tern config default\n";

int usage_error(std::string_view message) {
  std::cerr << "tern: " << message << '\n' << kUsage;
  return tern::cmd::kUsageExit;
}

std::string summary(const std::string& file, const tern::config::LoadResult& result) {
  const auto& config = result.config;
  std::size_t warnings = result.diagnostics.size();
  return file + ": ok (" + std::to_string(config.entries().size()) + " keys set, " +
         std::to_string(config.instances("server.listener").size()) + " listeners, " +
         std::to_string(config.instances("remote").size()) + " remote hosts, " +
         std::to_string(config.instances("directory").size()) + " directories, " +
         std::to_string(warnings) + " warnings)";
}

int config_check(const std::string& file) {
  auto result = tern::config::load_file(file);
  tern::cmd::print_diagnostics(result, std::cerr);
  if (!result.ok()) return tern::cmd::config_exit_code(result);
  std::cout << summary(file, result) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? tern::cmd::kUsageExit : 0;
  }
  if (args[0] != "config") return usage_error("unknown command '" + args[0] + "'");
  if (args.size() == 3 && args[1] == "check") return config_check(args[2]);
  if (args.size() == 2 && args[1] == "reference") {
    std::cout << tern::config::tern_schema().reference_markdown();
    return 0;
  }
  if (args.size() == 2 && args[1] == "default") {
    std::cout << tern::config::embedded_default_toml();
    return 0;
  }
  return usage_error("unknown or incomplete 'config' command");
}
