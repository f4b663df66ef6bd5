// runtime/bounce.hpp — the failure DSN (RFC 3461/3464) that the queue owes a sender when
// recipients fail permanently, as a message ready to be spooled like any other.
//
// Contract: make_failure_bounce(original, body, failed, hostname, id, now) returns
//   - a Bounce (envelope from the null reverse-path to the original sender, and the DSN
//     text from protocol/mail/dsn.hpp) when some recipient in `failed` asked for failure
//     notices (NOTIFY, RFC 3461's default included);
//   - nullopt with `error` empty when none is owed: the original sender is the null
//     reverse-path (a bounce is never bounced) or every failed recipient said NOTIFY=NEVER
//     or left FAILURE out;
//   - nullopt with `error` set when the DSN cannot be built (a malformed stored field).
// The status of each recipient is the enhanced code in its last reply ("550 5.1.1 ..."),
// else 5.0.0; the diagnostic is the reply itself. RET and ENVID come from the stored MAIL
// parameters, except that a message from a client that did not authenticate is returned as
// its headers only whatever RET asked (its sender may be forged: no backscatter of content), ORCPT
// from the stored RCPT parameters. When the original was submitted by an authenticated user, the
// bounce goes to that user's account if it is delivered locally (session.auth.must-match-sender, on
// by default, makes the sender address theirs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/mail/dsn.hpp"
#include "runtime/spool_format.hpp"

namespace tern::runtime {

struct Bounce {
  SpoolEnvelope envelope;
  std::string body;
};

// A recipient to report on and how (RFC 3464 §2.3.3): failed (its last reply is the
// diagnostic), delayed (still being tried until will_retry_until_unix), delivered (into
// the local store) or relayed (to a next hop that does not speak DSN).
struct ReportEntry {
  std::size_t index = 0;  // into original.recipients
  protocol::mail::Action action = protocol::mail::Action::failed;
};

// The general form of make_failure_bounce: one DSN for a mix of actions. Entries whose
// recipient did not ask for that kind of notice (NOTIFY) are left out; nullopt when none
// is left or the sender is <>. will_retry_until_unix is written for delayed entries.
std::optional<Bounce> make_report(const SpoolEnvelope& original, std::string_view original_body,
                                  const std::vector<ReportEntry>& entries,
                                  const std::string& hostname, std::string id,
                                  std::int64_t now_unix, std::int64_t will_retry_until_unix,
                                  std::string& error);

std::optional<Bounce> make_failure_bounce(const SpoolEnvelope& original,
                                          std::string_view original_body,
                                          const std::vector<std::size_t>& failed,
                                          const std::string& hostname, std::string id,
                                          std::int64_t now_unix, std::string& error);

}  // namespace tern::runtime
