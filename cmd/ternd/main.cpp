// ternd — the Tern daemon.
//
//   ternd [--config FILE]
//
// Loads and checks the configuration (the embedded default when no file is given) exactly
// as `tern config check` does; a configuration with errors prints one FILE:LINE:COL:
// message line per problem and exits with status 2. The receiving and delivering engines arrive
// with the issues that build them (runtime/, adapters/); until then ternd checks its configuration,
// logs what it would serve, and waits for SIGINT or SIGTERM.
#include <csignal>
#include <iostream>
#include <string>
#include <variant>

#include <spdlog/spdlog.h>

#include "cmd/common/diagnostics.hpp"
#include "config/loader.hpp"

namespace {

int usage_error(const std::string& message) {
  std::cerr << "ternd: " << message << "\nusage: ternd [--config FILE]\n";
  return tern::cmd::kUsageExit;
}

void log_listeners(const tern::config::Config& config) {
  for (const auto& id : config.instances("server.listener")) {
    const auto* bind = config.value_or_default("server.listener." + id + ".bind");
    const auto* protocol = config.value_or_default("server.listener." + id + ".protocol");
    std::string addresses;
    if (bind != nullptr) {
      for (const auto& address : std::get<std::vector<std::string>>(*bind)) {
        addresses += (addresses.empty() ? "" : ", ") + address;
      }
    }
    spdlog::info("listener '{}': {} on {} (serving arrives with the receiving engine)", id,
                 protocol ? std::get<std::string>(*protocol) : "smtp", addresses);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_file = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: ternd [--config FILE]\n";
      return 0;
    } else {
      return usage_error("unknown argument '" + arg + "'");
    }
  }
  const auto checked = tern::cmd::load_and_check(config_file, std::cerr);
  if (!checked.ok) return tern::cmd::kConfigErrorExit;
  const auto& result = checked.load;

  // Block the signals before anything else so sigwait receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spdlog::info("ternd {} started with {} ({} keys set)", TERN_VERSION,
               config_file.empty() ? "the embedded default configuration" : config_file,
               result.config.entries().size());
  log_listeners(result.config);
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, stopping", received == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}
