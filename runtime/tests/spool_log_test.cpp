// The spool log's record format (runtime/spool/spool_log.hpp): exact bytes of a header,
// scanning, and every way a tail can be torn.
#include "runtime/spool/spool_log.hpp"

#include <string>

#include <zlib.h>

#include <gtest/gtest.h>

namespace tern::runtime::spool_log {
namespace {

std::string record(RecordKind kind, std::uint8_t flags, std::string_view id,
                   std::string_view envelope, std::string_view body) {
  const auto header = encode_header(kind, flags, id, envelope, body);
  return std::string(header.data(), header.size()) + std::string(id) + std::string(envelope) +
         std::string(body);
}

TEST(SpoolLog, HeaderBytesAreExact) {
  const std::string r = record(RecordKind::commit, 0, "Ab1", "env", "body!");
  ASSERT_EQ(r.size(), 24u + 3 + 3 + 5);
  EXPECT_EQ(r.substr(0, 4), "TLOG");
  EXPECT_EQ(r[4], 1);
  EXPECT_EQ(r[5], 0);
  EXPECT_EQ(r.substr(6, 2), std::string("\x03\x00", 2));
  EXPECT_EQ(r.substr(8, 4), std::string("\x03\x00\x00\x00", 4));
  EXPECT_EQ(r.substr(12, 8), std::string("\x05\x00\x00\x00\x00\x00\x00\x00", 8));
  // zlib crc32 of header[0,20) + id + envelope + body, little-endian.
  std::string covered = r.substr(0, 20) + "Ab1" + "env" + "body!";
  const uLong crc =
      ::crc32(0, reinterpret_cast<const Bytef*>(covered.data()), static_cast<uInt>(covered.size()));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(static_cast<unsigned char>(r[20 + i]), (crc >> (8 * i)) & 0xff) << i;
  }
  EXPECT_EQ(r.substr(24), "Ab1envbody!");
}

TEST(SpoolLog, ScanReturnsEveryRecordWithItsPlaces) {
  const std::string a = record(RecordKind::commit, 0, "A", "e1", "b1");
  const std::string b = record(RecordKind::envelope, 0, "A", "e2", "");
  const std::string c = record(RecordKind::commit, kFlagExternalBody, "B", "e3", "");
  const std::string d = record(RecordKind::remove, 0, "A", "", "");
  const std::string log = a + b + c + d;
  const Scan scan = scan_segment(log);
  ASSERT_EQ(scan.records.size(), 4u);
  EXPECT_EQ(scan.valid_bytes, log.size());
  EXPECT_EQ(scan.records[0].kind, RecordKind::commit);
  EXPECT_EQ(scan.records[0].id, "A");
  EXPECT_EQ(scan.records[0].envelope, "e1");
  EXPECT_EQ(log.substr(scan.records[0].envelope_offset, 2), "e1");
  EXPECT_EQ(log.substr(scan.records[0].body_offset, scan.records[0].body_bytes), "b1");
  EXPECT_EQ(scan.records[1].offset, a.size());
  EXPECT_EQ(scan.records[1].kind, RecordKind::envelope);
  EXPECT_EQ(scan.records[2].flags, kFlagExternalBody);
  EXPECT_EQ(scan.records[2].body_bytes, 0u);
  EXPECT_EQ(scan.records[3].kind, RecordKind::remove);
  EXPECT_EQ(scan.records[3].end, log.size());
}

TEST(SpoolLog, EveryCutOfTheLastRecordEndsTheScanBeforeIt) {
  const std::string a = record(RecordKind::commit, 0, "A", "env", "body");
  const std::string b = record(RecordKind::commit, 0, "B", "env two", "body two");
  for (std::size_t keep = 0; keep < b.size(); ++keep) {
    const Scan scan = scan_segment(a + b.substr(0, keep));
    ASSERT_EQ(scan.records.size(), 1u) << keep;
    EXPECT_EQ(scan.valid_bytes, a.size()) << keep;
  }
  EXPECT_EQ(scan_segment(a + b).records.size(), 2u);
}

TEST(SpoolLog, EveryFlippedByteEndsTheScanAtThatRecord) {
  const std::string a = record(RecordKind::commit, 0, "A", "env", "body");
  const std::string b = record(RecordKind::envelope, 0, "B", "env two", "");
  for (std::size_t at = 0; at < b.size(); ++at) {
    std::string bad = b;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    const Scan scan = scan_segment(a + bad + a);
    EXPECT_EQ(scan.records.size(), 1u) << at;
    EXPECT_EQ(scan.valid_bytes, a.size()) << at;
  }
}

TEST(SpoolLog, ZerosGarbageAndUnknownKindsAreATail) {
  const std::string a = record(RecordKind::remove, 0, "A", "", "");
  EXPECT_EQ(scan_segment(a + std::string(64, '\0')).records.size(), 1u);
  EXPECT_EQ(scan_segment(a + "TLOG").valid_bytes, a.size());
  std::string unknown = record(RecordKind::remove, 0, "B", "", "");
  unknown[4] = 4;
  EXPECT_EQ(scan_segment(a + unknown).records.size(), 1u);
  EXPECT_TRUE(scan_segment("").records.empty());
}

TEST(SpoolLog, IdsAreCheckedAtTheLimit) {
  const std::string longest(kIdBytesMax, 'z');
  EXPECT_TRUE(valid_id(longest));
  EXPECT_FALSE(valid_id(longest + "z"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id("a.b"));
  EXPECT_EQ(scan_segment(record(RecordKind::remove, 0, longest, "", "")).records.size(), 1u);
  EXPECT_EQ(scan_segment(record(RecordKind::remove, 0, longest + "z", "", "")).records.size(), 0u);
  EXPECT_EQ(scan_segment(record(RecordKind::remove, 0, "a-b", "", "")).records.size(), 0u);
}

}  // namespace
}  // namespace tern::runtime::spool_log
