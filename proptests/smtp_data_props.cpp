// Properties of the DATA codec (protocol/smtp/data_codec.hpp):
// - any split of the wire gives the same result as the naive reference reading;
// - decode(encode(body)) is the body with CRLF line ends, whatever the body holds.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/smtp/data_codec.hpp"
#include "protocol/smtp/tests/data_reference.hpp"

namespace tern::protocol::smtp {
namespace {

// Bytes that matter to the codec, often; anything else, sometimes.
rc::Gen<std::string> wire_bytes() {
  return rc::gen::container<std::string>(rc::gen::weightedOneOf<char>({
      {4, rc::gen::element('\r', '\n', '.')},
      {3, rc::gen::element('a', 'b', ' ')},
      {1, rc::gen::arbitrary<char>()},
  }));
}

// Cut points: sorted offsets into a string of `size` bytes.
std::vector<std::size_t> cuts_for(std::size_t size, const std::vector<std::size_t>& raw) {
  std::vector<std::size_t> cuts;
  for (auto r : raw) cuts.push_back(size == 0 ? 0 : r % (size + 1));
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

RC_GTEST_PROP(DataDecoderProps, AnySplitMatchesTheReference, ()) {
  const std::string wire = *wire_bytes();
  DataDecoderOptions options;
  options.normalize_bare_lf = *rc::gen::arbitrary<bool>();
  options.normalize_bare_cr = *rc::gen::arbitrary<bool>();
  options.line_bytes_max = *rc::gen::element<std::size_t>(0, 1, 2, 3, 5, 8, 1000);
  options.message_bytes_max = *rc::gen::element<std::uint64_t>(0, 1, 4, 10, 30);
  const auto cuts =
      cuts_for(wire.size(),
               *rc::gen::container<std::vector<std::size_t>>(rc::gen::arbitrary<std::size_t>()));
  const auto want = reference::decode(wire, options);

  DataDecoder decoder(options);
  std::string body;
  std::size_t consumed = 0;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : wire.size();
    // A decoder that stopped early leaves the rest unconsumed: feed from where it stopped.
    std::size_t start = std::max(from, consumed);
    if (to > start)
      consumed += decoder.decode(std::string_view(wire).substr(start, to - start), body).consumed;
    from = to;
  }
  RC_ASSERT(consumed == want.consumed);
  RC_ASSERT(decoder.finished() == want.finished);
  RC_ASSERT(decoder.violation() == want.violation);
  RC_ASSERT(decoder.body_bytes() == want.body_bytes);
  RC_ASSERT(body == want.out);
}

RC_GTEST_PROP(BodyScannerProps, AnySplitMatchesTheReference, ()) {
  const std::string body = *rc::gen::container<std::string>(rc::gen::weightedOneOf<char>({
      {4, rc::gen::element('\r', '\n', 'a')},
      {1, rc::gen::element('\0', 'b')},
  }));
  const std::size_t line_max = *rc::gen::element<std::size_t>(0, 1, 2, 3, 5, 8, 1000);
  const auto cuts =
      cuts_for(body.size(),
               *rc::gen::container<std::vector<std::size_t>>(rc::gen::arbitrary<std::size_t>()));
  BodyScanner scanner(line_max);
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : body.size();
    scanner.scan(std::string_view(body).substr(from, to - from));
    from = to;
  }
  RC_ASSERT(scanner.violation() == reference::scan(body, line_max));
}

// A body without NUL (a NUL is refused by the decoder: a unit test covers it).
RC_GTEST_PROP(DataCodecProps, EncodeThenDecodeGivesTheNormalisedBody, ()) {
  auto pieces = *rc::gen::container<std::vector<std::string>>(wire_bytes());
  for (auto& piece : pieces) std::erase(piece, '\0');
  DataEncoder encoder;
  std::string wire;
  std::string body;
  for (const auto& piece : pieces) {
    encoder.encode(piece, wire);
    body += piece;
  }
  encoder.finish(wire);
  RC_ASSERT(wire.find("\r\n.\r\n") == wire.size() - 5 || wire == ".\r\n" ||
            wire.find("\r\n.\r\n") == std::string::npos);

  DataDecoderOptions options;
  options.line_bytes_max = 0;
  DataDecoder decoder(options);
  std::string decoded;
  auto step = decoder.decode(wire, decoded);
  RC_ASSERT(step.finished);
  RC_ASSERT(step.consumed == wire.size());
  RC_ASSERT(decoder.violation() == DataViolation::none);
  RC_ASSERT(decoded == reference::normalize(body));
}

}  // namespace
}  // namespace tern::protocol::smtp
