// Fuzz target: the DATA decoder against the naive reference reading, with fuzzer-chosen
// options and chunk boundaries; and the encoder's output always decodes back to the
// normalised body without a violation (NULs aside: they are refused); and BDAT's body scanner
// against its reference.
#include <cstdlib>

#include <fuzzer/FuzzedDataProvider.h>

#include "protocol/smtp/data_codec.hpp"
#include "protocol/smtp/tests/data_reference.hpp"

using namespace tern::protocol::smtp;

namespace {

// BDAT's text-body scanner against its reference, over fuzzer-chosen chunk boundaries.
void check_scanner(const std::string& body, std::size_t line_max,
                   const std::vector<std::size_t>& chunk_sizes) {
  BodyScanner scanner(line_max);
  std::size_t at = 0;
  for (std::size_t i = 0; at < body.size(); ++i) {
    const std::size_t size = std::min(chunk_sizes[i % chunk_sizes.size()], body.size() - at);
    scanner.scan(std::string_view(body).substr(at, size));
    at += size;
  }
  if (scanner.violation() != reference::scan(body, line_max)) std::abort();
}

void check_decoder(FuzzedDataProvider& in) {
  DataDecoderOptions options;
  options.normalize_bare_lf = in.ConsumeBool();
  options.normalize_bare_cr = in.ConsumeBool();
  options.line_bytes_max = in.ConsumeIntegralInRange<std::size_t>(0, 40);
  options.message_bytes_max = in.ConsumeIntegralInRange<std::uint64_t>(0, 200);
  std::vector<std::size_t> chunk_sizes;
  for (int i = 0; i < 8; ++i) chunk_sizes.push_back(in.ConsumeIntegralInRange<std::size_t>(1, 64));
  const std::string wire = in.ConsumeRemainingBytesAsString();
  const auto want = reference::decode(wire, options);

  DataDecoder decoder(options);
  std::string body;
  std::size_t at = 0;
  for (std::size_t i = 0; at < wire.size() && !decoder.finished(); ++i) {
    const std::size_t size = std::min(chunk_sizes[i % chunk_sizes.size()], wire.size() - at);
    at += decoder.decode(std::string_view(wire).substr(at, size), body).consumed;
  }
  if (at != want.consumed || decoder.finished() != want.finished ||
      decoder.violation() != want.violation || decoder.body_bytes() != want.body_bytes) {
    std::abort();
  }
  if (body != want.out) std::abort();
  check_scanner(wire, options.line_bytes_max, chunk_sizes);
}

void check_round_trip(const std::string& body) {
  DataEncoder encoder;
  std::string wire;
  encoder.encode(body, wire);
  encoder.finish(wire);
  DataDecoderOptions options;
  options.line_bytes_max = 0;
  DataDecoder decoder(options);
  std::string decoded;
  const auto step = decoder.decode(wire, decoded);
  if (body.find('\0') != std::string::npos) {
    if (!step.finished || decoder.violation() != DataViolation::nul) std::abort();
    return;
  }
  if (!step.finished || step.consumed != wire.size() ||
      decoder.violation() != DataViolation::none || decoded != reference::normalize(body)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_round_trip(std::string(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  check_decoder(in);
  return 0;
}
