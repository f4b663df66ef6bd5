#include "protocol/sasl/wire.hpp"

#include "protocol/sasl/base64.hpp"

namespace tern::protocol::sasl {

Result<ClientLine> decode_client_line(std::string_view line, LinePosition position,
                                      std::size_t decoded_bytes_max) {
  if (line == "*") return ClientLine{Cancel{}};
  if (position == LinePosition::initial_response) {
    if (line == "=") return ClientLine{Bytes{}};
    if (line.empty()) return fail(0, "empty initial response must be sent as =");
  }
  auto decoded = base64_decode(line, decoded_bytes_max);
  if (!decoded) return decoded.error();
  return ClientLine{Bytes{std::move(*decoded)}};
}

std::string encode_challenge(std::string_view bytes) {
  return base64_encode(bytes);
}

std::string encode_initial_response(std::string_view bytes) {
  return bytes.empty() ? std::string("=") : base64_encode(bytes);
}

std::string encode_response(std::string_view bytes) {
  return base64_encode(bytes);
}

std::string_view cancel_line() {
  return "*";
}

}  // namespace tern::protocol::sasl
