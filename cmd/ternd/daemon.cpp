#include "cmd/ternd/daemon.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "runtime/directory/imap_directory.hpp"
#include "runtime/directory/memory_adapter.hpp"
#include "runtime/directory/memory_directory.hpp"
#include "runtime/directory/smtp_directory.hpp"

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

bool write_private_file(const fs::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  ::chmod(tmp.c_str(), 0600);
  std::error_code error;
  fs::rename(tmp, path, error);
  return !error;
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
    std::error_code error;
    fs::create_directories(folder, error);
    if (error || !write_private_file(key_path, made->private_key_pem) ||
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

std::string build_directory(const config::DirectoryModel& model, const std::string& engine_hostname,
                            runtime::Io& io, std::shared_ptr<dir::Directory>& out) {
  if (model.type == config::DirectoryType::memory) {
    dir::MemoryDirectoryInput input;
    for (const auto& p : model.principals) {
      input.principals.push_back(dir::PrincipalInput{p.name, p.secret, p.emails});
    }
    input.lookup_domains = model.lookup_domains;
    auto built = dir::MemoryDirectory::build(input);
    // Its warnings (plain-text secrets) were printed with the file and line at load.
    if (!built.directory) {
      std::string message = "directory '" + model.name + "':";
      for (const auto& e : built.errors) message += " " + e.message + ";";
      return message;
    }
    out = std::make_shared<dir::MemoryDirectoryAsync>(std::move(*built.directory), io);
    return "";
  }
  dir::RemoteDirectorySettings settings;
  settings.address = model.address;
  settings.port = model.port;
  settings.tls_implicit = model.tls_implicit;
  settings.allow_invalid_certs = model.tls_allow_invalid_certs;
  settings.starttls = model.tls_starttls;
  settings.limits_rcpt = static_cast<std::size_t>(model.limits_rcpt);
  settings.limits_auth_errors = static_cast<std::uint32_t>(model.limits_auth_errors);
  settings.lookup_domains = model.lookup_domains;
  settings.timeout = model.timeout;
  settings.pool_max_connections = static_cast<std::size_t>(model.pool_max_connections);
  settings.cache_entries_max = static_cast<std::size_t>(model.cache_size);
  settings.cache_positive_ttl = model.cache_ttl_positive;
  settings.cache_negative_ttl = model.cache_ttl_negative;
  settings.helo_name = engine_hostname;
  if (model.type == config::DirectoryType::imap) {
    out = std::make_shared<dir::ImapDirectory>(io, std::move(settings));
  } else {
    out = std::make_shared<dir::SmtpDirectory>(io, std::move(settings),
                                               model.type == config::DirectoryType::lmtp
                                                   ? dir::SmtpDirectoryMode::lmtp
                                                   : dir::SmtpDirectoryMode::smtp);
  }
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
    if (auto error = build_directory(model, engine.settings.hostname, io, built); !error.empty()) {
      return {nullptr, error};
    }
    settings->directories[model.name] = std::move(built);
  }
  return {std::move(settings), ""};
}

}  // namespace tern::cmd
