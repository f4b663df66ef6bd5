#include "config/route_model.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <tuple>
#include <utility>

#include "config/keys/session_keys.hpp"

namespace tern::config {
namespace {

namespace route = protocol::route;
using route::Type;
using route::TypeSet;

using Stage = SessionStage;

const TypeSet kStringOrFalse = TypeSet(Type::string) | Type::boolean;
const TypeSet kListOrFalse = TypeSet(Type::string_list) | Type::boolean;

TypeSet result_types(SessionResult result) {
  switch (result) {
    case SessionResult::boolean: return Type::boolean;
    case SessionResult::integer: return Type::integer;
    case SessionResult::string_or_false: return kStringOrFalse;
    case SessionResult::list_or_false: return kListOrFalse;
  }
  return Type::boolean;
}

route::Environment stage_environment(std::string context, Stage stage) {
  static constexpr std::string_view kConnection[] = {"listener", "remote_ip", "local_ip",
                                                     "helo_domain"};
  static constexpr std::string_view kEhlo[] = {"listener", "remote_ip", "local_ip", "helo_domain",
                                               "authenticated_as"};
  static constexpr std::string_view kRcpt[] = {
      "listener", "remote_ip",     "local_ip", "helo_domain", "authenticated_as",
      "sender",   "sender_domain", "rcpt",     "rcpt_domain", "priority"};
  static constexpr std::string_view kData[] = {"listener",      "remote_ip",        "local_ip",
                                               "helo_domain",   "authenticated_as", "sender",
                                               "sender_domain", "recipients",       "priority"};
  switch (stage) {
    case Stage::auth: return route::Environment::with_variables(std::move(context), kConnection);
    case Stage::ehlo: return route::Environment::with_variables(std::move(context), kEhlo);
    case Stage::rcpt: return route::Environment::with_variables(std::move(context), kRcpt);
    case Stage::data: return route::Environment::with_variables(std::move(context), kData);
  }
  return route::Environment::with_variables(std::move(context), kConnection);
}

constexpr std::string_view kMechanisms[] = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  });
  return text;
}

// " (did you mean 'x'?)" for the closest candidate within two edits, else "".
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  int best_edits = 3;
  for (const std::string& c : candidates) {
    int edits = edit_distance(name, c);
    if (edits < best_edits && edits < static_cast<int>(std::max(name.size(), c.size()))) {
      best = &c;
      best_edits = edits;
    }
  }
  return best == nullptr ? std::string() : " (did you mean '" + *best + "'?)";
}

// The file position of byte `offset` of a one-line quoted TOML string that starts at `pos`.
SourcePos at_offset(SourcePos pos, std::size_t offset) {
  if (pos.line != 0) pos.column += static_cast<std::uint32_t>(1 + offset);
  return pos;
}

route::SourcePosition to_route(const SourcePos& pos) {
  return {pos.file, pos.line, pos.column};
}

// One compiled expression key and where each of its rules stands in the file.
struct CompiledKey {
  std::string key;
  Expression source;
  route::RuleList rules;
  SourcePos key_pos;  // the value's position, or <default>
};

class Builder {
 public:
  explicit Builder(const Config& config) : config_(config) {}
  RouteModelResult run();

 private:
  // Values with their registered defaults (the loader has checked every type).
  const Value* value(std::string_view path) const { return config_.value_or_default(path); }
  std::string string_or(std::string_view path, std::string fallback) const;
  std::optional<std::string> optional_string(std::string_view path) const;
  bool boolean_or(std::string_view path, bool fallback) const;
  protocol::Duration duration_or(std::string_view path, protocol::Duration fallback) const;
  std::int64_t integer_or(std::string_view path, std::int64_t fallback) const;
  std::vector<std::string> list_of(std::string_view path) const;
  SourcePos pos_of(std::string_view path) const;

  void error(SourcePos pos, std::string message) {
    out_.diagnostics.push_back({Diagnostic::Severity::error, std::move(pos), std::move(message)});
  }
  void warning(SourcePos pos, std::string message) {
    out_.diagnostics.push_back({Diagnostic::Severity::warning, std::move(pos), std::move(message)});
  }

