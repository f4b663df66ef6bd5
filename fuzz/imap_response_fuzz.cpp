// Fuzz target imap_response: the IMAP ResponseParser (protocol/imap/framing.hpp) in
// fuzzer-chosen chunks under fuzzer-chosen limits. Invariants: feed never consumes more than
// it was given, nor anything once failed; the responses and the failure do not depend on
// the split (compared with one whole feed); every response serializes, and the wire parses
// back to the same response.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/imap/framing.hpp"

using namespace tern::protocol::imap;

namespace {

using tern::fuzz::check;

struct Outcome {
  std::vector<Response> responses;
  bool failed = false;
};

Outcome run(const Limits& limits, const std::string& input,
            const std::vector<std::size_t>& chunks) {
  ResponseParser p(limits);
  Outcome out;
  std::size_t pos = 0, next = 0;
  while (pos < input.size() && !p.failed()) {
    std::size_t len = input.size() - pos;
    if (!chunks.empty()) len = std::min(len, chunks[next++ % chunks.size()]);
    std::span<const char> piece(input.data() + pos, len);
    while (!piece.empty() && !p.failed()) {
      const std::size_t n = p.feed(piece);
      check(n <= piece.size());
      while (auto r = p.poll()) out.responses.push_back(std::move(*r));
      if (n == 0) break;
      piece = piece.subspan(n);
    }
    if (p.failed()) check(p.feed(piece) == 0);
    pos += len;
  }
  out.failed = p.failed();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  Limits limits;
  limits.line_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 300);
  limits.literal_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(0, 64);
  limits.literals_max = fdp.ConsumeIntegralInRange<std::size_t>(0, 4);
  limits.capabilities_max = fdp.ConsumeIntegralInRange<std::size_t>(0, 16);
  limits.ready_responses_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 4);
  std::vector<std::size_t> chunks(fdp.ConsumeIntegralInRange<std::size_t>(1, 16));
  for (auto& c : chunks) c = fdp.ConsumeIntegralInRange<std::size_t>(1, 64);
  const std::string input = fdp.ConsumeRemainingBytesAsString();

  const Outcome whole = run(limits, input, {});
  const Outcome split = run(limits, input, chunks);
  check(whole.failed == split.failed);
  check(whole.responses == split.responses);
  for (const Response& r : whole.responses) {
    auto wire = serialize(r, limits);
    check(wire.has_value());
    ResponseParser again(limits);
    check(again.feed(std::span<const char>(wire->data(), wire->size())) == wire->size());
    auto back = again.poll();
    check(back.has_value() && *back == r && !again.poll().has_value() && !again.failed());
  }
  return 0;
}
