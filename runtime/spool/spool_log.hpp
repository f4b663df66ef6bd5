// runtime/spool/spool_log.hpp — the record format of AsioIo's spool log (docs/spool.md):
// pure functions, no IO, so the format has its own tests, property and fuzz target.
//
// A segment file is a sequence of records. Each record is a 24-byte header, then the id,
// the envelope and the body:
//   0 "TLOG" | 4 kind u8 | 5 flags u8 | 6 id_len u16 | 8 envelope_len u32 | 12 body_len u64
//   | 20 crc u32 | 24 id | envelope | body            (integers little-endian)
// crc is zlib's crc32 of header bytes [0,20), the id, the envelope and the body, so a torn
// or stale tail is told from a record: scan_segment stops at the first record that is cut
// short, has a wrong magic or kind, a bad id (not [A-Za-z0-9]{1,64}) or a wrong crc, and
// reports where the valid prefix ends. Nothing after that point is trusted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/spool_id.hpp"

namespace tern::runtime::spool_log {

enum class RecordKind : std::uint8_t {
  commit = 1,    // a message: its id, first envelope and (unless external) its body
  envelope = 2,  // a new envelope for a live message
  remove = 3,    // the message is gone
};

inline constexpr std::uint8_t kFlagExternalBody = 1;  // commit: the body is in body/<id>
inline constexpr std::size_t kHeaderBytes = 24;
inline constexpr std::size_t kIdBytesMax = kSpoolIdBytesMax;

struct RecordHeader {
  RecordKind kind = RecordKind::commit;
  std::uint8_t flags = 0;
  std::uint16_t id_bytes = 0;
  std::uint32_t envelope_bytes = 0;
  std::uint64_t body_bytes = 0;
  std::uint32_t crc = 0;
};

// The header of a record holding exactly these bytes (crc computed over all of them).
// The caller keeps the lengths within the field widths (id <= 64, envelope < 4 GiB).
std::array<char, kHeaderBytes> encode_header(RecordKind kind, std::uint8_t flags,
                                             std::string_view id, std::string_view envelope,
                                             std::string_view body);

// One valid record found by scan_segment: views into the scanned bytes.
struct Record {
  RecordKind kind = RecordKind::commit;
  std::uint8_t flags = 0;
  std::uint64_t offset = 0;  // of the header within the segment
  std::string_view id;
  std::string_view envelope;
  std::uint64_t envelope_offset = 0;  // within the segment
  std::uint64_t body_offset = 0;
  std::uint64_t body_bytes = 0;
  std::uint64_t end = 0;  // offset just past the record
};

struct Scan {
  std::vector<Record> records;
  std::uint64_t valid_bytes = 0;  // the end of the last valid record
};

// The records of a segment, in order, up to the first invalid one (see above).
Scan scan_segment(std::string_view bytes);

bool valid_id(std::string_view id);

}  // namespace tern::runtime::spool_log
