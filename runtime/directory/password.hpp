// runtime/directory/password.hpp — checks a password against a stored secret.
//
// Contract:
// - verify(password, secret, limits) compares a password a client sent with the secret a
//   directory stores and returns a PasswordCheck. It never throws, never logs, and never
//   copies the password or the secret into its result: `scheme_name` names a known scheme
//   only ("6", "argon2id", "plain", "SSHA", else "unknown") and `reason` is a fixed phrase.
// - Stored secret forms (inspect_secret tells which one a secret is, without a password):
//     $6$[rounds=N$]salt$hash   SHA-512 crypt      (libxcrypt crypt_rn)
//     $5$[rounds=N$]salt$hash   SHA-256 crypt      (libxcrypt crypt_rn)
//     $2b$NN$... $2y$NN$... $2a$NN$...  bcrypt     (libxcrypt crypt_rn; $2a$ is accepted
//                               because libxcrypt computes it like $2b$ for every password
//                               under 256 bytes, and many tools still write it)
//     $argon2id$v=19$m=..,t=..,p=..$salt$hash and $argon2i$...   (libargon2, one thread)
//     anything not starting with '$' or '{', or "{PLAIN}..."      plain text
//     "{SCHEME}..." as Dovecot writes it: {PLAIN}, {CRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT},
//                               {BLF-CRYPT}, {ARGON2I}, {ARGON2ID} (case-insensitive); the
//                               hash after a named prefix must be of that scheme.
//   A plain-text password that starts with '$' or '{' must be written "{PLAIN}...".
// - Refused schemes (unsupported_scheme): $1$ md5-crypt (1000 MD5 rounds: a GPU tries
//   billions of guesses a second, so a leaked config is a leaked password; rehash with $6$
//   or argon2id), $2x$ (the buggy bcrypt), $y$ yescrypt and $7$ scrypt (their cost
//   parameters are not checked against limits yet), $argon2d$ (not meant for passwords),
//   any other $id$ or {SCHEME}. DES crypt cannot be told from plain text: it is plain text.
// - Verdicts: match; mismatch (wrong password, an empty password, a password longer than
//   limits.password_bytes_max, or one holding a NUL byte for a crypt(3) scheme);
//   unsupported_scheme; malformed (empty secret, secret longer than
//   limits.secret_bytes_max, a hash whose structure is wrong, or a cost above the limits:
//   SHA-crypt rounds, bcrypt cost, argon2 memory/time/lanes); failed (argon2 could not
//   allocate its memory). bcrypt uses only the first 72 bytes of a password, as every
//   bcrypt does.
// - Comparisons of the computed and stored hash, and of plain text, are constant time
//   (CRYPTO_memcmp; plain text compares SHA-256 digests so that the time does not depend on
//   where the first differing byte is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::runtime::directory {

struct PasswordLimits {
  std::size_t password_bytes_max = 256;  // crypt(3) takes at most 511
  std::size_t secret_bytes_max = 512;
  std::uint32_t sha_crypt_rounds_max = 1'000'000;  // libxcrypt's default is 5000
  std::uint32_t bcrypt_cost_max = 16;              // 2^16 rounds: about 4 s on one core
  std::uint32_t argon2_memory_kib_max = 262'144;   // 256 MiB per verification
  std::uint32_t argon2_time_max = 16;
  std::uint32_t argon2_lanes_max = 16;
};

// `failed`: the computation itself failed (argon2 could not allocate its memory): a
// temporary condition, unlike the others.
enum class Verdict { match, mismatch, unsupported_scheme, malformed, failed };

enum class Scheme { plain, sha512_crypt, sha256_crypt, bcrypt, argon2id, argon2i, other };

struct PasswordCheck {
  Verdict verdict = Verdict::malformed;
  Scheme scheme = Scheme::other;
  // The scheme's id as written in the secret ("6", "2b", "argon2id", "plain", "1", "SSHA"),
  // "unknown" for an id that is no known scheme (it could be a password's text), or "" when
  // the secret names none. Never any other part of the secret.
  std::string scheme_name;
  std::string_view reason;  // a fixed phrase for logs: "wrong password", "rounds above the limit"
};

// What a stored secret is, without a password, so that a directory can refuse bad secrets
// when it is built: usable when well-formed, supported and within the limits; otherwise
// `problem` is unsupported_scheme or malformed, with the reason.
struct SecretInfo {
  Scheme scheme = Scheme::other;
  std::string scheme_name;
  bool usable = false;
  Verdict problem = Verdict::malformed;
  std::string_view reason;
};

[[nodiscard]] PasswordCheck verify(std::string_view password, std::string_view secret,
                                   const PasswordLimits& limits = {});

[[nodiscard]] SecretInfo inspect_secret(std::string_view secret, const PasswordLimits& limits = {});

// True when `secret` is stored as plain text (no '$'/'{' prefix, or {PLAIN}), so that the
// configuration can warn about it.
[[nodiscard]] bool is_plain_text(std::string_view secret);

}  // namespace tern::runtime::directory
