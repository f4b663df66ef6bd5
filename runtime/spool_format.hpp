// runtime/spool_format.hpp — the envelope file of a spooled message: who sent it, from
// where, and every recipient with its delivery state. The body is stored beside it as the
// bytes received (with our Received header first); the Io treats both as opaque.
//
// Contract:
// - serialize_envelope(e) gives a text of `key value...` lines, one fact per line, every
//   value percent-encoded (bytes <= 0x20, '%' and 0x7F as %XX) so that no value can break
//   a line or a field; the first line names the format version and the last line is
//   `end`. parse_envelope(serialize_envelope(e)) == e for every envelope within the limits.
// - parse_envelope(text) reads that format and fails (a Result error with the offset and a
//   message) on an unknown version, an unknown key, a missing required key (id, received,
//   from), a malformed number or escape, a missing `end`, anything after it, or any limit
//   exceeded (envelope_bytes_max, recipients_max). Unknown recipient states fail: a file
//   written by a newer Tern is not silently misread.
// - Recipient state: pending (to be delivered; next_attempt_unix is when), delivered, or
//   failed (permanently; a DSN is owed when dsn_sent is false). A delivered recipient that
//   asked for NOTIFY=SUCCESS owes a success notice while success_notice is not none.
// - Lines added after version 1's first form, all optional so older files still read:
//   `held`, `delay-notices` (envelope), and after a `rcpt` line its `route`, `notice` and
//   up to kAttemptHistoryMax `attempt` lines (time, route, host, reply).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"

namespace tern::runtime {

enum class RecipientState { pending, delivered, failed };
// The success DSN a delivered recipient still owes (RFC 3464 §2.3.3 actions).
enum class SuccessNotice { none, delivered, relayed };

inline constexpr std::size_t kAttemptHistoryMax = 8;

// One delivery attempt of one recipient, for `tern queue show`.
struct AttemptRecord {
  std::int64_t at_unix = 0;
  std::string route;  // "local", "remote relay", "mx example.org"
  std::string host;   // "mx1.example.org 192.0.2.7:25", "127.0.0.1:25"; "" when none
  std::string reply;  // "250 2.0.0 queued as X", "connect 192.0.2.7:25: Connection refused"
  friend bool operator==(const AttemptRecord&, const AttemptRecord&) = default;
};

struct SpoolRecipient {
  std::string address;  // as received, without angle brackets
  std::string params;   // RCPT parameters as received (NOTIFY=..., ORCPT=...)
  std::string account;  // the local principal when the directory knew it, else ""
  RecipientState state = RecipientState::pending;
  std::int64_t next_attempt_unix = 0;
  std::uint32_t attempts = 0;
  std::string last_reply;  // the last outcome, for `tern queue show` and DSNs
  bool dsn_sent = false;
  SuccessNotice success_notice = SuccessNotice::none;
  std::string route;                   // the route of the last attempt
  std::vector<AttemptRecord> history;  // oldest first, at most kAttemptHistoryMax

  friend bool operator==(const SpoolRecipient&, const SpoolRecipient&) = default;
};

struct SpoolEnvelope {
  std::string id;
  std::int64_t received_unix = 0;
  std::string sender;         // "" for the null reverse-path
  std::string sender_params;  // MAIL parameters as received (BODY=, SMTPUTF8, RET=, ENVID=)
  std::string listener;
  std::string remote_ip;
  std::string local_ip;
  std::string helo;
  std::string authenticated_as;
  std::uint64_t body_bytes = 0;
  bool held = false;                     // `tern queue hold`: no new attempt until released
  std::uint32_t delay_notices_sent = 0;  // queue.schedule.notify steps already sent
  std::vector<SpoolRecipient> recipients;

  friend bool operator==(const SpoolEnvelope&, const SpoolEnvelope&) = default;
};

struct EnvelopeLimits {
  std::size_t envelope_bytes_max = std::size_t{4} * 1024 * 1024;
  std::size_t recipients_max = 100'000;
};

std::string_view to_string(RecipientState state);
// Whether some recipient is still to be delivered (state pending).
bool any_pending(const SpoolEnvelope& envelope);
// A queue id: 16 upper-case hex digits of a random 64-bit value (the spool's file names).
[[nodiscard]] std::string queue_id_from(std::uint64_t random);
[[nodiscard]] std::string serialize_envelope(const SpoolEnvelope& envelope);
[[nodiscard]] protocol::Result<SpoolEnvelope> parse_envelope(std::string_view text,
                                                             const EnvelopeLimits& limits = {});

}  // namespace tern::runtime
