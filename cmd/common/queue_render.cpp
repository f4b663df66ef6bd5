#include "cmd/common/queue_render.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace tern::cmd {

namespace {

using runtime::AttemptRecord;
using runtime::MessageView;
using runtime::RecipientView;

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when the byte does not start one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // overlong
    if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

void append_escaped_byte(std::string& out, unsigned char b) {
  out += "\\u00";
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

// Floor division: the calendar must be right before 1970 too.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string two_digits(std::int64_t v) {
  return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
}

std::string json_time(std::int64_t unix_seconds) {
  return unix_seconds == 0 ? "null" : json_quote(iso8601_utc(unix_seconds));
}

const char* json_bool(bool b) {
  return b ? "true" : "false";
}

std::string attempt_json(const AttemptRecord& a) {
  return "{\"at_unix\":" + std::to_string(a.at_unix) + ",\"at\":" + json_time(a.at_unix) +
         ",\"route\":" + json_quote(a.route) + ",\"host\":" + json_quote(a.host) +
         ",\"reply\":" + json_quote(a.reply) + "}";
}

std::string recipient_json(const RecipientView& r) {
  std::string out = "{\"address\":" + json_quote(r.address) + ",\"state\":" + json_quote(r.state) +
                    ",\"route\":" + json_quote(r.route) +
                    ",\"next_attempt_unix\":" + std::to_string(r.next_attempt_unix) +
                    ",\"next_attempt\":" + json_time(r.next_attempt_unix) +
                    ",\"attempts\":" + std::to_string(r.attempts) +
                    ",\"last_reply\":" + json_quote(r.last_reply) +
                    ",\"dsn_sent\":" + json_bool(r.dsn_sent) + ",\"history\":[";
  for (std::size_t i = 0; i < r.history.size(); ++i) {
    if (i != 0) out += ',';
    out += attempt_json(r.history[i]);
  }
  return out + "]}";
}

std::string message_json(const MessageView& m) {
  std::string out =
      "{\"id\":" + json_quote(m.id) + ",\"sender\":" + json_quote(m.sender) +
      ",\"received_unix\":" + std::to_string(m.received_unix) +
      ",\"received\":" + json_time(m.received_unix) + ",\"size\":" + std::to_string(m.size) +
      ",\"held\":" + json_bool(m.held) + ",\"in_flight\":" + json_bool(m.in_flight) +
      ",\"delay_notices_sent\":" + std::to_string(m.delay_notices_sent) + ",\"recipients\":[";
  for (std::size_t i = 0; i < m.recipients.size(); ++i) {
    if (i != 0) out += ',';
    out += recipient_json(m.recipients[i]);
  }
  return out + "]}\n";
}

std::string sender_text(const MessageView& m) {
  return m.sender.empty() ? "<>" : terminal_safe(m.sender);
}

std::string recipient_counts(const MessageView& m) {
  std::size_t pending = 0, delivered = 0, failed = 0;
  for (const RecipientView& r : m.recipients) {
    if (r.state == "pending") ++pending;
    if (r.state == "delivered") ++delivered;
    if (r.state == "failed") ++failed;
  }
  return std::to_string(pending) + " pending / " + std::to_string(delivered) + " delivered / " +
         std::to_string(failed) + " failed";
}

std::string due_text(std::int64_t due_unix, std::int64_t now_unix) {
  return due_unix <= now_unix ? "now" : "in " + short_duration(due_unix - now_unix);
}

std::string next_attempt_text(const MessageView& m, std::int64_t now_unix) {
  if (m.held) return "held";
  if (m.in_flight) return "in flight";
  std::optional<std::int64_t> due;
  for (const RecipientView& r : m.recipients) {
    if (r.state == "pending")
      due = std::min(due.value_or(r.next_attempt_unix), r.next_attempt_unix);
  }
  return due ? due_text(*due, now_unix) : "-";
}

// Collapses whitespace runs and cuts on a UTF-8 boundary, so the list stays one short line.
std::string shorten(std::string_view text, std::size_t bytes_max) {
  std::string collapsed;
  for (char c : terminal_safe(text)) {
    if (c == ' ' && (collapsed.empty() || collapsed.back() == ' ')) continue;
    collapsed += c;
  }
  while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  if (collapsed.size() <= bytes_max) return collapsed;
  std::size_t cut = bytes_max - 3;
  while (cut > 0 && (static_cast<unsigned char>(collapsed[cut]) & 0xC0) == 0x80) --cut;
  return collapsed.substr(0, cut) + "...";
}

// The newest reply of a recipient that is not delivered: what keeps the message here.
std::string last_error(const MessageView& m) {
  const RecipientView* best = nullptr;
  std::int64_t best_at = 0;
  for (const RecipientView& r : m.recipients) {
    if (r.state == "delivered" || r.last_reply.empty()) continue;
    const std::int64_t at = r.history.empty() ? 0 : r.history.back().at_unix;
    if (best == nullptr || at > best_at) {
      best = &r;
      best_at = at;
    }
  }
  if (best == nullptr) return "-";
  std::string text = shorten(best->last_reply, kLastErrorBytesMax);
  return text.empty() ? "-" : text;
}

using Row = std::array<std::string, 7>;

std::string render_table(const std::vector<Row>& rows) {
  std::array<std::size_t, 7> width{};
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c)
      width[c] = std::min(std::max(width[c], row[c].size()), kColumnPadMax);
  }
  std::string out;
  for (const Row& row : rows) {
    for (std::size_t c = 0; c + 1 < row.size(); ++c) {
      out += row[c];
      out.append(width[c] > row[c].size() ? width[c] - row[c].size() : 0, ' ');
      out += "  ";
    }
    out += row.back();
    out += '\n';
  }
  return out;
}

