#include "runtime/spool/spool_log.hpp"

#include <algorithm>
#include <cstring>

#include <zlib.h>

namespace tern::runtime::spool_log {

namespace {

constexpr std::string_view kMagic = "TLOG";
constexpr std::size_t kCrcOffset = 20;

void put_le(char* out, std::uint64_t value, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

std::uint64_t get_le(const char* in, std::size_t bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return value;
}

// zlib's crc32 takes uInt lengths: feed long inputs in pieces.
uLong crc_update(uLong crc, std::string_view bytes) {
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), kPiece);
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n));
    bytes.remove_prefix(n);
  }
  return crc;
}

bool known_kind(std::uint8_t kind) {
  return kind >= static_cast<std::uint8_t>(RecordKind::commit) &&
         kind <= static_cast<std::uint8_t>(RecordKind::remove);
}

}  // namespace

bool valid_id(std::string_view id) {
  return runtime::valid_spool_id(id);
}

std::array<char, kHeaderBytes> encode_header(RecordKind kind, std::uint8_t flags,
                                             std::string_view id, std::string_view envelope,
                                             std::string_view body) {
  std::array<char, kHeaderBytes> header{};
  std::memcpy(header.data(), kMagic.data(), kMagic.size());
  header[4] = static_cast<char>(kind);
  header[5] = static_cast<char>(flags);
  put_le(header.data() + 6, id.size(), 2);
  put_le(header.data() + 8, envelope.size(), 4);
  put_le(header.data() + 12, body.size(), 8);
  uLong crc = crc_update(::crc32(0, nullptr, 0), {header.data(), kCrcOffset});
  crc = crc_update(crc, id);
  crc = crc_update(crc, envelope);
  crc = crc_update(crc, body);
  put_le(header.data() + kCrcOffset, crc, 4);
  return header;
}

Scan scan_segment(std::string_view bytes) {
  Scan scan;
  std::uint64_t at = 0;
  while (bytes.size() - at >= kHeaderBytes) {
    const char* h = bytes.data() + at;
    if (std::string_view(h, kMagic.size()) != kMagic) break;
    const auto kind = static_cast<std::uint8_t>(h[4]);
    if (!known_kind(kind)) break;
    const std::uint64_t id_bytes = get_le(h + 6, 2);
    const std::uint64_t envelope_bytes = get_le(h + 8, 4);
    const std::uint64_t body_bytes = get_le(h + 12, 8);
    const std::uint64_t room = bytes.size() - at - kHeaderBytes;
    if (id_bytes > room || envelope_bytes > room - id_bytes ||
        body_bytes > room - id_bytes - envelope_bytes) {
      break;  // cut short (or a length no valid record has)
    }
    const std::uint64_t id_at = at + kHeaderBytes;
    const std::string_view id = bytes.substr(id_at, id_bytes);
    const std::string_view envelope = bytes.substr(id_at + id_bytes, envelope_bytes);
    const std::string_view body = bytes.substr(id_at + id_bytes + envelope_bytes, body_bytes);
    if (!valid_id(id)) break;
    uLong crc = crc_update(::crc32(0, nullptr, 0), {h, kCrcOffset});
    crc = crc_update(crc, id);
    crc = crc_update(crc, envelope);
    crc = crc_update(crc, body);
    if (crc != get_le(h + kCrcOffset, 4)) break;
    Record record;
    record.kind = static_cast<RecordKind>(kind);
    record.flags = static_cast<std::uint8_t>(h[5]);
    record.offset = at;
    record.id = id;
    record.envelope = envelope;
    record.envelope_offset = id_at + id_bytes;
    record.body_offset = record.envelope_offset + envelope_bytes;
    record.body_bytes = body_bytes;
    record.end = record.body_offset + body_bytes;
    scan.records.push_back(record);
    at = record.end;
  }
  scan.valid_bytes = at;
  return scan;
}

}  // namespace tern::runtime::spool_log
