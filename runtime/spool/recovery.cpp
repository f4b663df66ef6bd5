#include "runtime/spool/recovery.hpp"

#include <cstdio>

#include "runtime/spool/spool_log.hpp"

namespace tern::runtime::spool {

namespace {

void replay(std::uint64_t number, const spool_log::Scan& scan,
            std::map<std::string, RecoveredMessage>& live) {
  using spool_log::RecordKind;
  for (const auto& record : scan.records) {
    const std::string id(record.id);
    const Place envelope{number, record.envelope_offset, record.envelope.size()};
    switch (record.kind) {
      case RecordKind::commit: {
        RecoveredMessage message;
        message.commit_place = Place{number, record.offset, 0};
        message.envelope = std::string(record.envelope);
        message.envelope_place = envelope;
        message.external_body = (record.flags & spool_log::kFlagExternalBody) != 0;
        if (!message.external_body)
          message.body_place = Place{number, record.body_offset, record.body_bytes};
        live[id] = std::move(message);
        break;
      }
      case RecordKind::envelope:
        if (auto it = live.find(id); it != live.end()) {
          it->second.envelope = std::string(record.envelope);
          it->second.envelope_place = envelope;
        }
        break;
      case RecordKind::remove: live.erase(id); break;
    }
  }
}

}  // namespace

Recovery recover(const RecoveryInput& input) {
  Recovery out;
  for (const auto& [number, bytes] : input.segments) {
    const spool_log::Scan scan = spool_log::scan_segment(bytes);
    out.valid_bytes[number] = scan.valid_bytes;
    replay(number, scan, out.live);
  }
  for (auto it = out.live.begin(); it != out.live.end();) {
    const bool lost = it->second.external_body && input.bodies.count(it->first) == 0;
    it = lost ? out.live.erase(it) : std::next(it);
  }
  for (const auto& name : input.bodies) {
    const auto it = out.live.find(name);
    if (it == out.live.end() || !it->second.external_body) out.orphan_bodies.push_back(name);
  }
  return out;
}

std::string segment_name(std::uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.log", static_cast<unsigned long long>(number));
  return name;
}

bool parse_segment_name(std::string_view name, std::uint64_t& number) {
  constexpr std::string_view kSuffix = ".log";
  if (name.size() != 16 + kSuffix.size() || name.substr(16) != kSuffix) return false;
  std::uint64_t value = 0;
  for (const char c : name.substr(0, 16)) {
    const int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) return false;
    value = value * 16 + static_cast<std::uint64_t>(digit);
  }
  number = value;
  return true;
}

}  // namespace tern::runtime::spool
