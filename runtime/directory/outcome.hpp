// runtime/directory/outcome.hpp — what any directory answers (memory today; imap, smtp,
// lmtp and SQL later), and the SMTP reply a policy stage gives for each answer.
//
// Contract:
// - AuthOutcome: authenticated (with the principal's name and addresses), rejected (wrong
//   or unknown credentials: the client may not learn which, so `reason` is for logs only),
//   or unavailable (the directory could not answer now: a remote directory down, or a hash
//   that could not be computed for lack of memory).
// - RecipientOutcome: local (with the principal), unknown, or unavailable.
// - SenderOutcome: allowed (the address is one of the principal's), not_owned, or
//   unavailable.
// - smtp_reply(outcome) never fails; its texts are fixed and never echo user input:
//     authenticated 235 2.7.0   rejected 535 5.7.8   unavailable 454 4.7.0   (RFC 4954)
//     local 250 2.1.5           unknown 550 5.1.1    unavailable 451 4.4.3   (RFC 3463)
//     allowed 250 2.1.0         not_owned 553 5.7.1  unavailable 451 4.4.3
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tern::runtime::directory {

enum class AuthStatus { authenticated, rejected, unavailable };

struct AuthOutcome {
  AuthStatus status = AuthStatus::rejected;
  std::string principal;               // authenticated only
  std::vector<std::string> addresses;  // authenticated only: lowercased, in config order
  std::string reason;                  // for logs: "unknown user", "wrong password" ...
};

enum class RecipientStatus { local, unknown, unavailable };

struct RecipientOutcome {
  RecipientStatus status = RecipientStatus::unknown;
  std::string principal;  // local only
};

enum class SenderStatus { allowed, not_owned, unavailable };

struct SenderOutcome {
  SenderStatus status = SenderStatus::not_owned;
};

struct SmtpReply {
  int code = 0;
  std::string_view enhanced;  // "5.7.8"
  std::string_view text;

  friend bool operator==(const SmtpReply&, const SmtpReply&) = default;
};

[[nodiscard]] SmtpReply smtp_reply(const AuthOutcome& outcome);
[[nodiscard]] SmtpReply smtp_reply(const RecipientOutcome& outcome);
[[nodiscard]] SmtpReply smtp_reply(const SenderOutcome& outcome);

}  // namespace tern::runtime::directory
