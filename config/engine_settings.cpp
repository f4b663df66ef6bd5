#include "config/engine_settings.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "config/values.hpp"
#include "runtime/directory/memory_directory.hpp"
#include "runtime/directory/registry.hpp"

namespace tern::config {
namespace {

// A key's value: the file's, else the schema's default (config/keys/, the one place a
// default is written; docs/configuration.md shows it). The loader has checked the type.
// Keys the schema gives no default (server.hostname, resolver.trust-anchor, required ones
// of an instance) read as T{} when absent.
template <class T>
T get(const Config& config, const std::string& key) {
  const Value* value = config.value_or_default(key);
  const T* typed = value != nullptr ? std::get_if<T>(value) : nullptr;
  return typed != nullptr ? *typed : T{};
}

std::size_t get_count(const Config& config, const std::string& key) {
  return static_cast<std::size_t>(std::max<std::int64_t>(get<std::int64_t>(config, key), 0));
}

SourcePos pos_of(const Config& config, const std::string& key) {
  const Entry* entry = config.find(key);
  return entry != nullptr ? entry->pos : SourcePos{"<default>", 0, 0};
}

void error(EngineConfigResult& result, SourcePos pos, std::string message) {
  result.diagnostics.push_back(
      Diagnostic{Diagnostic::Severity::error, std::move(pos), std::move(message)});
}

// The certificate id a listener uses ("" = self-signed).
std::string certificate_for(const Config& config, EngineConfigResult& result,
                            const std::string& listener_key) {
  const auto& certs = result.engine.certificates;
  std::string chosen;
  std::string from_key;
  if (const Entry* own = config.find(listener_key + ".tls.certificate")) {
    chosen = std::get<std::string>(own->value);
    from_key = listener_key + ".tls.certificate";
  } else if (const Entry* global = config.find("server.tls.certificate")) {
    chosen = std::get<std::string>(global->value);
    from_key = "server.tls.certificate";
  } else if (certs.size() == 1) {
    return certs.begin()->first;
  } else if (certs.empty()) {
    result.engine.needs_self_signed = true;
    return "";
  } else {
    error(result, pos_of(config, listener_key + ".bind"),
          "several certificates are defined: set server.tls.certificate or " + listener_key +
              ".tls.certificate");
    return "";
  }
  if (certs.count(chosen) == 0) {
    error(result, pos_of(config, from_key),
          from_key + " names certificate '" + chosen + "', which is not defined (certificate." +
              chosen + ".cert)");
  }
  return chosen;
}

void build_listeners(const Config& config, EngineConfigResult& result) {
  std::set<std::string> bound;
  for (const auto& id : config.instances("server.listener")) {
    const std::string key = "server.listener." + id;
    runtime::ListenerSettings listener;
    listener.id = id;
    listener.lmtp = get<std::string>(config, key + ".protocol") == "lmtp";
    listener.implicit_tls = get<bool>(config, key + ".tls.implicit");
    listener.starttls = get<bool>(config, key + ".tls.starttls");
    listener.certificate = certificate_for(config, result, key);
    for (const auto& text : get<std::vector<std::string>>(config, key + ".bind")) {
      const auto endpoint = runtime::parse_endpoint(text);
      if (!endpoint) {
        error(result, pos_of(config, key + ".bind"),
              key + ".bind: '" + text +
                  "' is not an address: write \"127.0.0.1:25\" or \"[::1]:25\"");
        continue;
      }
      if (!bound.insert(endpoint->text()).second) {
        error(result, pos_of(config, key + ".bind"),
              key + ".bind: " + endpoint->text() + " is bound by another listener too");
        continue;
      }
      listener.binds.push_back(*endpoint);
    }
    result.engine.settings.listeners.push_back(std::move(listener));
  }
}

// A memory directory is built here once, only to report its problems (a malformed
// hash, two principals with one address) at load time with the file and line.
void check_memory_directories(const Config& config, EngineConfigResult& result) {
  for (const auto& model : result.engine.directories) {
    if (model.type != DirectoryType::memory) continue;
    runtime::directory::MemoryDirectoryInput input;
    for (const auto& p : model.principals) input.principals.push_back({p.name, p.secret, p.emails});
    input.lookup_domains = model.lookup_domains;
    const auto built = runtime::directory::MemoryDirectory::build(input);
    const std::string key = "directory." + model.name + ".principals";
    for (const auto& e : built.errors) {
      error(result, pos_of(config, key), key + ": " + e.message);
    }
    for (const auto& w : built.warnings) {
      result.diagnostics.push_back(
          Diagnostic{Diagnostic::Severity::warning, pos_of(config, key), key + ": " + w.message});
    }
  }
}

// queue.schedule.retry / notify: lists of durations, each checked like a duration key.
std::vector<protocol::Duration> durations(const Config& config, EngineConfigResult& result,
                                          const std::string& key) {
  std::vector<protocol::Duration> out;
  for (const auto& text : get<std::vector<std::string>>(config, key)) {
    auto parsed = parse_duration(text);
    if (!parsed || parsed->ns <= 0) {
      error(result, pos_of(config, key),
            key + ": '" + text + "' is not a positive duration (\"30s\", \"5m\", \"1h\", \"1d\")");
      continue;
    }
    out.push_back(*parsed);
  }
  if (out.empty() && key == "queue.schedule.retry") {
    error(result, pos_of(config, key), key + ": needs at least one duration");
  }
  return out;
}

void build_outbound(const Config& config, EngineConfigResult& result) {
  auto& o = result.engine.settings.outbound;
  o.mx_max = get_count(config, "queue.outbound.limits.mx");
  o.multihomed_max = get_count(config, "queue.outbound.limits.multihomed");
  o.concurrency_per_destination = get_count(config, "queue.outbound.limits.concurrency");
  o.mx_allow_invalid_certs = get<bool>(config, "queue.outbound.tls.allow-invalid-certs");
  o.dns_timeout = get<protocol::Duration>(config, "resolver.timeout");
  o.connect_timeout = get<protocol::Duration>(config, "queue.outbound.timeouts.connect");
  o.greeting_timeout = get<protocol::Duration>(config, "queue.outbound.timeouts.greeting");
  o.command_timeout = get<protocol::Duration>(config, "queue.outbound.timeouts.command");
  o.data_timeout = get<protocol::Duration>(config, "queue.outbound.timeouts.data");
  // Not implemented yet: accepting "require" would promise a check that never happens.
  for (const std::string key : {"queue.outbound.tls.mta-sts", "queue.outbound.tls.dane"}) {
    if (get<std::string>(config, key) != "require") continue;
    error(result, pos_of(config, key),
          key + " = \"require\" is not supported yet (Tern does not check " +
              (key.ends_with("dane") ? "DANE" : "MTA-STS") +
              " policies): use \"optional\" or \"disable\"");
  }
}

// "udp://127.0.0.1:53", "127.0.0.1:5353", "[::1]:53", "127.0.0.1", "::1".
std::optional<runtime::Endpoint> name_server(std::string text) {
  if (text.rfind("udp://", 0) == 0) text = text.substr(6);
  if (auto endpoint = runtime::parse_endpoint(text)) return endpoint;
  if (auto endpoint = runtime::parse_endpoint(text + ":53")) return endpoint;
  if (auto endpoint = runtime::parse_endpoint("[" + text + "]:53")) return endpoint;
  return std::nullopt;
}

void build_resolver(const Config& config, EngineConfigResult& result) {
  auto& r = result.engine.resolver;
  const std::string type = get<std::string>(config, "resolver.type");
  r.type = type == "custom"      ? ResolverSpec::Type::custom
           : type == "recursive" ? ResolverSpec::Type::recursive
                                 : ResolverSpec::Type::system;
  r.trust_anchor_file = get<std::string>(config, "resolver.trust-anchor");
  const auto servers = get<std::vector<std::string>>(config, "resolver.custom");
  for (const std::string& text : servers) {
    auto endpoint = name_server(text);
    if (!endpoint) {
      error(result, pos_of(config, "resolver.custom"),
            "resolver.custom: '" + text +
                "' is not a name server address: write \"udp://192.0.2.53:53\", \"192.0.2.53\" "
                "or \"[2001:db8::53]:53\"");
      continue;
    }
    r.servers.push_back(*endpoint);
  }
  if (r.type == ResolverSpec::Type::custom && servers.empty()) {
    error(result, pos_of(config, "resolver.type"),
          "resolver.type is \"custom\" but resolver.custom lists no name server");
  }
  if (r.type != ResolverSpec::Type::custom && !servers.empty()) {
    result.diagnostics.push_back(Diagnostic{
        Diagnostic::Severity::warning, pos_of(config, "resolver.custom"),
        "resolver.custom is ignored unless resolver.type = \"custom\" (it is \"" + type + "\")"});
  }
}

}  // namespace

bool EngineConfigResult::ok() const {
  for (const auto& d : diagnostics) {
    if (d.severity == Diagnostic::Severity::error) return false;
  }
  return true;
}

EngineConfigResult build_engine_config(const Config& config, const RouteModel& model) {
  EngineConfigResult result;
  auto& engine = result.engine;
  auto& s = engine.settings;
  for (const auto& id : config.instances("certificate")) {
    engine.certificates[id] =
        CertificateSpec{get<std::string>(config, "certificate." + id + ".cert"),
                        get<std::string>(config, "certificate." + id + ".private-key")};
  }
  s.hostname = get<std::string>(config, "server.hostname");  // "": the caller names the machine
  s.connections_max = get_count(config, "server.max-connections");
  s.connections_per_ip_max = get_count(config, "server.max-connections-per-ip");
  s.command_timeout = get<protocol::Duration>(config, "server.timeout.command");
  s.data_timeout = get<protocol::Duration>(config, "server.timeout.data");
  s.data_total_max = get<protocol::Duration>(config, "server.timeout.data-total");
  s.data_rate_min = get_count(config, "server.timeout.data-min-rate");
  s.connections_per_ip_share = get_count(config, "server.max-connections-per-ip-share");
  s.shutdown_grace = get<protocol::Duration>(config, "server.timeout.shutdown");
  s.auth_failure_delay = get<protocol::Duration>(config, "session.auth.errors.wait");
  s.rcpt_failure_delay = get<protocol::Duration>(config, "session.rcpt.errors.wait");
  s.auth_lockout_ip = static_cast<std::uint32_t>(get_count(config, "session.auth.lockout.ip"));
  s.auth_lockout_account =
      static_cast<std::uint32_t>(get_count(config, "session.auth.lockout.account"));
  s.auth_lockout_window = get<protocol::Duration>(config, "session.auth.lockout.window");
  s.session = model.session;
  s.routing = model.routing;
  s.default_directory = model.default_directory;
  build_listeners(config, result);
  s.queue.retry = durations(config, result, "queue.schedule.retry");
  s.queue.notify = durations(config, result, "queue.schedule.notify");
  s.queue.expire = get<protocol::Duration>(config, "queue.schedule.expire");
  s.queue.deliveries_in_flight_max = get_count(config, "queue.limits.messages");
  build_outbound(config, result);
  build_resolver(config, result);
  engine.directories = model.directories;
  check_memory_directories(config, result);
  engine.spool_dir = get<std::string>(config, "storage.spool");
  engine.maildir_dir = get<std::string>(config, "storage.maildir");
  return result;
}

namespace dir = runtime::directory;

namespace {
const char* kind_name(config::DirectoryType type) {
  switch (type) {
    case config::DirectoryType::memory: return "memory";
    case config::DirectoryType::imap: return "imap";
    case config::DirectoryType::smtp: return "smtp";
    case config::DirectoryType::lmtp: return "lmtp";
  }
  return "";
}
}  // namespace

dir::DirectorySpec directory_spec(const config::DirectoryModel& model,
                                  const std::string& engine_hostname) {
  dir::DirectorySpec spec;
  spec.name = model.name;
  spec.kind = kind_name(model.type);
  for (const auto& p : model.principals)
    spec.memory.principals.push_back(dir::PrincipalInput{p.name, p.secret, p.emails});
  spec.memory.lookup_domains = model.lookup_domains;
  auto& remote = spec.remote;
  remote.address = model.address;
  remote.port = model.port;
  remote.tls_implicit = model.tls_implicit;
  remote.allow_invalid_certs = model.tls_allow_invalid_certs;
  remote.starttls = model.tls_starttls;
  remote.limits_rcpt = static_cast<std::size_t>(model.limits_rcpt);
  remote.limits_auth_errors = static_cast<std::uint32_t>(model.limits_auth_errors);
  remote.lookup_domains = model.lookup_domains;
  remote.timeout = model.timeout;
  remote.pool_max_connections = static_cast<std::size_t>(model.pool_max_connections);
  remote.cache_entries_max = static_cast<std::size_t>(model.cache_size);
  remote.cache_positive_ttl = model.cache_ttl_positive;
  remote.cache_negative_ttl = model.cache_ttl_negative;
  remote.helo_name = engine_hostname;
  return spec;
}

std::string build_directory(const config::DirectoryModel& model, const std::string& engine_hostname,
                            runtime::Io& io, std::shared_ptr<runtime::directory::Directory>& out) {
  return dir::DirectoryRegistry::builtin().build(directory_spec(model, engine_hostname), io, out);
}

}  // namespace tern::config
