// protocol/sasl/client.hpp — client side of the SASL mechanisms (SMTP relay auth, IMAP).
//
// Contract:
// - Client::create(mechanism, credentials, limits) checks the credentials the mechanism
//   uses and fails (offset 0, a phrase naming the field) when the server would have to
//   reject them or the message could not carry them: a required field empty or over its
//   limit, a NUL, malformed UTF-8 in an identity, a ^A in an XOAUTH2 user, a token that is
//   not an RFC 6750 b64token, a host with characters RFC 7628 forbids. Unknown names fail.
// - initial_response(): the message to send with AUTH / AUTHENTICATE for PLAIN, XOAUTH2 and
//   OAUTHBEARER, and from then on the client counts it as sent. std::nullopt for LOGIN and
//   CRAM-MD5 (server-first), and once the exchange has begun. A caller that cannot or will
//   not send an initial response never calls it and answers the first (empty) challenge.
// - respond(challenge): the answer to one DECODED server challenge. PLAIN, XOAUTH2 and
//   OAUTHBEARER answer an empty first challenge with their message; LOGIN answers the first
//   challenge with the username and the second with the password, whatever their text;
//   CRAM-MD5 answers a non-empty challenge with "user HMAC-MD5-hex". After an OAuth message
//   a challenge is the server's JSON error: the client keeps it (server_error()) and answers
//   "" (XOAUTH2) or "\x01" (OAUTHBEARER) so the server can finish with a failure. Any other
//   challenge, or one over limits.challenge_bytes_max, is the server's fault: an Error, and
//   the client accepts nothing more.
// - is_finished(): the client has nothing more to send (the final reply is the server's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"
#include "protocol/sasl/mechanism.hpp"
#include "protocol/sasl/messages.hpp"

namespace tern::protocol::sasl {

struct ClientCredentials {
  std::string authzid{};                // PLAIN, OAUTHBEARER: identity to act as; empty: none
  std::string username{};               // PLAIN, LOGIN, CRAM-MD5: authcid; XOAUTH2: user=
  std::string password{};               // PLAIN, LOGIN: password; CRAM-MD5: the shared secret
  std::string token{};                  // XOAUTH2, OAUTHBEARER: the bearer token
  std::string host{};                   // OAUTHBEARER host=, optional
  std::optional<std::uint16_t> port{};  // OAUTHBEARER port=, optional
};

class Client {
 public:
  static Result<Client> create(Mechanism m, ClientCredentials credentials, Limits limits = {});
  static Result<Client> create(std::string_view mechanism, ClientCredentials credentials,
                               Limits limits = {});

  Mechanism mechanism() const { return mechanism_; }
  std::optional<std::string> initial_response();
  Result<std::string> respond(std::string_view challenge);
  bool is_finished() const { return stage_ == Stage::finished; }
  const std::string& server_error() const { return server_error_; }

 private:
  enum class Stage { idle, message_sent, username_sent, finished };
  Client(Mechanism m, ClientCredentials credentials, Limits limits)
      : mechanism_(m), credentials_(std::move(credentials)), limits_(limits) {}
  std::string message() const;
  Stage after_message() const;
  Result<std::string> respond_client_first(std::string_view challenge);
  Result<std::string> respond_login(std::string_view challenge);
  Result<std::string> respond_cram_md5(std::string_view challenge);
  Error unexpected(std::string_view why);

  Mechanism mechanism_;
  ClientCredentials credentials_;
  Limits limits_;
  Stage stage_ = Stage::idle;
  std::string server_error_;
};

}  // namespace tern::protocol::sasl