  void build_remotes();
  void build_directories();
  DirectoryModel build_directory(const std::string& name);
  void build_principals(DirectoryModel& dir, const std::string& prefix);
  void choose_default_directory();
  void build_tls_policy();
  std::optional<CompiledKey> compile(const std::string& key, const Expression& source,
                                     SourcePos key_pos, const route::Environment& env,
                                     TypeSet result);
  void report(const CompiledKey& key, const route::Diagnostic& d, bool is_error);
  void build_next_hop();
  void build_relay_shorthand();
  void check_next_hop_results(const CompiledKey& key);
  void warn_relay_tls_policy(const CompiledKey& key);
  void build_session();
  void check_session_results(const CompiledKey& key);
  void check_directory_names(const CompiledKey& key);
  void check_directory_call(const CompiledKey& key, std::size_t rule, bool in_condition,
                            const route::Expr& call);
  void check_directory_name(const std::string& name, SourcePos pos, std::string_view what);
  void check_relay_keys_alone();

  const Config& config_;
  RouteModelResult out_;
  bool warned_no_directory_ = false;
};

std::string Builder::string_or(std::string_view path, std::string fallback) const {
  const Value* v = value(path);
  const auto* s = v != nullptr ? std::get_if<std::string>(v) : nullptr;
  return s != nullptr ? *s : fallback;
}

std::optional<std::string> Builder::optional_string(std::string_view path) const {
  const Value* v = value(path);
  const auto* s = v != nullptr ? std::get_if<std::string>(v) : nullptr;
  if (s == nullptr) return std::nullopt;
  return *s;
}

bool Builder::boolean_or(std::string_view path, bool fallback) const {
  const Value* v = value(path);
  const bool* b = v != nullptr ? std::get_if<bool>(v) : nullptr;
  return b != nullptr ? *b : fallback;
}

protocol::Duration Builder::duration_or(std::string_view path, protocol::Duration fallback) const {
  const Value* v = value(path);
  const auto* d = v != nullptr ? std::get_if<protocol::Duration>(v) : nullptr;
  return d != nullptr ? *d : fallback;
}

std::int64_t Builder::integer_or(std::string_view path, std::int64_t fallback) const {
  const Value* v = value(path);
  const auto* i = v != nullptr ? std::get_if<std::int64_t>(v) : nullptr;
  return i != nullptr ? *i : fallback;
}

std::vector<std::string> Builder::list_of(std::string_view path) const {
  const Value* v = value(path);
  const auto* l = v != nullptr ? std::get_if<std::vector<std::string>>(v) : nullptr;
  return l != nullptr ? *l : std::vector<std::string>{};
}

SourcePos Builder::pos_of(std::string_view path) const {
  const Entry* e = config_.find(path);
  return e != nullptr ? e->pos : SourcePos{"<default>", 0, 0};
}

void Builder::build_remotes() {
  for (const std::string& id : config_.instances("remote")) {
    const std::string p = "remote." + id + ".";
    if (id == "local") {
      error(pos_of(p + "address"), "a remote cannot be named 'local': 'local' is the local store");
      continue;
    }
    route::RemoteHost host;
    host.id = id;
    host.address = string_or(p + "address", "");
    host.port = static_cast<std::uint16_t>(integer_or(p + "port", 25));
    host.protocol = string_or(p + "protocol", "smtp") == "lmtp" ? route::RemoteProtocol::lmtp
                                                                : route::RemoteProtocol::smtp;
    bool implicit = boolean_or(p + "tls.implicit", true);
    bool starttls = boolean_or(p + "tls.starttls", true);
    host.tls = implicit   ? route::TlsMode::implicit
               : starttls ? route::TlsMode::starttls
                          : route::TlsMode::none;
    host.allow_invalid_certs = boolean_or(p + "tls.allow-invalid-certs", false);
    host.auth_username = optional_string(p + "auth.username");
    host.auth_secret = optional_string(p + "auth.secret");
    if (config_.find(p + "timeout") != nullptr) {
      host.timeout = duration_or(p + "timeout", protocol::Duration::minutes(5));
    }
    if (host.auth_secret && !host.auth_username) {
      error(pos_of(p + "auth.secret"),
            "'" + p + "auth.secret' is set without '" + p + "auth.username'");
    }
    out_.model.routing.remotes.push_back(std::move(host));
  }
}

void Builder::build_directories() {
  for (const std::string& name : config_.instances("directory")) {
    out_.model.directories.push_back(build_directory(name));
  }
}