std::string list_text(const std::vector<MessageView>& views, std::int64_t now_unix) {
  std::vector<Row> rows;
  rows.reserve(views.size() + 1);
  rows.push_back({"ID", "AGE", "SIZE", "SENDER", "RECIPIENTS", "NEXT", "LAST ERROR"});
  for (const MessageView& m : views) {
    rows.push_back({terminal_safe(m.id), short_duration(now_unix - m.received_unix),
                    human_size(m.size), sender_text(m), recipient_counts(m),
                    next_attempt_text(m, now_unix), last_error(m)});
  }
  return render_table(rows);
}

std::string status_text(const MessageView& m) {
  if (m.held && m.in_flight) return "held, an attempt in flight";
  if (m.held) return "held";
  if (m.in_flight) return "an attempt in flight";
  return "queued";
}

std::string recipient_line(const RecipientView& r, std::int64_t now_unix) {
  std::string line = "rcpt " + terminal_safe(r.address) + ": " + terminal_safe(r.state) + ", " +
                     (r.route.empty() ? "no route yet" : "route " + terminal_safe(r.route)) + ", " +
                     std::to_string(r.attempts) + (r.attempts == 1 ? " attempt" : " attempts");
  if (r.state == "pending") {
    line += ", next attempt " + due_text(r.next_attempt_unix, now_unix) + " (" +
            iso8601_utc(r.next_attempt_unix) + ")";
  }
  if (r.state == "failed") line += r.dsn_sent ? ", DSN sent" : ", DSN not sent yet";
  return line + "\n";
}

std::string attempt_line(const AttemptRecord& a) {
  return "  at " + iso8601_utc(a.at_unix) + " via " + terminal_safe(a.route) +
         (a.host.empty() ? "" : " (" + terminal_safe(a.host) + ")") + ": " +
         terminal_safe(a.reply) + "\n";
}

std::string show_text(const MessageView& m, std::int64_t now_unix) {
  std::string out = "id: " + terminal_safe(m.id) + "\n" + "sender: " + sender_text(m) + "\n" +
                    "received: " + iso8601_utc(m.received_unix) + " (" +
                    short_duration(now_unix - m.received_unix) + " ago)\n" +
                    "size: " + std::to_string(m.size) + " bytes\n" + "status: " + status_text(m) +
                    "\n" + "delay notices sent: " + std::to_string(m.delay_notices_sent) + "\n" +
                    "recipients: " + recipient_counts(m) + "\n";
  for (const RecipientView& r : m.recipients) {
    out += recipient_line(r, now_unix);
    if (!r.last_reply.empty()) out += "  last reply: " + terminal_safe(r.last_reply) + "\n";
    for (const AttemptRecord& a : r.history) out += attempt_line(a);
  }
  return out;
}

}  // namespace

bool valid_queue_id(std::string_view id) {
  if (id.empty() || id.size() > kQueueIdBytesMax) return false;
  for (char c : id) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b == '"' || b == '\\') {
      out += '\\';
      out += static_cast<char>(b);
      ++i;
    } else if (b < 0x20 || b == 0x7F) {
      append_escaped_byte(out, b);
      ++i;
    } else if (std::size_t n = utf8_sequence_length(text, i); n != 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      append_escaped_byte(out, b);
      ++i;
    }
  }
  return out + "\"";
}

// Civil-from-days (H. Hinnant's algorithm), in 64-bit so any int64 input is defined.
std::string iso8601_utc(std::int64_t unix_seconds) {
  const std::int64_t days = floor_div(unix_seconds, 86400);
  const std::int64_t secs = (unix_seconds % 86400 + 86400) % 86400;  // no overflow at INT64_MIN
  const std::int64_t z = days + 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string y = std::to_string(year < 0 ? -year : year);
  if (y.size() < 4) y.insert(0, 4 - y.size(), '0');
  if (year < 0) y.insert(0, 1, '-');
  return y + "-" + two_digits(month) + "-" + two_digits(day) + "T" + two_digits(secs / 3600) + ":" +
         two_digits(secs / 60 % 60) + ":" + two_digits(secs % 60) + "Z";
}

std::string short_duration(std::int64_t seconds) {
  if (seconds < 60) return std::to_string(std::max<std::int64_t>(seconds, 0)) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string terminal_safe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\t' || c == '\r' || c == '\n') {
      c = ' ';
    } else if (b < 0x20 || b == 0x7F) {
      c = '?';
    }
  }
  return out;
}

std::string human_size(std::uint64_t bytes) {
  static constexpr char kUnits[] = "KMGTPE";
  if (bytes < 1024) return std::to_string(bytes);
  std::size_t unit = 0;
  std::uint64_t scale = 1024;
  while (unit + 1 < sizeof kUnits - 1 && bytes / scale >= 1024) {
    scale *= 1024;
    ++unit;
  }
  const std::uint64_t whole = bytes / scale;
  std::string out = std::to_string(whole);
  if (whole < 10) out += "." + std::to_string(bytes % scale * 10 / scale);
  return out + kUnits[unit];
}

std::string render_list(const std::vector<MessageView>& views, std::int64_t now_unix, bool json) {
  if (!json) return list_text(views, now_unix);
  std::string out;
  for (const MessageView& m : views) out += message_json(m);
  return out;
}

std::string render_show(const MessageView& view, std::int64_t now_unix, bool json) {
  return json ? message_json(view) : show_text(view, now_unix);
}

}  // namespace tern::cmd
