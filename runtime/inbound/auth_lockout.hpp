// runtime/inbound/auth_lockout.hpp — AUTH brute force across connections: failed
// authentications counted per client IP address and per login name, shared by every session
// of the server, so that neither 48 parallel connections from one address nor one password
// tried against many accounts from many addresses gets more than its share of guesses.
//
// Contract (pure: the caller passes the time):
// - failed(ip, login, now) counts one failure for the address and for the login (lowercased);
//   a count starts with its first failure and lasts `window`: after that it starts again.
// - locked(ip, login, now) names what is locked ("address" or "account") when the address has
//   per_ip failures, or the login per_account failures, in their current window; a limit of 0
//   never locks. A locked AUTH is refused without asking the directory, so it reveals nothing
//   about the password.
// - Memory is bounded: past entries_max counts per kind, expired ones are dropped, then the
//   oldest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/core/time.hpp"

namespace tern::runtime::inbound {

struct LockoutLimits {
  std::uint32_t per_ip = 20;
  std::uint32_t per_account = 10;
  protocol::Duration window = protocol::Duration::minutes(15);
};

class AuthLockout {
 public:
  explicit AuthLockout(std::size_t entries_max = 100'000) : entries_max_(entries_max) {}

  std::optional<std::string_view> locked(std::string_view ip, std::string_view login,
                                         protocol::Instant now, const LockoutLimits& limits) const;
  // True when this failure is the one that locks the address or the account (to log once).
  bool failed(std::string_view ip, std::string_view login, protocol::Instant now,
              const LockoutLimits& limits);

 private:
  struct Count {
    protocol::Instant since;
    std::uint32_t failures = 0;
  };
  using Counts = std::unordered_map<std::string, Count>;
  static bool over(const Counts& counts, const std::string& key, std::uint32_t limit,
                   protocol::Instant now, protocol::Duration window);
  bool count(Counts& counts, std::string key, std::uint32_t limit, protocol::Instant now,
             protocol::Duration window);

  std::size_t entries_max_;
  Counts ips_;
  Counts accounts_;
};

}  // namespace tern::runtime::inbound
