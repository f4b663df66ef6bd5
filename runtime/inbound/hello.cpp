#include "runtime/inbound/hello.hpp"

#include <algorithm>

#include "protocol/sasl/server.hpp"
#include "protocol/smtp/chars.hpp"
#include "runtime/inbound/replies.hpp"
#include "runtime/policy.hpp"

namespace tern::runtime::inbound {

namespace route = protocol::route;
namespace smtp = protocol::smtp;

smtp::ServerExtensions extensions(const EngineSettings& s, const route::Variables& vars) {
  smtp::ServerExtensions out;
  out.pipelining = policy_bool(s, "session.extensions.pipelining", vars);
  out.chunking = policy_bool(s, "session.extensions.chunking", vars);
  out.requiretls = policy_bool(s, "session.extensions.requiretls", vars);
  out.dsn = policy_bool(s, "session.extensions.dsn", vars);
  out.vrfy = policy_bool(s, "session.extensions.vrfy", vars);
  out.expn = policy_bool(s, "session.extensions.expn", vars);
  return out;
}

smtp::ServerConfig machine_config(const EngineSettings& s, const route::Variables& vars,
                                  const SessionFacts& facts) {
  smtp::ServerConfig config;
  config.mode = facts.listener.lmtp ? smtp::ServerMode::lmtp : smtp::ServerMode::smtp;
  config.hostname = s.hostname;
  config.wall_clock_unix_seconds = facts.wall_unix_seconds;
  config.extensions = extensions(s, vars);
  const auto size = policy_int(s, "session.data.limits.size", vars);
  config.message_bytes_max = static_cast<std::uint64_t>(std::max<std::int64_t>(size, 0));
  const auto rcpts = policy_int(s, "session.rcpt.max-recipients", vars);
  config.recipients_max = static_cast<std::size_t>(std::max<std::int64_t>(rcpts, 1));
  const bool have_identity = s.tls_identities.count(facts.listener.certificate) != 0;
  config.tls_active = facts.tls_active;
  config.tls_available = !facts.listener.implicit_tls && facts.listener.starttls && have_identity;
  config.auth_required = policy_bool(s, "session.auth.require", vars);
  const auto failures = policy_int(s, "session.auth.errors.total", vars);
  config.auth_failures_max = static_cast<std::uint32_t>(std::clamp<std::int64_t>(failures, 1, 100));
  const auto rcpt_errors = policy_int(s, "session.rcpt.errors.total", vars);
  config.rcpt_errors_max =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(rcpt_errors, 0, 1'000'000));
  const auto mechanisms = evaluate_policy(s, "session.auth.mechanisms", vars);
  if (const auto* list =
          mechanisms.value ? std::get_if<route::StringList>(&*mechanisms.value) : nullptr) {
    for (const auto& m : *list) {
      if (protocol::sasl::parse_mechanism(m)) config.auth_mechanisms.push_back(m);
    }
  }
  // Without a directory there is nothing to authenticate against.
  if (policy_directory(s, "session.auth.directory", vars) == nullptr)
    config.auth_mechanisms.clear();
  config.command_timeout = s.command_timeout;
  config.data_timeout = s.data_timeout;
  config.data_total_max = s.data_total_max;
  config.data_rate_min = s.data_rate_min;
  return config;
}

std::optional<smtp::Reply> hello_refusal(const EngineSettings& s, const route::Variables& vars,
                                         const smtp::HelloEvent& hello) {
  const auto* domain = std::get_if<smtp::Domain>(&hello.host);
  if (domain != nullptr && domain->name.find('.') == std::string::npos &&
      policy_bool(s, "session.ehlo.reject-non-fqdn", vars))
    return replies::helo_not_fqdn();
  return std::nullopt;
}

}  // namespace tern::runtime::inbound