DirectoryModel Builder::build_directory(const std::string& name) {
  const std::string p = "directory." + name + ".";
  DirectoryModel dir;
  dir.name = name;
  const std::string type = string_or(p + "type", "memory");
  dir.type = type == "imap"   ? DirectoryType::imap
             : type == "smtp" ? DirectoryType::smtp
             : type == "lmtp" ? DirectoryType::lmtp
                              : DirectoryType::memory;
  dir.address = string_or(p + "address", "");
  dir.port = static_cast<std::uint16_t>(integer_or(p + "port", 0));
  dir.tls_implicit = boolean_or(p + "tls.implicit", true);
  dir.tls_allow_invalid_certs = boolean_or(p + "tls.allow-invalid-certs", false);
  dir.limits_rcpt = integer_or(p + "limits.rcpt", 10);
  dir.limits_auth_errors = integer_or(p + "limits.auth-errors", 3);
  dir.tls_starttls = boolean_or(p + "tls.starttls", true);
  dir.timeout = duration_or(p + "timeout", dir.timeout);
  dir.pool_max_connections = integer_or(p + "pool.max-connections", 10);
  dir.cache_size = integer_or(p + "cache.size", 1000);
  dir.cache_ttl_positive = duration_or(p + "cache.ttl.positive", dir.cache_ttl_positive);
  dir.cache_ttl_negative = duration_or(p + "cache.ttl.negative", dir.cache_ttl_negative);
  for (const std::string& d : list_of(p + "lookup.domains")) dir.lookup_domains.push_back(lower(d));
  if (dir.type != DirectoryType::memory) {
    for (const char* key : {"address", "port"}) {
      if (config_.find(p + key) == nullptr) {
        error(pos_of(p + "type"),
              "directory '" + name + "' of type " + type + " needs '" + p + key + "'");
      }
    }
    if (config_.find(p + "principals") != nullptr) {
      error(pos_of(p + "principals"),
            "'" + p + "principals' is only for directories of type memory");
    }
  }
  build_principals(dir, p);
  return dir;
}

void Builder::build_principals(DirectoryModel& dir, const std::string& prefix) {
  const Value* v = value(prefix + "principals");
  const auto* items = v != nullptr ? std::get_if<TableList>(v) : nullptr;
  if (items == nullptr) return;
  for (const TableItem& item : *items) {
    Principal principal;
    if (const auto* n = item.find("name")) principal.name = std::get<std::string>(*n);
    if (const auto* s = item.find("secret")) principal.secret = std::get<std::string>(*s);
    if (const auto* e = item.find("email")) {
      for (const std::string& address : std::get<std::vector<std::string>>(*e)) {
        route::NormalisedAddress n = route::normalise_address(address);
        if (address.find('@') == std::string::npos || n.domain.empty()) {
          error(item.pos, "principal '" + principal.name + "': '" + address +
                              "' is not an address (user@domain)");
        }
        principal.emails.push_back(lower(n.address));
      }
    }
    dir.principals.push_back(std::move(principal));
  }
}

std::vector<std::string> directory_names(const RouteModel& model) {
  std::vector<std::string> names;
  for (const DirectoryModel& d : model.directories) names.push_back(d.name);
  return names;
}

void Builder::choose_default_directory() {
  RouteModel& m = out_.model;
  if (auto named = optional_string("storage.directory")) {
    if (m.find_directory(*named) == nullptr) {
      error(pos_of("storage.directory"), "storage.directory names '" + *named +
                                             "', which is not a defined directory" +
                                             did_you_mean(*named, directory_names(m)));
      return;
    }
    m.default_directory = *named;
  } else if (m.directories.size() == 1) {
    m.default_directory = m.directories.front().name;
  }
}

route::TlsPolicy policy_of(const std::string& text) {
  if (text == "require") return route::TlsPolicy::require;
  if (text == "disable") return route::TlsPolicy::disable;
  return route::TlsPolicy::optional;
}

void Builder::build_tls_policy() {
  auto& tls = out_.model.routing.mx_tls;
  tls.mta_sts = policy_of(string_or("queue.outbound.tls.mta-sts", "optional"));
  tls.dane = policy_of(string_or("queue.outbound.tls.dane", "optional"));
  tls.starttls = policy_of(string_or("queue.outbound.tls.starttls", "optional"));
}

