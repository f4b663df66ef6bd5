// Fuzz target control_request: parse_control_request over arbitrary lines (what any local
// client may send to ternd's control socket). Invariants: a parsed request formats to a
// line that parses back to it, that ends with LF, holds no other control byte and fits the
// limit; an id is valid exactly when the kind takes one; a refusal is one non-empty line
// without control bytes (it is echoed to the client as "error: <message>").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cmd/common/control_request.hpp"
#include "cmd/common/queue_render.hpp"
#include "fuzz/check.hpp"

using namespace tern::cmd;
using tern::fuzz::check;

namespace {

bool no_control_bytes(std::string_view text) {
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_control_request(line);
  if (!parsed) {
    const std::string& message = parsed.error().message;
    check(!message.empty());
    check(no_control_bytes(message));
    return 0;
  }
  check(line.size() <= kControlLineBytesMax);
  const ControlRequest& r = parsed.value();
  using Kind = ControlRequest::Kind;
  const bool takes_id = r.kind != Kind::list && r.kind != Kind::retry_all;
  check(takes_id ? valid_queue_id(r.id) : r.id.empty());
  const std::string formatted = format_control_request(r);
  check(!formatted.empty() && formatted.back() == '\n');
  const std::string_view body(formatted.data(), formatted.size() - 1);
  check(no_control_bytes(body));
  check(body.size() <= kControlLineBytesMax);
  const auto again = parse_control_request(body);
  check(again.has_value());
  check(again.value() == r);
  return 0;
}
