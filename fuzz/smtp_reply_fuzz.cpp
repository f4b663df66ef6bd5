// Fuzz target smtp_reply: feed the ReplyParser in fuzzer-chosen chunks under fuzzer-chosen
// bounds. Invariants: feed never consumes more than it was given, and nothing once failed;
// the replies and the failure do not depend on the split (compared with one whole feed);
// every reply respects the bounds, serializes, and (without enhanced-code extraction)
// parses back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/smtp/reply.hpp"

using namespace tern::protocol::smtp;

namespace {

using tern::fuzz::check;

struct Outcome {
  std::vector<Reply> replies;
  bool failed = false;
};

Outcome run(const ReplyParserOptions& o, const std::string& input,
            const std::vector<std::size_t>& chunks) {
  ReplyParser p(o);
  Outcome out;
  std::size_t pos = 0, next = 0;
  while (pos < input.size()) {
    std::size_t len = input.size() - pos;
    if (!chunks.empty()) len = std::min(len, chunks[next++ % chunks.size()]);
    std::span<const char> piece(input.data() + pos, len);
    while (!piece.empty()) {
      const bool was_failed = p.failed();
      const std::size_t n = p.feed(piece);
      check(n <= piece.size());
      check(!was_failed || n == 0);
      while (auto r = p.poll()) out.replies.push_back(std::move(*r));
      if (p.failed() || n == 0) break;
      piece = piece.subspan(n);
    }
    if (p.failed()) break;
    pos += len;
  }
  while (auto r = p.poll()) out.replies.push_back(std::move(*r));
  out.failed = p.failed();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  ReplyParserOptions o;
  o.line_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 200);
  o.lines_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 20);
  o.reply_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 1000);
  o.ready_replies_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 4);
  o.enhanced_status_codes = fdp.ConsumeBool();
  std::vector<std::size_t> chunks(fdp.ConsumeIntegralInRange<std::size_t>(1, 16));
  for (auto& c : chunks) c = fdp.ConsumeIntegralInRange<std::size_t>(1, 64);
  const std::string input = fdp.ConsumeRemainingBytesAsString();

  const Outcome whole = run(o, input, {});
  const Outcome split = run(o, input, chunks);
  check(whole.failed == split.failed);
  check(whole.replies == split.replies);
  for (const Reply& r : whole.replies) {
    check(r.code >= 200 && r.code <= 599);
    check(!r.lines.empty() && r.lines.size() <= o.lines_max);
    auto wire = serialize(r);
    check(wire.has_value());
    if (!o.enhanced_status_codes) {
      ReplyParserOptions roomy;
      ReplyParser again(roomy);
      check(again.feed(std::span<const char>(wire->data(), wire->size())) == wire->size());
      auto back = again.poll();
      check(back.has_value() && *back == r && !again.poll().has_value());
    }
  }
  return 0;
}
