#include "runtime/directory/secret_format.hpp"

#include <array>
#include <cstddef>
#include <optional>

namespace tern::runtime::directory {
namespace {

constexpr std::size_t kSchemeNameBytesMax = 32;
constexpr std::size_t kShaSaltCharsMax = 16;
constexpr std::size_t kSha512HashChars = 86;
constexpr std::size_t kSha256HashChars = 43;
constexpr std::size_t kBcryptTailChars = 53;  // 22 of salt, 31 of hash
constexpr std::uint32_t kShaRoundsMin = 1000;
constexpr std::uint32_t kBcryptCostMin = 4;
constexpr std::size_t kArgon2SaltBytesMin = 8;
constexpr std::size_t kArgon2SaltBytesMax = 64;
constexpr std::size_t kArgon2HashBytesMin = 4;
constexpr std::size_t kArgon2HashBytesMax = 64;

ParsedSecret refuse(Verdict verdict, std::string_view reason, std::string name = {},
                    Scheme scheme = Scheme::other) {
  ParsedSecret p;
  p.verdict = verdict;
  p.reason = reason;
  p.scheme = scheme;
  p.scheme_name = std::move(name);
  return p;
}

bool is_crypt_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

bool all_crypt_chars(std::string_view text) {
  for (char c : text) {
    if (!is_crypt_char(c)) return false;
  }
  return true;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kSchemeNameBytesMax) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// A decimal of at most 10 digits without leading zeros that fits in 32 bits.
std::optional<std::uint32_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

// Splits off the text up to the next '$' (consumed); nullopt when there is none.
std::optional<std::string_view> take_field(std::string_view& rest) {
  std::size_t end = rest.find('$');
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view field = rest.substr(0, end);
  rest.remove_prefix(end + 1);
  return field;
}

ParsedSecret parse_sha_crypt(std::string_view secret, std::string_view rest, bool sha512,
                             const PasswordLimits& limits) {
  const Scheme scheme = sha512 ? Scheme::sha512_crypt : Scheme::sha256_crypt;
  const std::string name = sha512 ? "6" : "5";
  if (rest.starts_with("rounds=")) {
    rest.remove_prefix(7);
    auto digits = take_field(rest);
    auto rounds = digits ? parse_decimal(*digits) : std::nullopt;
    if (!rounds) return refuse(Verdict::malformed, "rounds is not a number", name, scheme);
    if (*rounds < kShaRoundsMin)
      return refuse(Verdict::malformed, "rounds below 1000", name, scheme);
    if (*rounds > limits.sha_crypt_rounds_max) {
      return refuse(Verdict::malformed, "rounds above the limit", name, scheme);
    }
  }
  auto salt = take_field(rest);
  if (!salt || salt->empty() || salt->size() > kShaSaltCharsMax || !all_crypt_chars(*salt)) {
    return refuse(Verdict::malformed, "bad salt", name, scheme);
  }
  if (rest.size() != (sha512 ? kSha512HashChars : kSha256HashChars) || !all_crypt_chars(rest)) {
    return refuse(Verdict::malformed, "bad hash length or character", name, scheme);
  }
  ParsedSecret p;
  p.ok = true;
  p.scheme = scheme;
  p.scheme_name = name;
  p.crypt_setting = secret;
  return p;
}

ParsedSecret parse_bcrypt(std::string_view secret, std::string_view id, std::string_view rest,
                          const PasswordLimits& limits) {
  const std::string name(id);
  auto cost_text = take_field(rest);
  if (!cost_text || cost_text->size() != 2 || (*cost_text)[0] < '0' || (*cost_text)[0] > '9' ||
      (*cost_text)[1] < '0' || (*cost_text)[1] > '9') {
    return refuse(Verdict::malformed, "bcrypt cost is not two digits", name, Scheme::bcrypt);
  }
  const auto cost =
      static_cast<std::uint32_t>(((*cost_text)[0] - '0') * 10 + ((*cost_text)[1] - '0'));
  if (cost < kBcryptCostMin || cost > 31) {
    return refuse(Verdict::malformed, "bcrypt cost outside 04..31", name, Scheme::bcrypt);
  }
  if (cost > limits.bcrypt_cost_max) {
    return refuse(Verdict::malformed, "bcrypt cost above the limit", name, Scheme::bcrypt);
  }
  if (rest.size() != kBcryptTailChars || !all_crypt_chars(rest)) {
    return refuse(Verdict::malformed, "bad hash length or character", name, Scheme::bcrypt);
  }
  ParsedSecret p;
  p.ok = true;
  p.scheme = Scheme::bcrypt;
  p.scheme_name = name;
  p.crypt_setting = secret;
  return p;
}

// "m=65536,t=3,p=4" in this order, as every argon2 encoder writes it.
bool parse_argon2_costs(std::string_view text, Argon2Params& out) {
  std::array<std::uint32_t*, 3> fields{&out.memory_kib, &out.time, &out.lanes};
  constexpr std::array<std::string_view, 3> kKeys{"m=", "t=", "p="};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!text.starts_with(kKeys[i])) return false;
    text.remove_prefix(2);
    std::size_t end = i + 1 < fields.size() ? text.find(',') : text.size();
    if (end == std::string_view::npos) return false;
    auto value = parse_decimal(text.substr(0, end));
    if (!value) return false;
    *fields[i] = *value;
    text.remove_prefix(i + 1 < fields.size() ? end + 1 : end);
  }
  return true;
}

