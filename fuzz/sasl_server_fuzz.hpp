// fuzz/sasl_server_fuzz.hpp — the driver the five SASL server fuzz targets share.
//
// Input: byte 0 chooses the initial response (bit 0), small limits (bit 1) and whether to
// try a misuse call at every step (bit 2); byte 1 supplies the application's decisions, two
// bits per Verify (accept, reject, unavailable, misuse then reject), and bit 3 of byte 0
// makes an empty message stand for "*"; the rest is the client's messages,
// decoded, separated by "\xff\xff" (0xFF never occurs in UTF-8, so real messages fit).
//
// Invariants checked on top of "no crash, no sanitizer report":
// - the driver only makes calls the machine's phase allows, so none returns a Misuse;
//   a deliberate misuse returns one and leaves the phase unchanged; after the end every
//   call returns Misuse::finished;
// - credentials in a Verify respect the limits, and re-encoding them reproduces a message
//   that parses to the same credentials (for PLAIN and CRAM-MD5, the very input);
// - Success only follows an accepted Verify (CRAM-MD5: a secret whose HMAC matches);
//   a Failure that is not the client's fault only follows unavailable().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.hpp"
#include "protocol/sasl/messages.hpp"
#include "protocol/sasl/server.hpp"
#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl::fuzz {

inline void require(bool ok, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  tern::fuzz::check(ok, file, line);
}

inline std::vector<std::string_view> split_messages(std::string_view rest) {
  std::vector<std::string_view> out;
  while (out.size() < 16) {
    const std::size_t sep = rest.find("\xff\xff");
    out.push_back(rest.substr(0, sep));
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 2);
  }
  return out;
}

inline void check_field_ok(std::string_view v, std::size_t max, bool required) {
  require(!check_field(v, max, required, 0, "x").has_value());
}

// Checks one Verify against the message that produced it.
inline void check_verify(Mechanism m, const Verify& v, std::string_view message, const Limits& l) {
  if (const auto* p = std::get_if<PasswordCredentials>(&v.credentials)) {
    check_field_ok(p->authzid, l.authzid_bytes_max, false);
    check_field_ok(p->authcid, l.authcid_bytes_max, true);
    check_field_ok(p->password, l.password_bytes_max, true);
    if (m == Mechanism::plain)
      require(encode_plain({p->authzid, p->authcid, p->password}) == message);
    if (m == Mechanism::login) require(p->authzid.empty() && p->password == message);
    return;
  }
  if (const auto* s = std::get_if<SecretRequest>(&v.credentials)) {
    check_field_ok(s->username, l.authcid_bytes_max, true);
    require(message.substr(0, s->username.size() + 1) == s->username + " ");
    return;
  }
  const auto& b = std::get<BearerCredentials>(v.credentials);
  require(is_b64token(b.token) && b.token.size() <= l.token_bytes_max);
  if (m == Mechanism::xoauth2) {
    auto again = parse_xoauth2(encode_xoauth2({b.authzid, b.token}), l);
    require(again.has_value() && again->user == b.authzid && again->token == b.token);
  } else {
    const OauthBearerMessage o{b.authzid, b.host, b.port, b.token};
    auto again = parse_oauthbearer(encode_oauthbearer(o), Limits{});
    require(again.has_value() && *again == o);
  }
}

inline void check_all_finished(Server& s) {
  require(s.start(std::nullopt).error() == Misuse::finished);
  require(s.step("x").error() == Misuse::finished);
  require(s.cancel().error() == Misuse::finished);
  require(s.verified(true).error() == Misuse::finished);
  require(s.supply_secret("x").error() == Misuse::finished);
  require(s.unavailable().error() == Misuse::finished);
}

// A call the current phase forbids must fail and change nothing.
inline void try_misuse(Server& s) {
  const Phase before = s.phase();
  if (before == Phase::awaiting_response) {
    require(s.verified(true).error() == Misuse::not_awaiting_decision);
    require(s.start(std::nullopt).error() == Misuse::already_started);
  } else if (before == Phase::awaiting_decision) {
    require(s.step("x").error() == Misuse::not_awaiting_response);
    require(s.cancel().error() == Misuse::not_awaiting_response);
  }
  require(s.phase() == before);
}

inline constexpr std::string_view kFuzzChallenge = "<1896.697170952@postoffice.reston.mci.net>";

// Gives the application's decision for one Verify; returns the step and whether an
// accepted Verify (or a matching CRAM-MD5 secret) preceded it.
inline StepResult decide(Server& s, Mechanism m, const Verify& v, unsigned choice,
                         std::string_view message, bool& accepted, bool& unavailable) {
  if (choice == 2) {
    unavailable = true;
    return s.unavailable();
  }
  if (choice == 3) require(s.cancel().error() == Misuse::not_awaiting_response);
  if (m == Mechanism::cram_md5) {
    if (choice == 3) return s.supply_secret(std::nullopt);  // unknown user
    const std::string secret = choice == 0 ? "tanstaaftanstaaf" : "wrong";
    const std::string digest(message.substr(message.rfind(' ') + 1));
    accepted = cram_md5_digest_hex(secret, kFuzzChallenge) == digest;
    require(s.verified(true).error() == Misuse::wrong_decision);
    return s.supply_secret(secret);
  }
  (void)v;
  accepted = choice == 0;
  return s.verified(choice == 0);
}

inline int run_server(Mechanism m, const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned flags = data[0];
  unsigned decisions = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  ServerConfig config;
  if (flags & 2) {
    config.limits = Limits{.authzid_bytes_max = 4,
                           .authcid_bytes_max = 5,
                           .password_bytes_max = 6,
                           .token_bytes_max = 7,
                           .host_bytes_max = 8,
                           .bearer_pairs_max = 2,
                           .challenge_bytes_max = 64,
                           .message_bytes_max = 48};
  }
  config.cram_md5_challenge = std::string(kFuzzChallenge);
  config.oauth = {"scope", "https://example.com/.well-known/openid-configuration"};
  Server s(m, config);
  const auto messages = split_messages(rest);
  std::size_t next = 0;
  bool accepted = false;
  bool unavailable = false;
  std::string_view last_message;
  std::optional<std::string_view> initial_response;
  if (flags & 1) {
    last_message = messages[next++];
    initial_response = last_message;
  }
  StepResult r = s.start(initial_response);
  for (int round = 0; round < 40; ++round) {
    require(r.has_value());
    if (flags & 4) try_misuse(s);
    if (std::holds_alternative<Success>(*r)) {
      require(accepted);
      break;
    }
    if (const auto* f = std::get_if<Failure>(&*r)) {
      require(f->client_fault != unavailable);
      break;
    }
    if (const auto* v = std::get_if<Verify>(&*r)) {
      check_verify(m, *v, last_message, config.limits);
      const unsigned choice = decisions & 3;
      decisions >>= 2;
      r = decide(s, m, *v, choice, last_message, accepted, unavailable);
      continue;
    }
    if (next >= messages.size()) return 0;
    last_message = messages[next++];
    // With bit 3 set an empty message stands for the client's "*".
    r = (flags & 8) && last_message.empty() ? s.cancel() : s.step(last_message);
  }
  require(s.is_finished());
  check_all_finished(s);
  return 0;
}

}  // namespace tern::protocol::sasl::fuzz
