// config/engine_settings.hpp — the engine's settings (runtime/settings.hpp) from a loaded,
// checked configuration, plus what the daemon must build with an Io before the engine can
// use it: TLS identities from certificate.<id> and directories from directory.<name>.
//
// Contract:
// - build_engine_config(config, model) takes a Config the loader accepted and the model
//   build_route_model() built without errors. It never throws; it reports, with the
//   file:line:col of the key, a bind address that is not "IP:PORT" or "[IPv6]:PORT", the
//   same address bound by two listeners, and a tls.certificate naming no certificate.<id>.
// - Every value is the file's or the schema's default (config/keys/): this file writes no
//   default of its own. server.hostname has none: it is "" when unset, and the caller
//   (cmd/common's load_and_check) puts the machine's host name there.
// - Certificates: the listener's tls.certificate, else server.tls.certificate, else the
//   only certificate.<id>; with no certificate at all, `needs_self_signed` is true and
//   listeners use the identity named "" (the daemon creates it).
// - resolver.custom entries that are not "udp://IP[:PORT]", "IP:PORT", "[IPv6]:PORT" or an
//   IP are errors, as is resolver.type = "custom" with no server; servers listed for
//   another type draw a warning (they would be ignored).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "config/route_model.hpp"
#include "runtime/settings.hpp"

namespace tern::runtime::directory {
struct DirectorySpec;  // runtime/directory/registry.hpp
}

namespace tern::config {

struct CertificateSpec {
  std::string certificate_pem;
  std::string private_key_pem;
};

// resolver.*: the daemon gives it to its Io (the engine only sees Io::dns_query).
struct ResolverSpec {
  enum class Type { system, custom, recursive };
  Type type = Type::system;
  std::vector<runtime::Endpoint> servers;  // custom
  std::string trust_anchor_file;           // "" = no DNSSEC validation
};

struct EngineConfig {
  runtime::EngineSettings settings;  // directories and tls_identities left empty
  std::map<std::string, CertificateSpec> certificates;
  bool needs_self_signed = false;
  std::vector<DirectoryModel> directories;
  std::string spool_dir;
  std::string maildir_dir;
  ResolverSpec resolver;
};

struct EngineConfigResult {
  EngineConfig engine;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;
};

EngineConfigResult build_engine_config(const Config& config, const RouteModel& model);

// What a checked model describes, for the runtime's directory registry
// (runtime/directory/registry.hpp), which builds it: config/ constructs no directory.
// Remote ones say `engine_hostname` in their HELO.
runtime::directory::DirectorySpec directory_spec(const DirectoryModel& model,
                                                 const std::string& engine_hostname);
// DirectoryRegistry::builtin().build(directory_spec(...)): "" and `out` set, or why not (a
// memory directory whose principals are invalid).
std::string build_directory(const DirectoryModel& model, const std::string& engine_hostname,
                            runtime::Io& io, std::shared_ptr<runtime::directory::Directory>& out);

}  // namespace tern::config
