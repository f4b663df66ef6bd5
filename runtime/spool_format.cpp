#include "runtime/spool_format.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace tern::runtime {
namespace {

constexpr std::string_view kMagic = "tern-envelope 1";
constexpr char kHex[] = "0123456789ABCDEF";

// One field: "-" is the empty string, so every field is a non-empty token.
void put_field(std::string& out, std::string_view value) {
  if (value.empty()) {
    out += '-';
    return;
  }
  if (value == "-") {
    out += "%2D";
    return;
  }
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == '%' || byte == 0x7F) {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
}

void put_line(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += ' ';
  put_field(out, value);
  out += '\n';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> get_field(std::string_view token) {
  if (token == "-") return std::string();
  if (token.empty()) return std::nullopt;
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '%') {
      out += token[i];
      continue;
    }
    if (i + 2 >= token.size()) return std::nullopt;
    const int high = hex_value(token[i + 1]);
    const int low = hex_value(token[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

template <class Int>
std::optional<Int> get_number(std::string_view token) {
  Int value{};
  const auto [end, errc] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (errc != std::errc{} || end != token.data() + token.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= line.size()) {
    const auto space = line.find(' ', start);
    const auto end = space == std::string_view::npos ? line.size() : space;
    fields.push_back(line.substr(start, end - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return fields;
}

std::optional<RecipientState> state_from(std::string_view text) {
  if (text == "pending") return RecipientState::pending;
  if (text == "delivered") return RecipientState::delivered;
  if (text == "failed") return RecipientState::failed;
  return std::nullopt;
}

struct LineParser {
  SpoolEnvelope& envelope;
  const EnvelopeLimits& limits;
  bool have_id = false;
  bool have_received = false;
  bool have_from = false;

  // nullopt: the line was fine; otherwise the reason it is not.
  std::optional<std::string> single(std::string_view key, std::string_view token);
  std::optional<std::string> recipient_extra(const std::vector<std::string_view>& fields);
  std::optional<std::string> recipient(const std::vector<std::string_view>& fields);
};

std::optional<std::string> LineParser::single(std::string_view key, std::string_view token) {
  const auto value = get_field(token);
  if (!value) return "malformed escape in '" + std::string(key) + "'";
  if (key == "held") {
    if (*value != "0" && *value != "1") return "held must be 0 or 1";
    envelope.held = *value == "1";
    return std::nullopt;
  }
  if (key == "delay-notices") {
    const auto number = get_number<std::uint32_t>(*value);
    if (!number) return "malformed number in 'delay-notices'";
    envelope.delay_notices_sent = *number;
    return std::nullopt;
  }
  if (key == "received" || key == "body-bytes") {
    if (key == "received") {
      const auto number = get_number<std::int64_t>(*value);
      if (!number) return "malformed number in 'received'";
      envelope.received_unix = *number;
      have_received = true;
    } else {
      const auto number = get_number<std::uint64_t>(*value);
      if (!number) return "malformed number in 'body-bytes'";
      envelope.body_bytes = *number;
    }
    return std::nullopt;
  }
  std::string* target = nullptr;
  if (key == "id") {
    target = &envelope.id;
    have_id = true;
  } else if (key == "from") {
    target = &envelope.sender;
    have_from = true;
  } else if (key == "from-params") {
    target = &envelope.sender_params;
  } else if (key == "listener") {
    target = &envelope.listener;
  } else if (key == "remote-ip") {
    target = &envelope.remote_ip;
  } else if (key == "local-ip") {
    target = &envelope.local_ip;
  } else if (key == "helo") {
    target = &envelope.helo;
  } else if (key == "auth") {
    target = &envelope.authenticated_as;
  } else {
    return "unknown key '" + std::string(key) + "'";
  }
  *target = *value;
  return std::nullopt;
}

std::optional<std::string> LineParser::recipient(const std::vector<std::string_view>& fields) {
  // rcpt ADDRESS STATE NEXT ATTEMPTS DSN-SENT ACCOUNT PARAMS LAST-REPLY
  if (fields.size() != 9) return "a 'rcpt' line has 8 fields";
  if (envelope.recipients.size() >= limits.recipients_max) return "too many recipients";
  SpoolRecipient r;
  const auto address = get_field(fields[1]);
  const auto state = state_from(fields[2]);
  const auto next = get_number<std::int64_t>(fields[3]);
  const auto attempts = get_number<std::uint32_t>(fields[4]);
  const auto account = get_field(fields[6]);
  const auto params = get_field(fields[7]);
  const auto last = get_field(fields[8]);
  if (!address || !account || !params || !last) return "malformed escape in 'rcpt'";
  if (!state) return "unknown recipient state '" + std::string(fields[2]) + "'";
  if (!next || !attempts) return "malformed number in 'rcpt'";
  if (fields[5] != "0" && fields[5] != "1") return "dsn-sent must be 0 or 1";
  r.address = *address;
  r.state = *state;
  r.next_attempt_unix = *next;
  r.attempts = *attempts;
  r.dsn_sent = fields[5] == "1";
  r.account = *account;
  r.params = *params;
  r.last_reply = *last;
  envelope.recipients.push_back(std::move(r));
  return std::nullopt;
}

// route TEXT | notice delivered|relayed | attempt UNIX ROUTE HOST REPLY: about the
// recipient of the `rcpt` line before.
std::optional<std::string> LineParser::recipient_extra(
    const std::vector<std::string_view>& fields) {
  if (envelope.recipients.empty()) return "'" + std::string(fields[0]) + "' before any 'rcpt'";
  SpoolRecipient& r = envelope.recipients.back();
  if (fields[0] == "attempt") {
    if (fields.size() != 5) return "an 'attempt' line has 4 fields";
    if (r.history.size() >= kAttemptHistoryMax) return "too many 'attempt' lines";
    const auto at = get_number<std::int64_t>(fields[1]);
    const auto route = get_field(fields[2]);
    const auto host = get_field(fields[3]);
    const auto reply = get_field(fields[4]);
    if (!at) return "malformed number in 'attempt'";
    if (!route || !host || !reply) return "malformed escape in 'attempt'";
    r.history.push_back(AttemptRecord{*at, *route, *host, *reply});
    return std::nullopt;
  }
  if (fields.size() != 2) return "a '" + std::string(fields[0]) + "' line has one field";
  if (fields[0] == "route") {
    const auto route = get_field(fields[1]);
    if (!route) return "malformed escape in 'route'";
    r.route = *route;
    return std::nullopt;
  }
  if (fields[1] == "delivered") {
    r.success_notice = SuccessNotice::delivered;
  } else if (fields[1] == "relayed") {
    r.success_notice = SuccessNotice::relayed;
  } else {
    return "unknown notice '" + std::string(fields[1]) + "'";
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(RecipientState state) {
  switch (state) {
    case RecipientState::pending: return "pending";
    case RecipientState::delivered: return "delivered";
    case RecipientState::failed: return "failed";
  }
  return "pending";
}

bool any_pending(const SpoolEnvelope& envelope) {
  return std::any_of(envelope.recipients.begin(), envelope.recipients.end(),
                     [](const SpoolRecipient& r) { return r.state == RecipientState::pending; });
}

std::string queue_id_from(std::uint64_t random) {
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i) {
    id[static_cast<std::size_t>(i)] = kHex[random & 0xF];
    random >>= 4;
  }
  return id;
}

std::string serialize_envelope(const SpoolEnvelope& e) {
  std::string out;
  out += kMagic;
  out += '\n';
  put_line(out, "id", e.id);
  put_line(out, "received", std::to_string(e.received_unix));
  put_line(out, "from", e.sender);
  put_line(out, "from-params", e.sender_params);
  put_line(out, "listener", e.listener);
  put_line(out, "remote-ip", e.remote_ip);
  put_line(out, "local-ip", e.local_ip);
  put_line(out, "helo", e.helo);
  put_line(out, "auth", e.authenticated_as);
  put_line(out, "body-bytes", std::to_string(e.body_bytes));
  if (e.held) put_line(out, "held", "1");
  if (e.delay_notices_sent != 0)
    put_line(out, "delay-notices", std::to_string(e.delay_notices_sent));
  for (const auto& r : e.recipients) {
    out += "rcpt ";
    put_field(out, r.address);
    out += ' ';
    out += to_string(r.state);
    out += ' ' + std::to_string(r.next_attempt_unix) + ' ' + std::to_string(r.attempts);
    out += r.dsn_sent ? " 1 " : " 0 ";
    put_field(out, r.account);
    out += ' ';
    put_field(out, r.params);
    out += ' ';
    put_field(out, r.last_reply);
    out += '\n';
    if (!r.route.empty()) put_line(out, "route", r.route);
    if (r.success_notice != SuccessNotice::none) {
      put_line(out, "notice",
               r.success_notice == SuccessNotice::delivered ? "delivered" : "relayed");
    }
    for (const auto& a : r.history) {
      out += "attempt " + std::to_string(a.at_unix) + ' ';
      put_field(out, a.route);
      out += ' ';
      put_field(out, a.host);
      out += ' ';
      put_field(out, a.reply);
      out += '\n';
    }
  }
  out += "end\n";
  return out;
}

protocol::Result<SpoolEnvelope> parse_envelope(std::string_view text,
                                               const EnvelopeLimits& limits) {
  if (text.size() > limits.envelope_bytes_max) return protocol::fail(0, "envelope too large");
  if (text.substr(0, kMagic.size() + 1) != std::string(kMagic) + "\n") {
    return protocol::fail(0, "not a tern-envelope 1 file");
  }
  SpoolEnvelope envelope;
  LineParser parser{envelope, limits};
  std::size_t pos = kMagic.size() + 1;
  while (pos < text.size()) {
    const auto newline = text.find('\n', pos);
    if (newline == std::string_view::npos) return protocol::fail(pos, "unterminated line");
    const auto line = text.substr(pos, newline - pos);
    if (line == "end") {
      if (newline + 1 != text.size()) return protocol::fail(newline + 1, "bytes after 'end'");
      if (!parser.have_id || !parser.have_received || !parser.have_from) {
        return protocol::fail(pos, "missing id, received or from");
      }
      return envelope;
    }
    const auto fields = split_fields(line);
    std::optional<std::string> problem;
    if (fields[0] == "rcpt") {
      problem = parser.recipient(fields);
    } else if (fields[0] == "attempt" || fields[0] == "route" || fields[0] == "notice") {
      problem = parser.recipient_extra(fields);
    } else if (fields.size() != 2) {
      problem = "a '" + std::string(fields[0]) + "' line has one field";
    } else {
      problem = parser.single(fields[0], fields[1]);
    }
    if (problem) return protocol::fail(pos, *problem);
    pos = newline + 1;
  }
  return protocol::fail(text.size(), "missing 'end'");
}

}  // namespace tern::runtime
