#include "runtime/directory/password.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "runtime/directory/secret_format.hpp"

namespace tern::runtime::directory {
namespace {

// A copy of the password that is wiped when it goes out of scope, so that no freed heap
// block keeps it.
class Scratch {
 public:
  explicit Scratch(std::size_t bytes) : data_(bytes, 0) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { OPENSSL_cleanse(data_.data(), data_.size()); }
  unsigned char* data() { return data_.data(); }
  std::size_t size() const { return data_.size(); }

 private:
  std::vector<unsigned char> data_;
};

PasswordCheck result(Verdict verdict, const ParsedSecret& parsed, std::string_view reason) {
  return PasswordCheck{verdict, parsed.scheme, parsed.scheme_name, reason};
}

PasswordCheck compared(bool equal, const ParsedSecret& parsed) {
  return equal ? result(Verdict::match, parsed, "password matches")
               : result(Verdict::mismatch, parsed, "wrong password");
}

// Digests first, so the time of the comparison does not depend on the length of the common
// prefix or on where the texts differ.
PasswordCheck verify_plain(std::string_view password, const ParsedSecret& parsed) {
  unsigned char given[SHA256_DIGEST_LENGTH];
  unsigned char stored[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(password.data()), password.size(), given);
  SHA256(reinterpret_cast<const unsigned char*>(parsed.plain.data()), parsed.plain.size(), stored);
  const bool equal = CRYPTO_memcmp(given, stored, sizeof given) == 0;
  OPENSSL_cleanse(given, sizeof given);
  OPENSSL_cleanse(stored, sizeof stored);
  return compared(equal, parsed);
}

PasswordCheck verify_crypt(std::string_view password, const ParsedSecret& parsed) {
  // crypt(3) reads C strings: a NUL would silently cut the password short.
  if (password.find('\0') != std::string_view::npos) {
    return result(Verdict::mismatch, parsed, "password holds a NUL byte");
  }
  if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) {
    return result(Verdict::mismatch, parsed, "password longer than crypt(3) takes");
  }
  Scratch phrase(password.size() + 1);
  std::copy(password.begin(), password.end(), phrase.data());
  const std::string setting(parsed.crypt_setting);
  auto data = std::make_unique<crypt_data>();  // 32 KiB: too big for the stack
  const char* out = crypt_rn(reinterpret_cast<const char*>(phrase.data()), setting.c_str(),
                             data.get(), static_cast<int>(sizeof(crypt_data)));
  bool equal = false;
  const bool computed = out != nullptr && out[0] != '*';
  if (computed) {
    const std::string_view hash(out);
    equal = hash.size() == setting.size() &&
            CRYPTO_memcmp(hash.data(), setting.data(), hash.size()) == 0;
  }
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  if (!computed) return result(Verdict::malformed, parsed, "libxcrypt refused the hash");
  return compared(equal, parsed);
}

PasswordCheck verify_argon2(std::string_view password, const ParsedSecret& parsed) {
  const Argon2Params& a = parsed.argon2;
  Scratch phrase(password.size());
  std::copy(password.begin(), password.end(), phrase.data());
  std::vector<std::uint8_t> salt = a.salt;
  std::vector<std::uint8_t> out(a.hash.size());
  argon2_context ctx{};
  ctx.out = out.data();
  ctx.outlen = static_cast<std::uint32_t>(out.size());
  ctx.pwd = phrase.data();
  ctx.pwdlen = static_cast<std::uint32_t>(phrase.size());
  ctx.salt = salt.data();
  ctx.saltlen = static_cast<std::uint32_t>(salt.size());
  ctx.t_cost = a.time;
  ctx.m_cost = a.memory_kib;
  ctx.lanes = a.lanes;
  ctx.threads = 1;  // lanes fix the result; threads only speed it up, and runtime/ starts none
  ctx.version = a.version;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  const int rc = argon2_ctx(&ctx, parsed.scheme == Scheme::argon2id ? Argon2_id : Argon2_i);
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
    return result(Verdict::failed, parsed, "argon2 is out of memory");
  if (rc != ARGON2_OK)
    return result(Verdict::malformed, parsed, "libargon2 refused the parameters");
  const bool equal = CRYPTO_memcmp(out.data(), a.hash.data(), out.size()) == 0;
  OPENSSL_cleanse(out.data(), out.size());
  return compared(equal, parsed);
}

}  // namespace

PasswordCheck verify(std::string_view password, std::string_view secret,
                     const PasswordLimits& limits) {
  ParsedSecret parsed = parse_secret(secret, limits);
  if (!parsed.ok) return result(parsed.verdict, parsed, parsed.reason);
  // Checked after the secret so that a broken secret is reported whatever the password.
  if (password.empty()) return result(Verdict::mismatch, parsed, "empty password");
  if (password.size() > limits.password_bytes_max) {
    return result(Verdict::mismatch, parsed, "password longer than the limit");
  }
  switch (parsed.scheme) {
    case Scheme::plain: return verify_plain(password, parsed);
    case Scheme::sha512_crypt:
    case Scheme::sha256_crypt:
    case Scheme::bcrypt: return verify_crypt(password, parsed);
    case Scheme::argon2id:
    case Scheme::argon2i: return verify_argon2(password, parsed);
    case Scheme::other: break;
  }
  return result(Verdict::unsupported_scheme, parsed, "unknown scheme");
}

SecretInfo inspect_secret(std::string_view secret, const PasswordLimits& limits) {
  ParsedSecret parsed = parse_secret(secret, limits);
  SecretInfo info;
  info.scheme = parsed.scheme;
  info.scheme_name = parsed.scheme_name;
  info.usable = parsed.ok;
  info.problem = parsed.ok ? Verdict::match : parsed.verdict;
  info.reason = parsed.ok ? std::string_view("usable") : parsed.reason;
  return info;
}

bool is_plain_text(std::string_view secret) {
  if (secret.empty()) return false;
  if (secret.front() != '$' && secret.front() != '{') return true;
  constexpr std::string_view kPrefix = "{plain}";
  if (secret.size() < kPrefix.size()) return false;
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    char c = secret[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kPrefix[i]) return false;
  }
  return true;
}

}  // namespace tern::runtime::directory