route::Value atom_value(const ExpressionAtom& atom) {
  if (const auto* s = std::get_if<std::string>(&atom)) {
    // Stalwart's documentation writes plain values both ways: next-hop = "relay" and
    // directory = "'default'". A plain value that is one quoted word means that word.
    if (s->size() >= 2 && s->front() == '\'' && s->back() == '\'' &&
        s->find_first_of("'\\", 1) == s->size() - 1) {
      return s->substr(1, s->size() - 2);
    }
    return *s;
  }
  if (const auto* b = std::get_if<bool>(&atom)) return *b;
  if (const auto* i = std::get_if<std::int64_t>(&atom)) return *i;
  return std::get<std::vector<std::string>>(atom);
}

std::vector<route::RuleInput> rule_inputs(const Expression& source) {
  std::vector<route::RuleInput> inputs;
  for (const ExpressionRule& r : source.rules) {
    route::RuleInput in;
    in.condition = r.condition;
    if (r.result_is_expression) {
      in.result = route::RuleResultInput::expression_text(std::get<std::string>(r.result));
    } else {
      in.result = route::RuleResultInput::literal_value(atom_value(r.result));
    }
    in.position = to_route(r.condition ? r.condition_pos : r.result_pos);
    inputs.push_back(std::move(in));
  }
  return inputs;
}

std::optional<CompiledKey> Builder::compile(const std::string& key, const Expression& source,
                                            SourcePos key_pos, const route::Environment& env,
                                            TypeSet result) {
  route::RulesOptions options;
  options.result_types = result;
  auto inputs = rule_inputs(source);
  route::RulesCompilation c = route::compile_rules(inputs, env, options);
  CompiledKey compiled{key, source, std::move(c.rules), std::move(key_pos)};
  for (const auto& d : c.errors) report(compiled, d, true);
  for (const auto& d : c.warnings) report(compiled, d, false);
  if (!c.ok()) return std::nullopt;
  return compiled;
}

void Builder::report(const CompiledKey& key, const route::Diagnostic& d, bool is_error) {
  SourcePos pos = key.key_pos;
  std::string where = "'" + key.key + "'";
  std::string message = d.message;
  if (d.rule_index && *d.rule_index < key.source.rules.size()) {
    const ExpressionRule& rule = key.source.rules[*d.rule_index];
    if (key.source.rules.size() > 1 || rule.condition)
      where += " rule " + std::to_string(*d.rule_index + 1);
    const std::string* text = d.in_condition ? (rule.condition ? &*rule.condition : nullptr)
                                             : std::get_if<std::string>(&rule.result);
    bool is_text = d.in_condition || rule.result_is_expression;
    pos = d.in_condition && rule.condition ? rule.condition_pos : rule.result_pos;
    if (is_text && text != nullptr && is_error) {
      pos = at_offset(pos, d.offset);
      if (message.starts_with("unknown variable '")) {
        std::string name = message.substr(18, message.find('\'', 18) - 18);
        if (name == "local" || out_.model.routing.find_remote(name) != nullptr) {
          message += " (a host name is a string: write \"'" + name + "'\")";
        }
      }
      message += " in \"" + *text + "\"";
    }
  }
  if (is_error) {
    error(std::move(pos), where + ": " + message);
  } else {
    warning(std::move(pos), where + ": " + message);
  }
}

void Builder::build_next_hop() {
  const Entry* entry = config_.find("queue.outbound.next-hop");
  if (config_.find("smtp-relay-host") != nullptr) {
    build_relay_shorthand();
    return;
  }
  const auto& source = std::get<Expression>(*value("queue.outbound.next-hop"));
  auto env = route::Environment::standard("queue.outbound.next-hop");
  auto compiled =
      compile("queue.outbound.next-hop", source,
              entry != nullptr ? entry->pos : SourcePos{"<default>", 0, 0}, env, kStringOrFalse);
  if (!compiled) return;
  check_next_hop_results(*compiled);
  check_directory_names(*compiled);
  warn_relay_tls_policy(*compiled);
  if (source.rules.back().condition) {
    warning(source.rules.back().condition_pos,
            "'queue.outbound.next-hop': recipients that no rule matches are delivered by DNS MX; "
            "end the list with { else = false } to say so");
  }
  out_.model.routing.next_hop = std::move(compiled->rules);
}

