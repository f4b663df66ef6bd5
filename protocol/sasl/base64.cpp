#include "protocol/sasl/base64.hpp"

#include <array>
#include <cstdint>

namespace tern::protocol::sasl {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_reverse() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> kReverse = make_reverse();

std::uint8_t value_of(char c) {
  return kReverse[static_cast<unsigned char>(c)];
}

// Counts the trailing '=' (0, 1 or 2) of a text whose length is a non-zero multiple of 4.
std::size_t padding_of(std::string_view text) {
  std::size_t pad = 0;
  if (text[text.size() - 1] == '=') ++pad;
  if (pad == 1 && text[text.size() - 2] == '=') ++pad;
  return pad;
}

// Checks one character of the final group against the padding rules; returns the error
// text or nullptr.
const char* check_final_char(std::string_view group, std::size_t i, std::size_t pad) {
  const bool in_padding = i >= 4 - pad;
  if (in_padding) return nullptr;  // known to be '='
  if (group[i] == '=') return "misplaced base64 padding";
  if (value_of(group[i]) == kInvalid) return "invalid base64 character";
  return nullptr;
}

}  // namespace

std::size_t encoded_size(std::size_t decoded_bytes) {
  return (decoded_bytes + 2) / 3 * 4;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve(encoded_size(bytes.size()));
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = byte(i) << 16;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text, std::size_t decoded_bytes_max) {
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0) return fail(text.size(), "base64 length is not a multiple of 4");
  const std::size_t pad = padding_of(text);
  const std::size_t decoded = text.size() / 4 * 3 - pad;
  if (decoded > decoded_bytes_max) {
    return fail(decoded_bytes_max / 3 * 4, "base64 data exceeds the length limit");
  }
  std::string out;
  out.reserve(decoded);
  const std::size_t last = text.size() - 4;
  for (std::size_t g = 0; g < text.size(); g += 4) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const char c = text[g + i];
      if (g == last) {
        if (const char* why = check_final_char(text.substr(g, 4), i, pad)) return fail(g + i, why);
      } else if (value_of(c) == kInvalid) {
        return fail(g + i, c == '=' ? "misplaced base64 padding" : "invalid base64 character");
      }
      v = v << 6 | (c == '=' ? 0 : value_of(c));
    }
    const std::size_t keep = g == last ? 3 - pad : 3;
    if (g == last && pad > 0) {
      const std::uint32_t unused_mask = pad == 1 ? 0xFF : 0xFFFF;
      if ((v & unused_mask) != 0) return fail(g + 3 - pad, "non-canonical base64 trailing bits");
    }
    out += static_cast<char>(v >> 16 & 0xFF);
    if (keep > 1) out += static_cast<char>(v >> 8 & 0xFF);
    if (keep > 2) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

}  // namespace tern::protocol::sasl