std::string_view check_argon2_limits(const Argon2Params& a, const PasswordLimits& limits) {
  if (a.time < 1 || a.lanes < 1 || a.memory_kib < 8ULL * a.lanes)
    return "argon2 costs out of range";
  if (a.memory_kib > limits.argon2_memory_kib_max) return "argon2 memory above the limit";
  if (a.time > limits.argon2_time_max) return "argon2 time above the limit";
  if (a.lanes > limits.argon2_lanes_max) return "argon2 lanes above the limit";
  if (a.salt.size() < kArgon2SaltBytesMin || a.salt.size() > kArgon2SaltBytesMax) {
    return "argon2 salt length out of range";
  }
  if (a.hash.size() < kArgon2HashBytesMin || a.hash.size() > kArgon2HashBytesMax) {
    return "argon2 hash length out of range";
  }
  return {};
}

ParsedSecret parse_argon2(std::string_view id, std::string_view rest,
                          const PasswordLimits& limits) {
  const bool is_id = id == "argon2id";
  const Scheme scheme = is_id ? Scheme::argon2id : Scheme::argon2i;
  const std::string name(id);
  ParsedSecret p;
  if (rest.starts_with("v=")) {
    auto v = take_field(rest);
    auto version = v ? parse_decimal(v->substr(2)) : std::nullopt;
    if (!version || (*version != 0x10 && *version != 0x13)) {
      return refuse(Verdict::malformed, "argon2 version is not 16 or 19", name, scheme);
    }
    p.argon2.version = *version;
  } else {
    p.argon2.version = 0x10;  // the reference decoder's meaning of a missing v=
  }
  auto costs = take_field(rest);
  if (!costs || !parse_argon2_costs(*costs, p.argon2)) {
    return refuse(Verdict::malformed, "argon2 costs are not m=,t=,p=", name, scheme);
  }
  auto salt = take_field(rest);
  if (!salt || !decode_base64_unpadded(*salt, p.argon2.salt) ||
      !decode_base64_unpadded(rest, p.argon2.hash)) {
    return refuse(Verdict::malformed, "argon2 salt or hash is not base64", name, scheme);
  }
  if (std::string_view why = check_argon2_limits(p.argon2, limits); !why.empty()) {
    return refuse(Verdict::malformed, why, name, scheme);
  }
  p.ok = true;
  p.scheme = scheme;
  p.scheme_name = name;
  return p;
}

std::string_view refused_reason(std::string_view id) {
  if (id == "1") return "md5-crypt is too weak: rehash with $6$ or argon2id";
  if (id == "2x") return "$2x$ is the buggy bcrypt variant";
  if (id == "y" || id == "gy" || id == "7") return "yescrypt and scrypt are not supported yet";
  if (id == "argon2d") return "argon2d is not meant for passwords: use argon2id";
  return "unknown scheme";
}

