#include "runtime/inbound/auth_lockout.hpp"

#include <algorithm>
#include <vector>

namespace tern::runtime::inbound {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

}  // namespace

bool AuthLockout::over(const Counts& counts, const std::string& key, std::uint32_t limit,
                       protocol::Instant now, protocol::Duration window) {
  if (limit == 0) return false;
  const auto it = counts.find(key);
  return it != counts.end() && now < it->second.since + window && it->second.failures >= limit;
}

std::optional<std::string_view> AuthLockout::locked(std::string_view ip, std::string_view login,
                                                    protocol::Instant now,
                                                    const LockoutLimits& limits) const {
  if (over(ips_, std::string(ip), limits.per_ip, now, limits.window)) return "address";
  if (over(accounts_, lower(login), limits.per_account, now, limits.window)) return "account";
  return std::nullopt;
}

bool AuthLockout::count(Counts& counts, std::string key, std::uint32_t limit, protocol::Instant now,
                        protocol::Duration window) {
  if (limit == 0) return false;
  if (counts.size() >= entries_max_ && !counts.contains(key)) {
    std::erase_if(counts, [&](const auto& entry) { return !(now < entry.second.since + window); });
    while (counts.size() >= entries_max_) {
      auto oldest = std::min_element(
          counts.begin(), counts.end(),
          [](const auto& a, const auto& b) { return a.second.since < b.second.since; });
      counts.erase(oldest);
    }
  }
  Count& c = counts[std::move(key)];
  if (c.failures == 0 || !(now < c.since + window)) c = Count{now, 0};
  return ++c.failures == limit;
}

bool AuthLockout::failed(std::string_view ip, std::string_view login, protocol::Instant now,
                         const LockoutLimits& limits) {
  const bool ip_locks = count(ips_, std::string(ip), limits.per_ip, now, limits.window);
  const bool account_locks =
      !login.empty() && count(accounts_, lower(login), limits.per_account, now, limits.window);
  return ip_locks || account_locks;
}

}  // namespace tern::runtime::inbound
