// cmd/common/queue_render.hpp — what `tern queue list|show` prints: pure functions from
// the queue's views (runtime/queue_admin.hpp) to text. ternd's control server renders with
// them, so the daemon and the CLI never disagree on a format; they read no clock (the
// caller passes `now_unix`) and do no IO.
//
// Contract:
// - render_list(views, now, json=false): a header line, then one line per message, in the
//   order given: ID, AGE, SIZE, SENDER ("<>" for the null reverse-path), RECIPIENTS
//   ("3 pending / 1 delivered / 0 failed"), NEXT ("in 4m", "now", "held", "in flight", or
//   "-" when nothing is pending) and LAST ERROR (the newest reply of a recipient not
//   delivered, whitespace runs collapsed, cut to kLastErrorBytesMax bytes on a UTF-8
//   boundary with "..."). Columns are padded to the widest cell (at most kColumnPadMax).
// - render_list(views, now, json=true): one JSON object per message per line, no header.
//   Every field of MessageView, RecipientView and AttemptRecord under its own name; every
//   time both as `<name>_unix` (integer seconds) and `<name>` (ISO 8601 UTC
//   "2024-05-01T10:00:00Z", or null when the unix value is 0, which the queue uses for
//   "not set", e.g. next_attempt of a recipient that is not pending).
// - render_show(view, now, json=false): the message's facts, one line each, then per
//   recipient one line (address: state, route, attempts, next attempt, whether a DSN was
//   sent), its last reply, and one line per attempt of its history (time, route, host,
//   reply), oldest first. render_show(view, now, json=true): the same object as the list's
//   line for that message. Every output ends with '\n'.
// - Text output is made safe for a terminal: TAB, CR and LF become a space and other
//   control bytes (< 0x20, 0x7F) become '?', so one message stays one line whatever a peer
//   sent. JSON follows RFC 8259: '"' and '\\' are escaped, control bytes and 0x7F are
//   written as \u00XX; valid UTF-8 passes through unchanged; a byte that is not part of a
//   valid UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated) is written as \u00XX
//   of that byte, so the output is always valid UTF-8 JSON (such a byte reads back as the
//   Latin-1 character of the same value).
// - valid_queue_id: [A-Za-z0-9]{1,64}, the spool's id alphabet (so an id never names a path
//   and never carries a space or a newline into a control request); the CLI checks it
//   before sending, the control server again on receipt.
// Nothing here fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/queue_admin.hpp"

namespace tern::cmd {

inline constexpr std::size_t kLastErrorBytesMax = 60;
inline constexpr std::size_t kColumnPadMax = 48;
inline constexpr std::size_t kQueueIdBytesMax = 64;

bool valid_queue_id(std::string_view id);

std::string render_list(const std::vector<runtime::MessageView>& views, std::int64_t now_unix,
                        bool json);
std::string render_show(const runtime::MessageView& view, std::int64_t now_unix, bool json);

// The building blocks, public for the tests and for other JSON writers.
std::string json_quote(std::string_view text);       // "..." with RFC 8259 escapes
std::string iso8601_utc(std::int64_t unix_seconds);  // "1970-01-01T00:00:00Z"
std::string short_duration(std::int64_t seconds);    // "45s", "4m", "2h", "3d"; < 0 as 0
std::string terminal_safe(std::string_view text);    // see the contract above
std::string human_size(std::uint64_t bytes);         // "812", "1.2K", "12K", "3.4M"

}  // namespace tern::cmd
