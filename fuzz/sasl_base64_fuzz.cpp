// libFuzzer target sasl_base64: strict base64 decoding and the SASL wire line decoder.
// Invariants: whatever decodes re-encodes to exactly the input (only canonical text is
// accepted); a decode never exceeds its limit and, when it fails only for the limit, a
// larger limit succeeds; encoding the raw input always decodes back to it; the wire line
// decoder agrees with base64_decode except for "*", "=" and the empty line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/check.hpp"
#include "protocol/sasl/base64.hpp"
#include "protocol/sasl/wire.hpp"

namespace {

void require(bool ok, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  tern::fuzz::check(ok, file, line);
}

using namespace tern::protocol::sasl;

void check_decode(std::string_view text) {
  const std::size_t max = text.size();  // never binding: 3 bytes per 4 characters
  auto decoded = base64_decode(text, max);
  if (!decoded) {
    require(decoded.error().offset <= text.size());
    require(!decoded.error().message.empty());
    return;
  }
  require(decoded->size() <= max);
  require(base64_encode(*decoded) == text);
  if (!decoded->empty()) {
    auto tight = base64_decode(text, decoded->size() - 1);
    require(!tight && tight.error().message == "base64 data exceeds the length limit");
    require(base64_decode(text, decoded->size()).has_value());
  }
}

void check_wire(std::string_view text) {
  for (const auto pos : {LinePosition::initial_response, LinePosition::continuation}) {
    auto line = decode_client_line(text, pos, 100000);
    if (text == "*") {
      require(line && std::holds_alternative<Cancel>(*line));
      continue;
    }
    if (pos == LinePosition::initial_response && (text == "=" || text.empty())) {
      require(text.empty() ? !line : (line && std::get<Bytes>(*line).data.empty()));
      continue;
    }
    auto plain = base64_decode(text, 100000);
    require(line.has_value() == plain.has_value());
    if (line) require(std::get<Bytes>(*line).data == *plain);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_decode(input);
  check_wire(input);
  const std::string encoded = base64_encode(input);
  auto back = base64_decode(encoded, input.size());
  require(back && *back == input);
  require(encode_initial_response(input) == (input.empty() ? "=" : encoded));
  return 0;
}
