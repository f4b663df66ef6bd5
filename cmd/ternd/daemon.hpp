// cmd/ternd/daemon.hpp — wiring a checked configuration to the engine on the Asio Io:
// TLS identities (loading certificate.<id>, or creating the self-signed one on first start),
// directories, the log sink, and the Server itself.
//
// Contract: build_runtime_settings() never throws; it returns the settings or a message
// saying what could not be built (a certificate that does not load, a memory directory
// whose principals are invalid), which ternd prints and exits on at start and logs and
// ignores on reload.
#pragma once

#include <memory>
#include <string>

#include "adapters/asio/asio_io.hpp"
#include "config/engine_settings.hpp"
#include "runtime/log.hpp"
#include "runtime/settings.hpp"

namespace tern::cmd {

class SpdlogSink final : public runtime::LogSink {
 public:
  void log(runtime::LogLevel level, std::string_view session, std::string_view message) override;
};

struct RuntimeSettingsResult {
  std::shared_ptr<const runtime::EngineSettings> settings;
  std::string error;  // empty on success
};

RuntimeSettingsResult build_runtime_settings(const config::EngineConfig& engine, runtime::Io& io);

}  // namespace tern::cmd
