#include "runtime/buggify.hpp"

#include <array>

namespace tern::runtime::buggify {

namespace {

std::array<bool, kSiteCount> enabled{};

constexpr std::array<std::string_view, kSiteCount> kNames = {
    "session.early-250",
    "queue.skip-maildir-write",
    "queue.skip-dsn",
    "spool.skip-fdatasync",
};

}  // namespace

std::string_view name(Site site) {
  return kNames[static_cast<unsigned>(site)];
}

bool on(Site site) {
  return enabled[static_cast<unsigned>(site)];
}

bool enable(Site site) {
#ifdef TERN_BUGGIFY
  enabled[static_cast<unsigned>(site)] = true;
  return true;
#else
  (void)site;
  return false;
#endif
}

void disable_all() {
  enabled.fill(false);
}

std::string enable_from_list(std::string_view names) {
  while (!names.empty()) {
    const auto comma = names.find(',');
    const auto item = names.substr(0, comma);
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    if (item.empty()) continue;
    bool known = false;
    for (unsigned i = 0; i < kSiteCount; ++i) {
      if (kNames[i] != item) continue;
      known = true;
      if (!enable(static_cast<Site>(i)))
        return "fault site " + std::string(item) +
               ": this build has no fault sites (TERN_BUGGIFY=OFF)";
    }
    if (!known) return "unknown fault site: " + std::string(item);
  }
  return "";
}

}  // namespace tern::runtime::buggify
