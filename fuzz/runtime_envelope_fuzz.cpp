// The spool envelope parser: never crashes on any file, and whatever it accepts
// serializes to a text that parses back to the same envelope (runtime/spool_format.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/check.hpp"
#include "runtime/spool_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using tern::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tern::runtime::EnvelopeLimits limits;
  limits.recipients_max = 64;
  const auto parsed = tern::runtime::parse_envelope(text, limits);
  if (!parsed) {
    check(parsed.error().offset <= text.size());
    check(!parsed.error().message.empty());
    return 0;
  }
  const auto again_text = tern::runtime::serialize_envelope(*parsed);
  const auto again = tern::runtime::parse_envelope(again_text, limits);
  check(again.has_value());
  check(*again == *parsed);
  check(tern::runtime::serialize_envelope(*again) == again_text);
  return 0;
}
