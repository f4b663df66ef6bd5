// Fuzz target smtp_command: parse any command line under fuzzer-chosen options. Invariants:
// an accepted command serializes; its canonical line is no longer than the input (so it
// fits the same limits); parsing the canonical line under the same options gives the same
// command (source-route flag aside, which serialize drops by design); every rejection
// carries a 5xx code whose first digit matches the enhanced status class.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz/check.hpp"
#include "protocol/smtp/command.hpp"

using namespace tern::protocol::smtp;

namespace {

using tern::fuzz::check;

Command without_source_route(Command c) {
  if (auto* m = std::get_if<Mail>(&c); m != nullptr && m->path.path)
    m->path.path->source_route_ignored = false;
  if (auto* r = std::get_if<Rcpt>(&c); r != nullptr && r->path.path)
    r->path.path->source_route_ignored = false;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  ParseOptions o;
  o.smtputf8 = (flags & 1) != 0;
  o.lmtp = (flags & 2) != 0;
  o.allow_trailing_whitespace = (flags & 4) != 0;
  o.reject_unknown_params = (flags & 8) != 0;
  if ((flags & 16) != 0) o.bdat_chunk_bytes_max = 1000;
  if ((flags & 32) != 0) o.limits.command_line_bytes_max = 2048;
  const std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);

  auto r = parse_command(line, o);
  if (!r) {
    const CommandError& e = r.error();
    check(e.code >= 500 && e.code <= 599 && e.status.klass == 5);
    check(e.error.offset <= line.size() + 1 || e.code == 500);
    check(serialize(e.to_reply()).has_value());
    return 0;
  }
  auto text = serialize(*r);
  check(text.has_value());
  check(text->size() >= 2 && text->substr(text->size() - 2) == "\r\n");
  const std::string_view canonical(text->data(), text->size() - 2);
  check(canonical.size() <= line.size());
  auto back = parse_command(canonical, o);
  check(back.has_value());
  check(*back == without_source_route(*r));
  auto again = serialize(*back);
  check(again.has_value() && *again == *text);
  return 0;
}
