// runtime/log.hpp — where the engine's log lines go. The engine formats them; the daemon
// sends them to spdlog, the tests collect them. Every line names its session ("-" for the
// engine itself) so that one conversation can be followed with grep.
#pragma once

#include <string>
#include <string_view>

namespace tern::runtime {

enum class LogLevel { debug, info, warning, error };

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void log(LogLevel level, std::string_view session, std::string_view message) = 0;
};

class NullLog final : public LogSink {
 public:
  void log(LogLevel, std::string_view, std::string_view) override {}
};

}  // namespace tern::runtime
