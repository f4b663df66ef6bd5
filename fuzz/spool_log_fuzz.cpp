// Fuzz target spool_log: scan_segment over arbitrary bytes (what a crash can leave in a
// segment). Invariants: the records are contiguous from offset 0 and end at valid_bytes;
// each one's views lie inside the input; re-encoding a record from its fields gives exactly
// its bytes; scanning the valid prefix alone gives the same records, and the scan never
// reads past a record it rejected.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/check.hpp"
#include "runtime/spool/spool_log.hpp"

using namespace tern::runtime::spool_log;
using tern::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Scan scan = scan_segment(bytes);
  std::uint64_t at = 0;
  for (const Record& r : scan.records) {
    check(r.offset == at);
    check(r.end <= bytes.size());
    check(valid_id(r.id));
    const std::string_view body = bytes.substr(r.body_offset, r.body_bytes);
    const auto header = encode_header(r.kind, r.flags, r.id, r.envelope, body);
    const std::string again = std::string(header.data(), header.size()) + std::string(r.id) +
                              std::string(r.envelope) + std::string(body);
    check(again == bytes.substr(r.offset, r.end - r.offset));
    at = r.end;
  }
  check(scan.valid_bytes == at);
  const Scan prefix = scan_segment(bytes.substr(0, scan.valid_bytes));
  check(prefix.records.size() == scan.records.size());
  check(prefix.valid_bytes == scan.valid_bytes);
  return 0;
}