void Builder::check_next_hop_results(const CompiledKey& key) {
  std::vector<std::string> names{"local"};
  for (const auto& r : out_.model.routing.remotes) names.push_back(r.id);
  for (std::size_t i = 0; i < key.rules.rules.size(); ++i) {
    const auto& literal = key.rules.rules[i].literal_result;
    const ExpressionRule& rule = key.source.rules[i];
    std::string where =
        "'" + key.key + "'" + (key.source.rules.size() > 1 ? " rule " + std::to_string(i + 1) : "");
    if (!literal) continue;
    if (const bool* b = std::get_if<bool>(&*literal); b != nullptr && *b) {
      error(rule.result_pos,
            where + ": true is not a route; give a remote id, 'local', or false for DNS MX");
    }
    const auto* name = std::get_if<std::string>(&*literal);
    if (name == nullptr || *name == "local" || out_.model.routing.find_remote(*name) != nullptr)
      continue;
    error(rule.result_pos, where + " routes to remote '" + *name + "', which is not defined" +
                               did_you_mean(*name, names) + "; define [remote.\"" + *name +
                               "\"], or use 'local', or false for DNS MX");
  }
}

// The seed: "When using a relay host, make sure both MTA-STS and DANE are disabled". They
// guard MX delivery only, so the advice matters when no recipient can go to MX at all.
void Builder::warn_relay_tls_policy(const CompiledKey& key) {
  const auto& rules = key.rules.rules;
  if (rules.empty() || rules.back().condition || key.rules.has_computed_results()) return;
  std::string smtp_remote;
  for (const auto& rule : rules) {
    const auto* name = std::get_if<std::string>(&*rule.literal_result);
    if (name == nullptr) return;  // false: some recipients go to MX
    const route::RemoteHost* host = out_.model.routing.find_remote(*name);
    if (host != nullptr && host->protocol == route::RemoteProtocol::smtp && smtp_remote.empty())
      smtp_remote = *name;
  }
  const auto& tls = out_.model.routing.mx_tls;
  if (smtp_remote.empty() ||
      (tls.mta_sts == route::TlsPolicy::disable && tls.dane == route::TlsPolicy::disable))
    return;
  warning(key.source.rules.front().condition ? key.source.rules.front().condition_pos : key.key_pos,
          "every recipient is relayed (remote '" + smtp_remote +
              "'), but queue.outbound.tls.mta-sts and queue.outbound.tls.dane are not both "
              "\"disable\"; "
              "set them to \"disable\" as the relay-host example does (they apply to DNS MX "
              "delivery only)");
}

void Builder::build_relay_shorthand() {
  const SourcePos host_pos = pos_of("smtp-relay-host");
  if (const Entry* hop = config_.find("queue.outbound.next-hop")) {
    error(hop->pos,
          "queue.outbound.next-hop cannot be combined with the relay shorthand smtp-relay-host (" +
              to_string(host_pos) + "); use one or the other");
  }
  if (out_.model.routing.find_remote("relay") != nullptr) {
    error(pos_of("remote.relay.address"), "remote 'relay' is also defined by smtp-relay-host (" +
                                              to_string(host_pos) + "); use one or the other");
    return;
  }
  route::RemoteHost relay;
  relay.id = "relay";
  relay.address = string_or("smtp-relay-host", "");
  relay.port = static_cast<std::uint16_t>(integer_or("smtp-relay-port", 25));
  relay.tls =
      boolean_or("smtp-relay-tls", true) ? route::TlsMode::implicit : route::TlsMode::starttls;
  relay.auth_username = optional_string("smtp-relay-auth");
  relay.auth_secret = optional_string("smtp-relay-secret");
  relay.timeout = duration_or("smtp-relay-timeout", protocol::Duration::seconds(60));
  if (relay.tls == route::TlsMode::implicit && (relay.port == 25 || relay.port == 587)) {
    warning(config_.find("smtp-relay-tls") != nullptr ? pos_of("smtp-relay-tls") : host_pos,
            "smtp-relay-tls = true means TLS from the first byte, but port " +
                std::to_string(relay.port) +
                " usually speaks STARTTLS (implicit TLS is port 465); set smtp-relay-tls = false "
                "for STARTTLS");
  }
  out_.model.routing.remotes.push_back(relay);
  out_.model.relay_shorthand = true;
  Expression rules;
  rules.rules.push_back(
      {"is_local_domain('', rcpt_domain)", std::string("'local'"), true, host_pos, host_pos});
  rules.rules.push_back({std::nullopt, std::string("'relay'"), true, host_pos, host_pos});
  auto compiled = compile("smtp-relay-host", rules, host_pos,
                          route::Environment::standard("queue.outbound.next-hop"), kStringOrFalse);
  if (compiled) out_.model.routing.next_hop = std::move(compiled->rules);
}

