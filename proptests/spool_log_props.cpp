// Properties of the spool log's record format (runtime/spool/spool_log.hpp): any sequence
// of records scans back to itself; any cut of it scans to the records wholly before the
// cut; a changed byte inside a record ends the scan at that record, never later.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "runtime/spool/spool_log.hpp"

namespace tern::runtime::spool_log {
namespace {

struct Plain {
  RecordKind kind;
  std::uint8_t flags;
  std::string id, envelope, body;
};

rc::Gen<Plain> gen_record() {
  const auto id_char = rc::gen::elementOf(std::string("abcXYZ0189"));
  return rc::gen::build<Plain>(
      rc::gen::set(&Plain::kind,
                   rc::gen::element(RecordKind::commit, RecordKind::envelope, RecordKind::remove)),
      rc::gen::set(&Plain::flags, rc::gen::element<std::uint8_t>(0, kFlagExternalBody)),
      rc::gen::set(&Plain::id, rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, kIdBytesMax + 1),
                                               [id_char](std::size_t n) {
                                                 return rc::gen::container<std::string>(n, id_char);
                                               })),
      rc::gen::set(&Plain::envelope, rc::gen::arbitrary<std::string>()),
      rc::gen::set(&Plain::body, rc::gen::arbitrary<std::string>()));
}

std::string encode(const Plain& r) {
  const auto header = encode_header(r.kind, r.flags, r.id, r.envelope, r.body);
  return std::string(header.data(), header.size()) + r.id + r.envelope + r.body;
}

// The records one after another, and where each one ends.
struct Encoded {
  std::string log;
  std::vector<std::size_t> ends;
};

Encoded encode_all(const std::vector<Plain>& records) {
  Encoded out;
  for (const auto& r : records) {
    out.log += encode(r);
    out.ends.push_back(out.log.size());
  }
  return out;
}

RC_GTEST_PROP(SpoolLogProps, RecordsScanBackToThemselves, ()) {
  const auto records = *rc::gen::container<std::vector<Plain>>(gen_record());
  std::string log;
  for (const auto& r : records) log += encode(r);
  const Scan scan = scan_segment(log);
  RC_ASSERT(scan.records.size() == records.size());
  RC_ASSERT(scan.valid_bytes == log.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& got = scan.records[i];
    RC_ASSERT(got.kind == records[i].kind);
    RC_ASSERT(got.flags == records[i].flags);
    RC_ASSERT(got.id == records[i].id);
    RC_ASSERT(got.envelope == records[i].envelope);
    RC_ASSERT(log.substr(got.body_offset, got.body_bytes) == records[i].body);
  }
}

RC_GTEST_PROP(SpoolLogProps, ACutKeepsTheWholeRecordsBeforeIt, ()) {
  const auto records = *rc::gen::nonEmpty(rc::gen::container<std::vector<Plain>>(gen_record()));
  auto [log, ends] = encode_all(records);
  const auto cut = *rc::gen::inRange<std::size_t>(0, log.size() + 1);
  const Scan scan = scan_segment(std::string_view(log).substr(0, cut));
  std::size_t whole = 0;
  while (whole < ends.size() && ends[whole] <= cut) ++whole;
  RC_ASSERT(scan.records.size() == whole);
  RC_ASSERT(scan.valid_bytes == (whole == 0 ? 0 : ends[whole - 1]));
}

RC_GTEST_PROP(SpoolLogProps, AChangedByteEndsTheScanAtItsRecord, ()) {
  const auto records = *rc::gen::nonEmpty(rc::gen::container<std::vector<Plain>>(gen_record()));
  auto [log, ends] = encode_all(records);
  const auto at = *rc::gen::inRange<std::size_t>(0, log.size());
  const auto flip = *rc::gen::inRange<int>(1, 256);
  log[at] = static_cast<char>(static_cast<unsigned char>(log[at]) ^ flip);
  std::size_t hit = 0;
  while (ends[hit] <= at) ++hit;
  const Scan scan = scan_segment(log);
  RC_ASSERT(scan.records.size() == hit);  // crc32 catches every change within 32 bits
}

}  // namespace
}  // namespace tern::runtime::spool_log
