#include "protocol/sasl/messages.hpp"

#include <array>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl {
namespace {

bool is_lower_hex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<Error> check_field(std::string_view value, std::size_t bytes_max, bool required,
                                 std::size_t offset, std::string_view what) {
  const std::string name(what);
  if (required && value.empty()) return fail(offset, name + " is empty");
  if (value.size() > bytes_max) return fail(offset + bytes_max, name + " is too long");
  if (value.find('\0') != std::string_view::npos) {
    return fail(offset + value.find('\0'), name + " contains NUL");
  }
  if (!is_utf8(value)) return fail(offset, name + " is not valid UTF-8");
  return std::nullopt;
}

std::string encode_plain(const PlainMessage& m) {
  std::string out;
  out.reserve(m.authzid.size() + m.authcid.size() + m.password.size() + 2);
  out += m.authzid;
  out += '\0';
  out += m.authcid;
  out += '\0';
  out += m.password;
  return out;
}

Result<PlainMessage> parse_plain(std::string_view message, const Limits& limits) {
  if (message.size() > limits.message_bytes_max) {
    return fail(limits.message_bytes_max, "PLAIN message is too long");
  }
  const std::size_t first = message.find('\0');
  if (first == std::string_view::npos) return fail(message.size(), "PLAIN message has no NUL");
  const std::size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos)
    return fail(message.size(), "PLAIN message has only one NUL");
  const std::string_view authzid = message.substr(0, first);
  const std::string_view authcid = message.substr(first + 1, second - first - 1);
  const std::string_view password = message.substr(second + 1);
  if (password.find('\0') != std::string_view::npos) {
    return fail(second + 1 + password.find('\0'), "PLAIN message has more than two NULs");
  }
  if (auto e = check_field(authzid, limits.authzid_bytes_max, false, 0, "authorization identity"))
    return *e;
  if (auto e = check_field(authcid, limits.authcid_bytes_max, true, first + 1,
                           "authentication identity")) {
    return *e;
  }
  if (auto e = check_field(password, limits.password_bytes_max, true, second + 1, "password"))
    return *e;
  return PlainMessage{std::string(authzid), std::string(authcid), std::string(password)};
}

std::string cram_md5_digest_hex(std::string_view secret, std::string_view challenge) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  // HMAC() with a null key pointer misbehaves for an empty key on some builds; a one-byte
  // buffer with length 0 is the same key.
  static constexpr unsigned char kEmptyKey[1] = {0};
  const void* key = secret.empty() ? kEmptyKey : static_cast<const void*>(secret.data());
  const auto* data = reinterpret_cast<const unsigned char*>(challenge.data());
  HMAC(EVP_md5(), key, static_cast<int>(secret.size()), challenge.empty() ? kEmptyKey : data,
       challenge.size(), mac.data(), &mac_size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{2} * mac_size);
  for (unsigned int i = 0; i < mac_size; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

bool is_cram_md5_challenge(std::string_view challenge, const Limits& limits) {
  if (challenge.size() < 5 || challenge.size() > limits.challenge_bytes_max) return false;
  if (challenge.front() != '<' || challenge.back() != '>') return false;
  const std::string_view inner = challenge.substr(1, challenge.size() - 2);
  const std::size_t at = inner.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == inner.size()) return false;
  for (const char c : inner) {
    if (c <= ' ' || c >= 0x7F || c == '<' || c == '>') return false;
  }
  return true;
}

std::string encode_cram_md5(const CramMd5Response& r) {
  return r.username + ' ' + r.digest_hex;
}

Result<CramMd5Response> parse_cram_md5(std::string_view message, const Limits& limits) {
  if (message.size() > limits.message_bytes_max) {
    return fail(limits.message_bytes_max, "CRAM-MD5 response is too long");
  }
  const std::size_t space = message.rfind(' ');
  if (space == std::string_view::npos) return fail(0, "CRAM-MD5 response has no space");
  const std::string_view username = message.substr(0, space);
  const std::string_view digest = message.substr(space + 1);
  if (auto e = check_field(username, limits.authcid_bytes_max, true, 0, "username")) return *e;
  if (digest.size() != 32) return fail(space + 1, "CRAM-MD5 digest is not 32 hex digits");
  if (!is_lower_hex(digest)) return fail(space + 1, "CRAM-MD5 digest is not lower-case hex");
  return CramMd5Response{std::string(username), std::string(digest)};
}

std::string encode_xoauth2(const Xoauth2Message& m) {
  return "user=" + m.user +
         "\x01"
         "auth=Bearer " +
         m.token + "\x01\x01";
}

Result<Xoauth2Message> parse_xoauth2(std::string_view message, const Limits& limits) {
  if (message.size() > limits.message_bytes_max) {
    return fail(limits.message_bytes_max, "XOAUTH2 message is too long");
  }
  if (!message.starts_with("user=")) return fail(0, "XOAUTH2 message does not start with user=");
  const std::size_t user_end = message.find('\x01', 5);
  if (user_end == std::string_view::npos)
    return fail(message.size(), "XOAUTH2 user is not terminated");
  const std::string_view user = message.substr(5, user_end - 5);
  if (auto e = check_field(user, limits.authcid_bytes_max, true, 5, "user")) return *e;
  const std::size_t auth = user_end + 1;
  const std::string_view rest = message.substr(auth);
  if (!rest.starts_with("auth=") || rest.size() < 12 || !iequals(rest.substr(5, 7), "Bearer ")) {
    return fail(auth, "XOAUTH2 message lacks auth=Bearer");
  }
  const std::size_t token_at = auth + 12;
  const std::size_t token_end = message.find('\x01', token_at);
  if (token_end == std::string_view::npos)
    return fail(message.size(), "XOAUTH2 token is not terminated");
  const std::string_view token = message.substr(token_at, token_end - token_at);
  if (token.size() > limits.token_bytes_max)
    return fail(token_at + limits.token_bytes_max, "token is too long");
  if (!is_b64token(token)) return fail(token_at, "token is not a b64token");
  if (message.substr(token_end) != "\x01\x01")
    return fail(token_end + 1, "XOAUTH2 message does not end with ^A^A");
  return Xoauth2Message{std::string(user), std::string(token)};
}

}  // namespace tern::protocol::sasl
