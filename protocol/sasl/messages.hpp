// protocol/sasl/messages.hpp — the decoded client messages of each mechanism: build and parse.
//
// Contract: pure functions on decoded bytes (the base64 of the wire is wire.hpp's business).
// Every parse_* checks the whole message against `Limits` and returns the fields or an Error
// whose offset indexes the message and whose message names the rule broken; a parsed value
// always satisfies what the matching encode_* needs, so encode(parse(m)) == m for canonical
// messages and parse(encode(v)) == v for valid values. The encode_* functions do not
// validate: the client checks credentials before it builds (client.hpp).
// - PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd; exactly two NULs; authcid and passwd
//   non-empty; every field well-formed UTF-8 within its limit.
// - CRAM-MD5 (RFC 2195): username SP 32 lower-case hex digits; the username is what comes
//   before the last space (non-empty UTF-8, authcid limit). cram_md5_digest_hex computes
//   HMAC-MD5(secret, challenge) in lower-case hex with OpenSSL's libcrypto.
//   is_cram_md5_challenge accepts "<" 1*(printable ASCII but "<" ">") "@" ... ">" as RFC 2195
//   requires (a msg-id), within challenge_bytes_max.
// - XOAUTH2 (Google): "user=" user ^A "auth=Bearer " token ^A ^A; the scheme matches
//   case-insensitively; the user is non-empty UTF-8 (authcid limit); the token is a
//   b64token (token limit).
// - OAUTHBEARER (RFC 7628 §3.1): gs2-header ^A *(key "=" value ^A) ^A with gs2-header
//   "n,"|"y," [ "a=" saslname ] ","; "=2C" and "=3D" are the only escapes; keys are
//   1*ALPHA and appear at most once; "auth" is required and is "Bearer " b64token; "host" and
//   "port" (decimal 0-65535) are optional; other keys are ignored; at most
//   bearer_pairs_max pairs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"

namespace tern::protocol::sasl {

// Every length a mechanism reads has a limit here; defaults follow common server practice
// (255 for identities, 1024 for passwords, 4 KiB for OAuth tokens).
struct Limits {
  std::size_t authzid_bytes_max = 255;
  std::size_t authcid_bytes_max = 255;
  std::size_t password_bytes_max = 1024;
  std::size_t token_bytes_max = 4096;
  std::size_t host_bytes_max = 255;
  std::size_t bearer_pairs_max = 8;
  std::size_t challenge_bytes_max = 512;  // CRAM-MD5 challenge, in either direction
  std::size_t message_bytes_max = 8192;   // one whole decoded client message, checked first
};

struct PlainMessage {
  std::string authzid;  // empty: act as authcid
  std::string authcid;
  std::string password;
  friend bool operator==(const PlainMessage&, const PlainMessage&) = default;
};

struct CramMd5Response {
  std::string username;
  std::string digest_hex;  // 32 lower-case hex digits
  friend bool operator==(const CramMd5Response&, const CramMd5Response&) = default;
};

struct Xoauth2Message {
  std::string user;
  std::string token;
  friend bool operator==(const Xoauth2Message&, const Xoauth2Message&) = default;
};

struct OauthBearerMessage {
  std::string authzid;  // unescaped; empty when the gs2 header has none
  std::string host;     // empty when absent
  std::optional<std::uint16_t> port;
  std::string token;
  friend bool operator==(const OauthBearerMessage&, const OauthBearerMessage&) = default;
};

std::string encode_plain(const PlainMessage& m);
Result<PlainMessage> parse_plain(std::string_view message, const Limits& limits);

std::string cram_md5_digest_hex(std::string_view secret, std::string_view challenge);
bool is_cram_md5_challenge(std::string_view challenge, const Limits& limits);
std::string encode_cram_md5(const CramMd5Response& r);
Result<CramMd5Response> parse_cram_md5(std::string_view message, const Limits& limits);

std::string encode_xoauth2(const Xoauth2Message& m);
Result<Xoauth2Message> parse_xoauth2(std::string_view message, const Limits& limits);

std::string gs2_escape(std::string_view name);
std::string encode_oauthbearer(const OauthBearerMessage& m);
Result<OauthBearerMessage> parse_oauthbearer(std::string_view message, const Limits& limits);

// Checks one identity or secret field: non-empty when required, within `bytes_max`, no NUL,
// well-formed UTF-8. `what` names the field in the error; `offset` is where it starts.
std::optional<Error> check_field(std::string_view value, std::size_t bytes_max, bool required,
                                 std::size_t offset, std::string_view what);

}  // namespace tern::protocol::sasl
