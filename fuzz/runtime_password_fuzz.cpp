// Fuzzes stored-secret parsing against the hashing libraries. Input: password, a NUL byte,
// then the stored secret. Invariants: verify never says malformed or unsupported for a
// secret that inspect_secret called usable (the parser accepts nothing libxcrypt or
// libargon2 refuse), a usable plain-text secret matches its own text, and verify agrees
// with inspect_secret on every refused secret.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/directory/password.hpp"
#include "runtime/directory/secret_format.hpp"

using namespace tern::runtime::directory;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t split = in.find('\0');
  if (split == std::string_view::npos) return 0;
  const std::string_view password = in.substr(0, split);
  const std::string_view secret = in.substr(split + 1);
  PasswordLimits limits;  // small costs so that one input stays fast
  limits.sha_crypt_rounds_max = 2000;
  limits.bcrypt_cost_max = 5;
  limits.argon2_memory_kib_max = 256;
  limits.argon2_time_max = 2;
  limits.argon2_lanes_max = 4;
  const SecretInfo info = inspect_secret(secret, limits);
  const PasswordCheck check = verify(password, secret, limits);
  if (!info.usable) {
    if (check.verdict != info.problem || check.reason != info.reason) abort();
    return 0;
  }
  if (check.verdict != Verdict::match && check.verdict != Verdict::mismatch) abort();
  if (info.scheme == Scheme::plain) {
    ParsedSecret parsed = parse_secret(secret, limits);
    if (!parsed.plain.empty() && parsed.plain.size() <= limits.password_bytes_max &&
        verify(parsed.plain, secret, limits).verdict != Verdict::match) {
      abort();
    }
  }
  if (is_plain_text(secret) != (info.scheme == Scheme::plain)) abort();
  return 0;
}