// Each session key as configured; a rule list that can end without a match is followed by
// the key's default rules (which always end in an else), so the engine gets a value for
// every key from the one declaration of its default (config/keys/session_keys.hpp).
void Builder::build_session() {
  for (const SessionKeySpec& spec : session_key_specs()) {
    const std::string key(spec.key);
    const Value* v = value(key);
    if (v == nullptr || !std::holds_alternative<Expression>(*v)) continue;
    const Entry* entry = config_.find(key);
    const auto env = stage_environment(key, spec.stage);
    auto compiled = compile(key, std::get<Expression>(*v),
                            entry != nullptr ? entry->pos : SourcePos{"<default>", 0, 0}, env,
                            result_types(spec.result));
    if (!compiled) continue;
    check_session_results(*compiled);
    check_directory_names(*compiled);
    auto& rules = compiled->rules.rules;
    const Value* fallback = config_.schema_default(key);
    if (entry != nullptr && (rules.empty() || rules.back().condition) && fallback != nullptr &&
        std::holds_alternative<Expression>(*fallback)) {
      auto defaults = compile(key, std::get<Expression>(*fallback), SourcePos{"<default>", 0, 0},
                              env, result_types(spec.result));
      if (defaults) {
        for (auto& rule : defaults->rules.rules) rules.push_back(std::move(rule));
      }
    }
    out_.model.session[key] = std::move(compiled->rules);
  }
}

void Builder::check_session_results(const CompiledKey& key) {
  const bool directory = key.key.ends_with(".directory");
  const bool mechanisms = key.key.ends_with(".mechanisms");
  std::vector<std::string> known(std::begin(kMechanisms), std::end(kMechanisms));
  // Not implemented yet: offering one would promise handling that never happens (SOLICIT=;
  // REQUIRETLS's verified-TLS-only relaying, RFC 8689 §5, until transport security does it).
  const char* unsupported = key.key == "session.extensions.no-soliciting"
                                ? "NO-SOLICITING (RFC 3865)"
                            : key.key == "session.extensions.requiretls" ? "REQUIRETLS (RFC 8689)"
                                                                         : nullptr;
  for (std::size_t i = 0; i < key.rules.rules.size(); ++i) {
    const auto& literal = key.rules.rules[i].literal_result;
    if (unsupported != nullptr && key.source.rules[i].result_pos.file != "<default>" &&
        !(literal && *literal == route::Value(false))) {
      error(key.source.rules[i].result_pos,
            "'" + key.key + "': " + unsupported + " is not supported yet; only false is accepted");
    }
    if (!literal) continue;
    const SourcePos& pos = key.source.rules[i].result_pos;
    if (const bool* b = std::get_if<bool>(&*literal);
        b != nullptr && *b && (directory || mechanisms)) {
      error(pos, "'" + key.key + "': true is not a " +
                     (directory ? "directory name" : "mechanism list") + "; use false for none");
    }
    if (const auto* name = std::get_if<std::string>(&*literal); name != nullptr && directory) {
      check_directory_name(*name, pos, "'" + key.key + "'");
    }
    const auto* list = std::get_if<route::StringList>(&*literal);
    for (std::size_t j = 0; mechanisms && list != nullptr && j < list->size(); ++j) {
      const std::string name = upper((*list)[j]);
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      error(pos, "'" + key.key + "': unknown SASL mechanism '" + (*list)[j] + "'" +
                     did_you_mean(name, known));
    }
  }
}

void Builder::check_directory_name(const std::string& name, SourcePos pos, std::string_view what) {
  const RouteModel& m = out_.model;
  if (pos.file == "<default>") return;  // a registered default: '*' with no directory means none
  if (name == "" || name == "*") {
    if (m.default_directory || m.directories.size() <= 1) {
      if (m.directories.empty() && !warned_no_directory_) {
        warned_no_directory_ = true;
        warning(pos, std::string(what) +
                         ": no directory is defined, so no domain or address is local "
                         "(define directory.<name> with type = \"memory\" and principals, "
                         "or lookup.domains)");
      }
      return;
    }
    std::string list;
    for (const auto& d : m.directories) list += (list.empty() ? "'" : ", '") + d.name + "'";
    error(pos, std::string(what) + ": '" + name + "' means the default directory, but there are " +
                   std::to_string(m.directories.size()) + " (" + list +
                   ") and storage.directory does not name one");
    return;
  }
  if (m.find_directory(name) != nullptr) return;
  error(pos, std::string(what) + ": directory '" + name + "' is not defined" +
                 did_you_mean(name, directory_names(m)));
}

