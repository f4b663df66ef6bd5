// runtime/directory/secret_format.hpp — the structure of stored secrets, parsed without
// computing any hash (the part of password.hpp that needs no library).
//
// Contract:
// - parse_secret(secret, limits) strips a Dovecot {SCHEME} prefix, names the scheme and
//   checks the whole structure: SHA-crypt (rounds 1000..limit, salt 1..16 characters of
//   [./0-9A-Za-z], hash of 86 or 43 such characters), bcrypt (cost 04..limit, 53 characters
//   of salt and hash), argon2i/argon2id (v=16 or v=19 or absent meaning 16, m,t,p in this
//   order, decimal without leading zeros, m >= 8*p, unpadded base64 salt of 8..64 bytes and
//   hash of 4..64 bytes, canonical trailing bits). It returns a ParsedSecret whose `ok` is
//   true when the secret can be verified; otherwise verdict and reason say why not.
// - It never allocates for the secret's text: `crypt_setting`, `plain` and the argon2
//   salt/hash views point into the caller's `secret`, which must outlive the result.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/directory/password.hpp"

namespace tern::runtime::directory {

struct Argon2Params {
  std::uint32_t version = 0x13;
  std::uint32_t memory_kib = 0;
  std::uint32_t time = 0;
  std::uint32_t lanes = 0;
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> hash;
};

struct ParsedSecret {
  bool ok = false;
  Verdict verdict = Verdict::malformed;  // when !ok: unsupported_scheme or malformed
  std::string_view reason;
  Scheme scheme = Scheme::other;
  std::string scheme_name;
  std::string_view plain;          // Scheme::plain: the password text
  std::string_view crypt_setting;  // SHA-crypt and bcrypt: the whole "$id$..." hash
  Argon2Params argon2;             // argon2i, argon2id
};

[[nodiscard]] ParsedSecret parse_secret(std::string_view secret, const PasswordLimits& limits);

// Strict unpadded base64 (RFC 4648 alphabet, as argon2 writes it); false when `text` is
// not the canonical encoding of some bytes.
[[nodiscard]] bool decode_base64_unpadded(std::string_view text, std::vector<std::uint8_t>& out);

}  // namespace tern::runtime::directory
