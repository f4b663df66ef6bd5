// runtime/settings.hpp — everything the engine needs to know from the configuration, as
// plain data (config/engine_settings.cpp fills it; the engine never reads TOML).
//
// Contract: settings are immutable once given to the Server; a reload builds new settings
// and the Server applies them to sessions that start afterwards (sessions in flight keep
// the settings they started with, through the shared_ptr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/core/time.hpp"
#include "protocol/route/router.hpp"
#include "protocol/route/rules.hpp"
#include "runtime/directory/directory.hpp"
#include "runtime/io.hpp"

namespace tern::runtime {

struct ListenerSettings {
  std::string id;
  std::vector<Endpoint> binds;
  bool lmtp = false;
  bool implicit_tls = false;
  bool starttls = true;     // offered on a plain listener when a TLS identity exists
  std::string certificate;  // certificate id; "" = the default identity
};

struct QueueSettings {
  // queue.schedule.retry: the last step repeats.
  std::vector<Duration> retry = {
      Duration::minutes(2),  Duration::minutes(5),  Duration::minutes(10), Duration::minutes(15),
      Duration::minutes(30), Duration::minutes(60), Duration::minutes(120)};
  std::vector<Duration> notify = {Duration::minutes(std::int64_t{24} * 60),
                                  Duration::minutes(std::int64_t{3} * 24 * 60)};
  Duration expire = Duration::minutes(std::int64_t{5} * 24 * 60);
  std::size_t deliveries_in_flight_max = 16;  // queue.limits.messages
};

// queue.outbound.* and resolver.timeout: how remote and MX deliveries behave.
struct OutboundSettings {
  std::size_t mx_max = 7;                        // queue.outbound.limits.mx
  std::size_t multihomed_max = 2;                // queue.outbound.limits.multihomed
  std::size_t concurrency_per_destination = 20;  // queue.outbound.limits.concurrency
  Duration dns_timeout = Duration::seconds(5);
  bool mx_allow_invalid_certs = false;  // queue.outbound.tls.allow-invalid-certs
  Duration connect_timeout = Duration::minutes(5);
  Duration greeting_timeout = Duration::minutes(5);
  Duration command_timeout = Duration::minutes(5);
  Duration data_timeout = Duration::minutes(10);
};

struct EngineSettings {
  std::string hostname = "localhost";
  std::vector<ListenerSettings> listeners;
  std::size_t connections_max = 8192;
  std::size_t connections_per_ip_max = 64;
  Duration command_timeout = Duration::minutes(5);  // RFC 5321 §4.5.3.2.7
  Duration data_timeout = Duration::minutes(3);     // RFC 5321 §4.5.3.2.5 (per block)
  Duration data_total_max = Duration::minutes(60);  // server.timeout.data-total
  std::uint64_t data_rate_min = 1024;               // server.timeout.data-min-rate
  std::size_t connections_per_ip_share = 25;        // percent of connections_max
  Duration auth_failure_delay = Duration::seconds(1);
  Duration rcpt_failure_delay = Duration::seconds(1);  // session.rcpt.errors.wait
  // session.auth.lockout.*: failures within the window per IP / per login; 0: no lockout.
  std::uint32_t auth_lockout_ip = 20;
  std::uint32_t auth_lockout_account = 10;
  Duration auth_lockout_window = Duration::minutes(15);
  Duration shutdown_grace = Duration::seconds(30);
  std::uint64_t spool_message_bytes_max = 100ull << 20;

  // session.* rules by key ("session.rcpt.relay" ...), compiled (config/route_model).
  std::map<std::string, protocol::route::RuleList> session;
  protocol::route::RoutingConfig routing;

  // Directories by name, and the one '' or '*' means.
  std::map<std::string, std::shared_ptr<directory::Directory>> directories;
  std::optional<std::string> default_directory;

  // TLS identities by certificate id ("" is the default).
  std::map<std::string, TlsIdentityId> tls_identities;

  QueueSettings queue;
  OutboundSettings outbound;
};

}  // namespace tern::runtime
