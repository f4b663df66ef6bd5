// protocol/smtp/chars.hpp — character classes of the SMTP grammar (internal to smtp/; the
// engine borrows to_lower_ascii for domains and mailbox names).
//
// Contract: pure inline predicates over single octets and small string helpers. Nothing
// here allocates except to_upper_ascii and to_lower_ascii. utf8_sequence_length() is the one place
// that decides what well-formed UTF-8 is (RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF), so addresses, parameters and commands agree on it.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace tern::protocol::smtp::chars {

constexpr unsigned char u8(char c) {
  return static_cast<unsigned char>(c);
}
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_let_dig(char c) {
  return is_alpha(c) || is_digit(c);
}
constexpr bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_non_ascii(char c) {
  return u8(c) >= 0x80;
}
constexpr char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}
constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

constexpr int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5322 atext (ASCII part).
constexpr bool is_atext(char c) {
  if (is_let_dig(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~': return true;
    default: return false;
  }
}

// RFC 5321 qtextSMTP (ASCII part): %d32-33 / %d35-91 / %d93-126.
constexpr bool is_qtext(char c) {
  const unsigned char b = u8(c);
  return b >= 32 && b <= 126 && c != '"' && c != '\\';
}

// Printable ASCII and space: the range a quoted-pair may escape, and VRFY/NOOP text.
constexpr bool is_print_or_space(char c) {
  return u8(c) >= 32 && u8(c) <= 126;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string to_upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}
inline std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_lower(c);
  return out;
}

// Concatenation without `"literal" + std::string`, which GCC 12 at -O3 misreports
// (-Wrestrict, GCC PR 105651).
inline std::string concat(std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (auto p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (auto p : parts) out.append(p);
  return out;
}

// True for one well-formed UTF-8 scalar that is a bidirectional formatting control
// (Unicode's Bidi_Control): U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069.
constexpr bool is_bidi_control(std::string_view scalar) {
  if (scalar.size() == 2) return scalar[0] == '\xD8' && scalar[1] == '\x9C';
  if (scalar.size() != 3 || scalar[0] != '\xE2') return false;
  const auto b1 = static_cast<unsigned char>(scalar[1]);
  const auto b2 = static_cast<unsigned char>(scalar[2]);
  if (b1 == 0x80) return b2 == 0x8E || b2 == 0x8F || (b2 >= 0xAA && b2 <= 0xAE);
  return b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9;
}

// Length of the well-formed UTF-8 sequence of a non-ASCII scalar starting at s[i], or 0
// when the bytes there are not one (ASCII bytes also give 0: callers handle them first).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const unsigned char b0 = u8(s[i]);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  // One branch per row of RFC 3629 §4's table, so some bodies repeat.
  // NOLINTBEGIN(bugprone-branch-clone)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 == 0xE0) {
    n = 3;
    lo = 0xA0;
  }  // no overlongs
  else if (b0 >= 0xE1 && b0 <= 0xEC) {
    n = 3;
  } else if (b0 == 0xED) {
    n = 3;
    hi = 0x9F;
  }  // no surrogates
  else if (b0 >= 0xEE && b0 <= 0xEF) {
    n = 3;
  } else if (b0 == 0xF0) {
    n = 4;
    lo = 0x90;
  }  // no overlongs
  else if (b0 >= 0xF1 && b0 <= 0xF3) {
    n = 4;
  } else if (b0 == 0xF4) {
    n = 4;
    hi = 0x8F;
  }  // nothing above U+10FFFF
  else {
    return 0;
  }
  // NOLINTEND(bugprone-branch-clone)
  if (s.size() - i < n) return 0;
  const unsigned char b1 = u8(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    const unsigned char b = u8(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return n;
}

inline bool utf8_valid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (!is_non_ascii(s[i])) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

inline bool has_non_ascii(std::string_view s) {
  for (char c : s) {
    if (is_non_ascii(c)) return true;
  }
  return false;
}

}  // namespace tern::protocol::smtp::chars
