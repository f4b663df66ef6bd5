// config/route_model.hpp — the routing, directory and session settings of a loaded
// Config as plain structs, with expressions compiled and cross-checked.
//
// Contract:
// - build_route_model(config) takes a Config the loader accepted (LoadResult::ok()) and
//   never throws for anything the file contains. It returns the model and Diagnostics
//   (file:line:col, in file order); the model is usable only when none is an error.
// - What it builds: queue.outbound.next-hop compiled by protocol/route (result: a string or
//   false); every remote.<id> host; queue.outbound.tls.*; every directory.<name> (memory
//   directories with their principals); the default directory (storage.directory, else
//   the only directory); every session.* expression compiled with the variables of its
//   stage. Every key falls back to its registered default.
// - The relay shorthand (smtp-relay-host and friends, seed 000) defines a remote named
//   `relay` and the rules "local domains of the default directory -> 'local', everything
//   else -> 'relay'".
// - Errors: an expression that does not parse or type-check (with the expression text and
//   a hint for `||` between strings), a rule result naming a remote that does not exist
//   ("did you mean"), a literal result of the wrong kind (true), a directory name in
//   is_local_domain/is_local_address or session.*.directory that does not exist, '' or '*'
//   when several directories exist and storage.directory names none, storage.directory
//   naming a missing directory, a remote named `local`, the shorthand combined with
//   queue.outbound.next-hop or remote.relay, shorthand keys without smtp-relay-host, an
//   imap/smtp/lmtp directory without address or port, principals on a non-memory
//   directory, a principal's address without '@'.
// - Warnings: unreachable rules and conditions that are always false; a rule list whose
//   last rule has a condition (unmatched recipients go to MX); every recipient routed to
//   remote SMTP hosts while queue.outbound.tls.mta-sts or dane is not "disable";
//   is_local_domain('') with no directory at all; smtp-relay-tls = true (implicit TLS) on
//   port 25 or 587, which speak STARTTLS.
// - DirectoryLookups answers is_local_domain/is_local_address from the model alone:
//   memory directories from their principals' addresses and lookup.domains; imap, smtp and
//   lmtp directories from lookup.domains (an address counts as local when its domain is,
//   since only the remote server could say more). Every key gets an answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "protocol/route/eval.hpp"
#include "protocol/route/router.hpp"
#include "protocol/route/rules.hpp"

namespace tern::config {

struct Principal {
  std::string name;
  std::optional<std::string> secret;
  std::vector<std::string> emails;  // domains lowercased
};

enum class DirectoryType { memory, imap, smtp, lmtp };

struct DirectoryModel {
  std::string name;
  DirectoryType type = DirectoryType::memory;
  std::string address;
  std::uint16_t port = 0;
  bool tls_implicit = true;
  bool tls_allow_invalid_certs = false;
  std::int64_t limits_rcpt = 10;
  std::int64_t limits_auth_errors = 3;
  bool tls_starttls = true;
  protocol::Duration timeout = protocol::Duration::seconds(15);
  std::int64_t pool_max_connections = 10;
  std::int64_t cache_size = 1000;
  protocol::Duration cache_ttl_positive = protocol::Duration::minutes(60);
  protocol::Duration cache_ttl_negative = protocol::Duration::minutes(10);
  std::vector<std::string> lookup_domains;  // lowercased
  std::vector<Principal> principals;
};

struct RouteModel {
  protocol::route::RoutingConfig routing;
  std::vector<DirectoryModel> directories;       // sorted by name
  std::optional<std::string> default_directory;  // what '' and '*' mean
  // session.* key -> its compiled rules (every registered session key is present).
  std::map<std::string, protocol::route::RuleList> session;
  bool relay_shorthand = false;

  const DirectoryModel* find_directory(std::string_view name) const;
};

struct RouteModelResult {
  RouteModel model;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;
};

RouteModelResult build_route_model(const Config& config);

// The stage variables of a session.* key ("auth", "rcpt", ...), for tests and docs.
std::vector<std::string> session_keys();

class DirectoryLookups final : public protocol::route::Lookups {
 public:
  explicit DirectoryLookups(const RouteModel& model) : model_(model) {}
  std::optional<bool> find(const protocol::route::LookupKey& key) const override;
  // Why find() answers as it does, for `tern route --explain`.
  std::string reason(const protocol::route::LookupKey& key) const;

 private:
  const DirectoryModel* resolve(const std::string& name) const;
  const RouteModel& model_;
};

}  // namespace tern::config
