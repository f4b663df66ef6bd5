#include "cmd/ternd/daemon.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/ternd/storage.hpp"

namespace tern::cmd {
namespace {

namespace fs = std::filesystem;
namespace dir = runtime::directory;

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Written under a temporary name, 0600 from its creation (not chmod'ed after: the key must
// never be readable by others, even for a moment), then renamed into place.
bool write_private_file(const fs::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  std::error_code error;
  if (ok) fs::rename(tmp, path, error);
  return ok && !error;
}

// The self-signed identity of a configuration without certificates: created once, kept
// beside the spool so that clients see the same certificate after a restart.
std::string self_signed(const config::EngineConfig& engine, runtime::Io& io,
                        runtime::TlsIdentityId& id) {
  const fs::path folder = fs::path(engine.spool_dir) / "tls";
  const auto cert_path = folder / "self-signed.crt";
  const auto key_path = folder / "self-signed.key";
  auto cert = read_file(cert_path);
  auto key = read_file(key_path);
  if (!cert || !key) {
    auto made = adapters::asio::generate_self_signed(engine.settings.hostname);
    if (!made) return "cannot create a self-signed certificate: " + made.error().detail;
    if (!make_private_folders(folder.string()).empty() ||
        !write_private_file(key_path, made->private_key_pem) ||
        !write_private_file(cert_path, made->certificate_pem)) {
      return "cannot write the self-signed certificate under " + folder.string();
    }
    spdlog::warn(
        "no certificate configured: created a self-signed one for '{}' in {} "
        "(clients will not trust it; configure certificate.<id> for production)",
        engine.settings.hostname, cert_path.string());
    cert = made->certificate_pem;
    key = made->private_key_pem;
  }
  auto loaded = io.load_tls_identity(*cert, *key);
  if (!loaded)
    return "self-signed certificate in " + folder.string() + ": " + loaded.error().detail;
  id = *loaded;
  return "";
}

}  // namespace

void SpdlogSink::log(runtime::LogLevel level, std::string_view session, std::string_view message) {
  switch (level) {
    case runtime::LogLevel::debug: spdlog::debug("[{}] {}", session, message); break;
    case runtime::LogLevel::info: spdlog::info("[{}] {}", session, message); break;
    case runtime::LogLevel::warning: spdlog::warn("[{}] {}", session, message); break;
    case runtime::LogLevel::error: spdlog::error("[{}] {}", session, message); break;
  }
}

RuntimeSettingsResult build_runtime_settings(const config::EngineConfig& engine, runtime::Io& io) {
  auto settings = std::make_shared<runtime::EngineSettings>(engine.settings);
  for (const auto& [id, spec] : engine.certificates) {
    auto loaded = io.load_tls_identity(spec.certificate_pem, spec.private_key_pem);
    if (!loaded) return {nullptr, "certificate." + id + ": " + loaded.error().detail};
    settings->tls_identities[id] = *loaded;
  }
  if (engine.needs_self_signed) {
    runtime::TlsIdentityId id = 0;
    if (auto error = self_signed(engine, io, id); !error.empty()) return {nullptr, error};
    settings->tls_identities[""] = id;
  }
  for (const auto& model : engine.directories) {
    std::shared_ptr<dir::Directory> built;
    if (auto error = config::build_directory(model, engine.settings.hostname, io, built);
        !error.empty()) {
      return {nullptr, error};
    }
    settings->directories[model.name] = std::move(built);
  }
  return {std::move(settings), ""};
}

}  // namespace tern::cmd