// The name to report for a refused scheme: only names of real schemes are echoed, since an
// unknown "{Summer2024}..." is more likely a plain-text password than a scheme, and a
// password must not reach a log line.
std::string known_name(std::string_view id) {
  static constexpr std::string_view kKnown[] = {"1",
                                                "2x",
                                                "3",
                                                "y",
                                                "gy",
                                                "7",
                                                "argon2d",
                                                "md5",
                                                "sha1",
                                                "sunmd5",
                                                "nt",
                                                "pbkdf2-sha256",
                                                "pbkdf2-sha512",
                                                "scrypt",
                                                "SSHA",
                                                "SHA",
                                                "SHA1",
                                                "SHA256",
                                                "SHA512",
                                                "SSHA256",
                                                "SSHA512",
                                                "SMD5",
                                                "MD5",
                                                "MD5-CRYPT",
                                                "PLAIN-MD5",
                                                "LDAP-MD5",
                                                "CRAM-MD5",
                                                "DIGEST-MD5",
                                                "SCRAM-SHA-1",
                                                "SCRAM-SHA-256",
                                                "PBKDF2",
                                                "DES-CRYPT",
                                                "NTLM",
                                                "LANMAN",
                                                "OTP",
                                                "CLEAR",
                                                "CLEARTEXT",
                                                "PLAIN-TRUNC",
                                                "SCRYPT",
                                                "ARGON2D"};
  for (std::string_view k : kKnown) {
    if (k == id) return std::string(id);
  }
  return "unknown";
}

ParsedSecret parse_dollar(std::string_view secret, const PasswordLimits& limits) {
  std::string_view rest = secret.substr(1);
  auto id = take_field(rest);
  if (!id || !valid_name(*id)) return refuse(Verdict::malformed, "no scheme id between '$' signs");
  if (*id == "6" || *id == "5") return parse_sha_crypt(secret, rest, *id == "6", limits);
  if (*id == "2a" || *id == "2b" || *id == "2y") return parse_bcrypt(secret, *id, rest, limits);
  if (*id == "argon2id" || *id == "argon2i") return parse_argon2(*id, rest, limits);
  return refuse(Verdict::unsupported_scheme, refused_reason(*id), known_name(*id));
}

ParsedSecret plain_secret(std::string_view text) {
  if (text.empty()) return refuse(Verdict::malformed, "empty secret", "plain", Scheme::plain);
  ParsedSecret p;
  p.ok = true;
  p.scheme = Scheme::plain;
  p.scheme_name = "plain";
  p.plain = text;
  return p;
}

// Which hashed scheme a Dovecot prefix promises; nullopt for a prefix we do not know.
std::optional<Scheme> dovecot_scheme(const std::string& name) {
  if (name == "CRYPT") return Scheme::other;  // any crypt-style hash
  if (name == "SHA512-CRYPT") return Scheme::sha512_crypt;
  if (name == "SHA256-CRYPT") return Scheme::sha256_crypt;
  if (name == "BLF-CRYPT") return Scheme::bcrypt;
  if (name == "ARGON2ID") return Scheme::argon2id;
  if (name == "ARGON2I") return Scheme::argon2i;
  return std::nullopt;
}

ParsedSecret parse_braced(std::string_view secret, const PasswordLimits& limits) {
  std::size_t close = secret.find('}');
  if (close == std::string_view::npos || !valid_name(secret.substr(1, close - 1))) {
    return refuse(Verdict::malformed,
                  "a secret starting with '{' needs {SCHEME}: write {PLAIN}...");
  }
  const std::string name(secret.substr(1, close - 1));
  const std::string_view rest = secret.substr(close + 1);
  const std::string key = upper(name);
  if (key == "PLAIN") return plain_secret(rest);
  auto promised = dovecot_scheme(key);
  if (!promised) return refuse(Verdict::unsupported_scheme, "unknown scheme", known_name(key));
  if (!rest.starts_with('$'))
    return refuse(Verdict::malformed, "the {SCHEME} prefix needs a $-hash after it", name);
  ParsedSecret inner = parse_dollar(rest, limits);
  if (inner.ok && *promised != Scheme::other && inner.scheme != *promised) {
    return refuse(Verdict::malformed, "the hash is not of the scheme its prefix names", name);
  }
  return inner;
}

}  // namespace

bool decode_base64_unpadded(std::string_view text, std::vector<std::uint8_t>& out) {
  out.clear();
  if (text.size() % 4 == 1) return false;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<std::uint8_t>(bits >> count));
      bits &= (1U << count) - 1;
    }
  }
  return bits == 0;  // leftover bits must be zero: one encoding per byte string
}

ParsedSecret parse_secret(std::string_view secret, const PasswordLimits& limits) {
  if (secret.empty()) return refuse(Verdict::malformed, "empty secret");
  if (secret.size() > limits.secret_bytes_max)
    return refuse(Verdict::malformed, "secret longer than the limit");
  if (secret.front() == '$') return parse_dollar(secret, limits);
  if (secret.front() == '{') return parse_braced(secret, limits);
  return plain_secret(secret);
}

}  // namespace tern::runtime::directory
