// Fuzz target: the configuration loader on arbitrary text.
// Invariants: it never throws or crashes; every diagnostic points into the fuzzed file;
// every entry it keeps is a registered key whose pattern matches the entry's path; a
// result without errors has no error diagnostics (ok() agrees with the list).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern::config;
  LoadOptions options;
  options.allow_file_macros = false;
  options.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SET") return std::string("value");
    return std::nullopt;
  };
  std::string_view text(reinterpret_cast<const char*>(data), size);
  LoadResult result = load_string(text, "f.toml", "", options);
  bool has_error = false;
  for (const auto& d : result.diagnostics) {
    if (d.pos.file != "f.toml" || d.message.empty()) std::abort();
    has_error |= d.severity == Diagnostic::Severity::error;
  }
  if (has_error == result.ok()) std::abort();
  for (const auto& [path, entry] : result.config.entries()) {
    auto match = tern_schema().match(path);
    if (!match || match->spec != entry.spec) std::abort();
  }
  return 0;
}
