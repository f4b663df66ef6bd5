// ternd — the Tern daemon.
//
//   ternd [--config FILE] [--check] [--debug]
//
// Loads and checks the configuration (the embedded default when no file is given) exactly
// as `tern config check` does; a configuration with errors prints one FILE:LINE:COL:
// message line per problem and exits with status 2. Then it recovers the spool, opens the
// listeners and serves until SIGTERM or SIGINT (graceful: stop accepting, let sessions in
// flight finish or tempfail them, exit 0). SIGHUP reloads the configuration: a file with
// errors is logged and the old configuration stays in force.
#include <csignal>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "adapters/asio/asio_io.hpp"
#include "cmd/common/diagnostics.hpp"
#include "cmd/ternd/control_server.hpp"
#include "cmd/ternd/daemon.hpp"
#include "cmd/ternd/storage.hpp"
#include "runtime/server.hpp"

namespace {

struct Options {
  std::string config_file;
  bool check_only = false;
  bool debug = false;
};

int usage_error(const std::string& message) {
  std::cerr << "ternd: " << message << "\nusage: ternd [--config FILE] [--check] [--debug]\n";
  return tern::cmd::kUsageExit;
}

// The Asio Io's options from the configuration: folders and the resolver.
tern::adapters::asio::AsioIoOptions io_options(const tern::config::EngineConfig& engine) {
  tern::adapters::asio::AsioIoOptions options{engine.spool_dir, engine.maildir_dir};
  using Mode = tern::adapters::asio::ResolverOptions::Mode;
  using Type = tern::config::ResolverSpec::Type;
  auto& r = options.resolver;
  r.mode = engine.resolver.type == Type::custom      ? Mode::custom
           : engine.resolver.type == Type::recursive ? Mode::recursive
                                                     : Mode::system;
  r.forwarders = engine.resolver.servers;
  r.trust_anchor_file = engine.resolver.trust_anchor_file;
  return options;
}

class Daemon {
 public:
  Daemon(Options options, tern::config::EngineConfig engine)
      : options_(std::move(options)),
        io_(context_, io_options(engine)),
        signals_(context_, SIGTERM, SIGINT, SIGHUP),
        engine_(std::move(engine)) {}

  int run() {
    auto built = tern::cmd::build_runtime_settings(engine_, io_);
    if (!built.settings) {
      spdlog::error("{}", built.error);
      return tern::cmd::kConfigErrorExit;
    }
    server_.emplace(io_, log_, built.settings);
    if (auto started = server_->start(); !started.ok()) {
      spdlog::error("cannot start: {}", started.error->detail);
      return 1;
    }
    tern::cmd::ControlServerOptions control_options;
    control_options.path = engine_.spool_dir + "/control.sock";
    control_.emplace(context_, server_->queue(), std::move(control_options));
    if (auto problem = control_->start()) {
      spdlog::error("control socket: {}", *problem);
      return 1;
    }
    spdlog::info("ternd {} ready (spool {}, maildir {})", TERN_VERSION, engine_.spool_dir,
                 engine_.maildir_dir);
    wait_for_signal();
    context_.run();
    const auto syncs = io_.spool_sync_counts();
    spdlog::info("ternd stopped (spool fdatasyncs: {} on the engine thread, {} on the pool)",
                 syncs.on_engine, syncs.on_pool);
    return 0;
  }

 private:
  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& error, int signal) {
      if (error) return;
      if (signal == SIGHUP) {
        reload();
        wait_for_signal();
        return;
      }
      spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      control_.reset();
      server_->shutdown([this] {
        server_.reset();
        signals_.cancel();
        context_.stop();
      });
    });
  }

  void reload() {
    std::ostringstream diagnostics;
    const auto checked = tern::cmd::load_and_check(options_.config_file, diagnostics);
    if (!checked.ok) {
      spdlog::error("SIGHUP: the configuration has errors; still running on the old one:\n{}",
                    diagnostics.str());
      return;
    }
    auto built = tern::cmd::build_runtime_settings(checked.engine.engine, io_);
    if (!built.settings) {
      spdlog::error("SIGHUP: {}; still running on the old configuration", built.error);
      return;
    }
    server_->reload(built.settings);
  }

  Options options_;
  boost::asio::io_context context_;
  tern::adapters::asio::AsioIo io_;
  boost::asio::signal_set signals_;
  tern::cmd::SpdlogSink log_;
  tern::config::EngineConfig engine_;
  std::optional<tern::runtime::Server> server_;
  std::optional<tern::cmd::ControlServer> control_;  // after server_: destroyed first
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      options.config_file = argv[++i];
    } else if (arg == "--check") {
      options.check_only = true;
    } else if (arg == "--debug") {
      options.debug = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: ternd [--config FILE] [--check] [--debug]\n";
      return 0;
    } else {
      return usage_error("unknown argument '" + arg + "'");
    }
  }
  // Everything ternd creates is its own: the spool's files, Maildir copies, the TLS key and
  // the control socket are private whatever umask ternd was started with.
  ::umask(077);
  const auto checked = tern::cmd::load_and_check(options.config_file, std::cerr);
  if (!checked.ok) return tern::cmd::kConfigErrorExit;
  // What the start would trip on over its folders, --check reports too.
  const auto storage = tern::cmd::check_storage(checked.load.config, checked.engine.engine);
  for (const auto& problem : storage) std::cerr << tern::config::to_string(problem) << '\n';
  if (!storage.empty()) return tern::cmd::kConfigErrorExit;
  if (options.check_only) return 0;
  if (auto error = tern::cmd::prepare_storage(checked.engine.engine); !error.empty()) {
    std::cerr << "ternd: " << error << '\n';
    return 1;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (options.debug) spdlog::set_level(spdlog::level::debug);
  spdlog::info(
      "ternd {} starting with {}", TERN_VERSION,
      options.config_file.empty() ? "the embedded default configuration" : options.config_file);
  Daemon daemon(options, checked.engine.engine);
  return daemon.run();
}