void Builder::check_directory_call(const CompiledKey& key, std::size_t rule, bool in_condition,
                                   const route::Expr& call) {
  if (call.kind == route::NodeKind::call &&
      (call.text == "is_local_domain" || call.text == "is_local_address") &&
      !call.children.empty() && call.children[0].kind == route::NodeKind::string_literal) {
    const ExpressionRule& r = key.source.rules[rule];
    SourcePos pos = in_condition ? r.condition_pos : r.result_pos;
    if (in_condition || r.result_is_expression) pos = at_offset(pos, call.children[0].offset);
    check_directory_name(call.children[0].text, pos, "'" + key.key + "': " + call.text + "()");
  }
  for (const route::Expr& child : call.children)
    check_directory_call(key, rule, in_condition, child);
}

void Builder::check_directory_names(const CompiledKey& key) {
  for (std::size_t i = 0; i < key.rules.rules.size() && i < key.source.rules.size(); ++i) {
    const route::CompiledRule& rule = key.rules.rules[i];
    if (rule.condition) check_directory_call(key, i, true, rule.condition->ast);
    check_directory_call(key, i, false, rule.result.ast);
  }
}

void Builder::check_relay_keys_alone() {
  if (config_.find("smtp-relay-host") != nullptr) return;
  for (const char* key : {"smtp-relay-port", "smtp-relay-tls", "smtp-relay-auth",
                          "smtp-relay-secret", "smtp-relay-timeout"}) {
    if (config_.find(key) != nullptr)
      error(pos_of(key), std::string(key) + " is set without smtp-relay-host");
  }
}

RouteModelResult Builder::run() {
  build_remotes();
  build_directories();
  choose_default_directory();
  build_tls_policy();
  check_relay_keys_alone();
  build_next_hop();
  build_session();
  std::stable_sort(out_.diagnostics.begin(), out_.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
                   });
  return std::move(out_);
}

}  // namespace

const DirectoryModel* RouteModel::find_directory(std::string_view name) const {
  for (const DirectoryModel& d : directories) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

bool RouteModelResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::error;
  });
}

RouteModelResult build_route_model(const Config& config) {
  return Builder(config).run();
}

std::vector<std::string> session_keys() {
  std::vector<std::string> keys;
  for (const SessionKeySpec& k : session_key_specs()) keys.emplace_back(k.key);
  return keys;
}

const DirectoryModel* DirectoryLookups::resolve(const std::string& name) const {
  if (name.empty() || name == "*") {
    return model_.default_directory ? model_.find_directory(*model_.default_directory) : nullptr;
  }
  return model_.find_directory(name);
}

namespace {

bool has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Where `dir` says `key` is local: "principal 'ann'", "lookup.domains", or "" when it is not.
std::string local_because(const DirectoryModel& dir, const route::LookupKey& key) {
  const bool domain_lookup = key.function == route::LookupFunction::is_local_domain;
  const route::NormalisedAddress n = route::normalise_address(key.key);
  const std::string domain = domain_lookup ? lower(key.key) : n.domain;
  const std::string address = lower(n.address);
  for (const Principal& p : dir.principals) {
    for (const std::string& email : p.emails) {
      bool hit =
          domain_lookup ? route::normalise_address(email).domain == domain : email == address;
      if (hit) return "an address of principal '" + p.name + "'";
    }
  }
  if (has(dir.lookup_domains, domain)) {
    if (domain_lookup || dir.type != DirectoryType::memory)
      return "its lookup.domains lists '" + domain + "'";
  }
  return {};
}

}  // namespace

std::optional<bool> DirectoryLookups::find(const route::LookupKey& key) const {
  const DirectoryModel* dir = resolve(key.directory);
  return dir != nullptr && !local_because(*dir, key).empty();
}

std::string DirectoryLookups::reason(const route::LookupKey& key) const {
  const DirectoryModel* dir = resolve(key.directory);
  if (dir == nullptr) {
    if (key.directory.empty() || key.directory == "*") return "there is no default directory";
    return "there is no directory '" + key.directory + "'";
  }
  std::string because = local_because(*dir, key);
  std::string name = "directory '" + dir->name + "'";
  if (because.empty()) return name + " does not list it";
  return name + ": " + because;
}

}  // namespace tern::config
