#include "protocol/mail/dsn.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "protocol/mail/received.hpp"

namespace tern::protocol::mail {
namespace {

constexpr std::size_t kLineBytesMax = 998;  // RFC 5322 §2.1.1, without the CRLF
constexpr std::size_t kSoftLineBytes = 78;
constexpr std::size_t kSeedBytesMax = 40;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7F;
}

// Cut at `max` bytes, backing off so that a UTF-8 sequence is not split in two.
std::string_view cut(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Every run of control bytes and spaces becomes one space, ends trimmed: CR and LF can no
// longer start a new field, and the words are what the folding below works on.
std::string flatten(std::string_view raw, std::size_t max) {
  std::string out;
  const std::string_view s = cut(raw, max);
  out.reserve(s.size());
  bool space = false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_control(c) || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

// Keeps only the bytes `keep` accepts: for the tokens that go inside <...> or a boundary.
template <class Keep>
std::string filter(std::string_view s, std::size_t max, Keep keep) {
  std::string out;
  for (const char c : s) {
    if (out.size() == max) break;
    if (keep(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_host_byte(unsigned char c) {
  return is_alnum(c) || c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
}
bool is_seed_byte(unsigned char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '-';
}

// Words of `text` after `head`, broken before a word that would pass 78 columns; a word
// longer than a whole line is broken at 998. Continuation lines start with `indent`: " "
// for a header field (folding white space), a few spaces for body text.
void append_wrapped(std::string& out, std::string_view head, std::string_view text,
                    std::string_view indent) {
  out += head;
  std::size_t len = head.size();
  bool line_start = head.empty();  // no separating space before the next word
  bool has_word = false;
  while (!text.empty()) {
    const std::size_t sp = text.find(' ');
    std::string_view word = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    if (has_word && len + (line_start ? 0 : 1) + word.size() > kSoftLineBytes) {
      out += "\r\n";
      out += indent;
      len = indent.size();
      line_start = true;
    }
    if (!line_start) {
      out += ' ';
      ++len;
    }
    while (len + word.size() > kLineBytesMax) {
      const std::size_t take = kLineBytesMax - len;
      out += word.substr(0, take);
      out += "\r\n";
      out += indent;
      len = indent.size();
      word.remove_prefix(take);
    }
    out += word;
    len += word.size();
    line_start = false;
    has_word = true;
  }
  out += "\r\n";
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  append_wrapped(out, std::string(name) + ":", value, " ");
}

bool valid_status(std::string_view s) {
  // RFC 3463: class "." subject "." detail; class 2, 4 or 5; 1-3 digits each after.
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (digits < 1 || digits > 3) return false;
    if (part == 0 && (i >= s.size() || s[i++] != '.')) return false;
  }
  return i == s.size();
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::failed: return "failed";
    case Action::delayed: return "delayed";
    case Action::delivered: return "delivered";
    case Action::relayed: return "relayed";
    case Action::expanded: return "expanded";
  }
  return "failed";
}

std::string_view action_phrase(Action a) {
  switch (a) {
    case Action::failed: return "delivery failed";
    case Action::delayed: return "delivery delayed, still trying";
    case Action::delivered: return "delivered";
    case Action::relayed: return "relayed to a system that sends no further notice";
    case Action::expanded: return "delivered and expanded to further recipients";
  }
  return "delivery failed";
}

enum class Kind { failure, delay, success };

Kind kind_of(const DsnInput& in) {
  const auto any = [&](Action a) {
    return std::any_of(in.recipients.begin(), in.recipients.end(),
                       [a](const DsnRecipient& r) { return r.action == a; });
  };
  if (any(Action::failed)) return Kind::failure;
  if (any(Action::delayed)) return Kind::delay;
  return Kind::success;
}

std::string_view subject_of(Kind k) {
  switch (k) {
    case Kind::failure: return "Undelivered Mail Returned to Sender";
    case Kind::delay: return "Delayed Mail (still being retried)";
    case Kind::success: return "Successful Mail Delivery Report";
  }
  return "";
}

std::string_view intro_of(Kind k) {
  switch (k) {
    case Kind::failure:
      return "Your message could not be delivered to one or more recipients.\r\n"
             "The mail system has given up on them; the details follow.\r\n";
    case Kind::delay:
      return "Your message has not yet been delivered to one or more recipients.\r\n"
             "The mail system is still trying; you need not send it again.\r\n";
    case Kind::success: return "Your message was delivered to the recipients below.\r\n";
  }
  return "";
}

// The sender as written inside To: <...>: angle brackets would end the address early.
std::string sender_text(std::string_view s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  std::string out = flatten(s, kDsnValueBytesMax);
  std::replace(out.begin(), out.end(), '<', '?');
  std::replace(out.begin(), out.end(), '>', '?');
  return out;
}

std::string diagnostic_text(const std::string& raw) {
  std::string d = flatten(raw, kDsnDiagnosticBytesMax);
  if (d.empty()) return d;
  // A type ("smtp;") is required by RFC 3464; plain reply text is an SMTP reply.
  const std::size_t semi = d.find(';');
  if (semi == std::string::npos || d.find(' ') < semi) d = "smtp; " + d;
  return d;
}

struct Returned {
  std::string part;  // headers and content of part 3
  bool cut = false;
  bool full_too_big = false;
};

// Lines ended by CRLF, LF or CR become CRLF lines. A line over 998 bytes is broken: in
// the header section (up to the first empty line) the rest is folded with a leading space,
// so it stays in the same field; in the body it becomes a line of its own.
std::string normalised(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 64 + 2);
  bool in_headers = true;
  while (!text.empty()) {
    const std::size_t end = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, end);
    std::size_t skip = end == std::string_view::npos ? text.size() : end + 1;
    if (end != std::string_view::npos && text[end] == '\r' && end + 1 < text.size() &&
        text[end + 1] == '\n') {
      ++skip;
    }
    text.remove_prefix(skip);
    if (line.empty()) in_headers = false;
    bool first = true;
    do {
      const bool fold = !first && in_headers;
      const std::size_t room = kLineBytesMax - (fold ? 1 : 0);
      if (fold) out += ' ';
      out += line.substr(0, room);
      out += "\r\n";
      line.remove_prefix(std::min(room, line.size()));
      first = false;
    } while (!line.empty());
  }
  return out;
}

// The header section of an already normalised message, without the empty line.
std::string_view header_section(std::string_view msg) {
  if (msg.starts_with("\r\n")) return {};
  const std::size_t blank = msg.find("\r\n\r\n");
  return blank == std::string_view::npos ? msg : msg.substr(0, blank + 2);
}

Returned returned_part(const DsnInput& in) {
  Returned r;
  const std::size_t max = in.returned_bytes_max;
  if (in.ret == Ret::full && in.original_message.size() <= max) {
    r.part = "Content-Type: message/rfc822\r\nContent-Description: Returned message\r\n\r\n";
    r.part += normalised(in.original_message);
    return r;
  }
  r.full_too_big = in.ret == Ret::full;
  r.cut = r.full_too_big;
  // Normalising never shortens, so the first max + 1 bytes of the message decide the first
  // max + 1 bytes of the result: a long body is not copied only to be thrown away.
  const std::string_view raw = in.original_message;
  const std::string msg = normalised(raw.substr(0, max < raw.size() ? max + 1 : raw.size()));
  std::string_view headers = header_section(msg);
  if (headers.size() > max) {
    const std::size_t end = headers.rfind("\r\n", max >= 2 ? max - 2 : 0);
    headers =
        end == std::string_view::npos || max < 2 ? std::string_view{} : headers.substr(0, end + 2);
    r.cut = true;
  }
  r.part =
      "Content-Type: text/rfc822-headers\r\n"
      "Content-Description: Returned message headers\r\n\r\n";
  r.part += headers;
  return r;
}

std::string human_part(const DsnInput& in, Kind kind, const Returned& ret, std::string_view mta) {
  std::string p =
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Description: Notification\r\n\r\n";
  p += "This is the mail system at " + std::string(mta) + ".\r\n\r\n";
  p += intro_of(kind);
  p += "\r\n";
  for (const DsnRecipient& r : in.recipients) {
    std::string head = "<" + flatten(r.final_recipient, kDsnValueBytesMax) + ">: ";
    head += action_phrase(r.action);
    head += " (" + r.status + ")";
    append_wrapped(p, "", head, "    ");
    if (r.remote_mta) {
      const std::string host = flatten(*r.remote_mta, kDsnValueBytesMax);
      if (!host.empty()) append_wrapped(p, "    Remote host:", host, "      ");
    }
    if (r.diagnostic_code) {
      const std::string d = flatten(*r.diagnostic_code, kDsnDiagnosticBytesMax);
      if (!d.empty()) append_wrapped(p, "    Said:", d, "      ");
    }
    if (r.action == Action::delayed && r.will_retry_until_unix) {
      p += "    Will retry until " + format_rfc5322_date(*r.will_retry_until_unix) + "\r\n";
    }
  }
  p += "\r\n";
  if (ret.full_too_big) {
    p += "The message was larger than " + std::to_string(in.returned_bytes_max) +
         " bytes, so only its headers are returned.\r\n";
  } else if (ret.cut) {
    p += "Its headers were longer than " + std::to_string(in.returned_bytes_max) +
         " bytes and are returned cut.\r\n";
  }
  return p;
}

void append_recipient_fields(std::string& p, const DsnRecipient& r) {
  p += "\r\n";
  if (r.original_recipient) {
    append_field(p, "Original-Recipient",
                 flatten(r.original_recipient->addr_type, kDsnValueBytesMax) + ";" +
                     flatten(r.original_recipient->address, kDsnValueBytesMax));
  }
  append_field(p, "Final-Recipient", "rfc822; " + flatten(r.final_recipient, kDsnValueBytesMax));
  append_field(p, "Action", action_name(r.action));
  append_field(p, "Status", r.status);
  if (r.remote_mta) {
    const std::string host = flatten(*r.remote_mta, kDsnValueBytesMax);
    if (!host.empty()) append_field(p, "Remote-MTA", "dns; " + host);
  }
  if (r.diagnostic_code) {
    const std::string d = diagnostic_text(*r.diagnostic_code);
    if (!d.empty()) append_field(p, "Diagnostic-Code", d);
  }
  append_field(p, "Last-Attempt-Date", format_rfc5322_date(r.last_attempt_unix));
  if (r.action == Action::delayed && r.will_retry_until_unix) {
    append_field(p, "Will-Retry-Until", format_rfc5322_date(*r.will_retry_until_unix));
  }
}

std::string status_part(const DsnInput& in, std::string_view mta) {
  std::string p =
      "Content-Type: message/delivery-status\r\n"
      "Content-Description: Delivery report\r\n\r\n";
  append_field(p, "Reporting-MTA", "dns; " + std::string(mta));
  if (in.envid) {
    const std::string envid = flatten(*in.envid, kDsnValueBytesMax);
    if (!envid.empty()) append_field(p, "Original-Envelope-Id", envid);
  }
  append_field(p, "Arrival-Date", format_rfc5322_date(in.arrival_unix));
  for (const DsnRecipient& r : in.recipients) append_recipient_fields(p, r);
  return p;
}

bool is_upper_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// The boundary is base + "." + 8 hex digits. Each occurrence of base in a part rules out
// at most one suffix, so the smallest suffix not ruled out always exists and is found in
// one pass over the parts (no retry loop an attacker could make quadratic).
std::string choose_boundary(const std::string& base, const std::vector<const std::string*>& parts) {
  std::set<std::string_view> taken;
  for (const std::string* part : parts) {
    std::size_t at = part->find(base);
    while (at != std::string::npos) {
      const std::string_view rest = std::string_view(*part).substr(at + base.size());
      if (rest.size() >= 9 && rest[0] == '.') taken.insert(rest.substr(1, 8));
      at = part->find(base, at + 1);
    }
  }
  for (std::uint32_t n = 0;; ++n) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08X", static_cast<unsigned>(n));
    if (!taken.contains(std::string_view(hex, 8))) return base + "." + hex;
  }
}

Result<std::size_t> check_input(const DsnInput& in) {
  const std::string_view s = in.envelope_sender;
  if (s.empty() || s == "<>") return fail(0, "no DSN to the null reverse-path");
  if (in.recipients.empty()) return fail(0, "no recipients");
  if (in.recipients.size() > in.recipients_max) return fail(0, "too many recipients");
  if (sender_text(s).empty()) return fail(0, "empty envelope sender");
  for (std::size_t i = 0; i < in.recipients.size(); ++i) {
    const DsnRecipient& r = in.recipients[i];
    if (flatten(r.final_recipient, kDsnValueBytesMax).empty()) {
      return fail(i, "empty final recipient");
    }
    if (!valid_status(r.status)) return fail(i, "status is not class.subject.detail");
  }
  return std::size_t{0};
}

void append_headers(std::string& m, const DsnInput& in, Kind kind, std::string_view mta,
                    const std::string& message_id, const std::string& boundary, bool eight_bit) {
  append_field(m, "From", "MAILER-DAEMON@" + std::string(mta));
  append_field(m, "To", "<" + sender_text(in.envelope_sender) + ">");
  append_field(m, "Subject", subject_of(kind));
  append_field(m, "Date", format_rfc5322_date(in.now_unix));
  append_field(m, "Message-ID", message_id);
  append_field(m, "MIME-Version", "1.0");
  append_field(m, "Content-Type",
               "multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"");
  if (eight_bit) append_field(m, "Content-Transfer-Encoding", "8bit");
  append_field(m, "Auto-Submitted", "auto-replied");
}

bool has_eight_bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

Result<Dsn> build_dsn(const DsnInput& in) {
  if (auto ok = check_input(in); !ok) return ok.error();
  const std::string mta = filter(in.reporting_mta, 255, is_host_byte);
  const std::string domain = filter(in.message_id_domain, 255, is_host_byte);
  const std::string seed = filter(in.seed, kSeedBytesMax, is_seed_byte);
  if (mta.empty()) return fail(0, "empty reporting MTA");
  if (domain.empty()) return fail(0, "empty message-id domain");
  if (seed.empty()) return fail(0, "empty seed");

  const Kind kind = kind_of(in);
  const Returned ret = returned_part(in);
  const std::string human = human_part(in, kind, ret, mta);
  const std::string status = status_part(in, mta);
  static const std::string kPreamble = "This is a MIME-encapsulated message.\r\n";
  const std::string boundary =
      choose_boundary("tern-" + seed, {&kPreamble, &human, &status, &ret.part});
  const bool eight_bit = has_eight_bit(human) || has_eight_bit(status) || has_eight_bit(ret.part) ||
                         has_eight_bit(in.envelope_sender);
  Dsn dsn;
  dsn.message_id = "<" + seed + ".dsn@" + domain + ">";
  dsn.content_cut = ret.cut;
  std::string& m = dsn.message;
  m.reserve(human.size() + status.size() + ret.part.size() + 1024);
  append_headers(m, in, kind, mta, dsn.message_id, boundary, eight_bit);
  m += "\r\n" + kPreamble;
  for (const std::string* part : {&human, &status, &ret.part}) {
    m += "\r\n--" + boundary + "\r\n";
    m += *part;
  }
  m += "\r\n--" + boundary + "--\r\n";
  dsn.eight_bit = has_eight_bit(m);
  return dsn;
}

namespace {

// The value of parameter `key` in a stored RCPT parameter string, nullopt when absent.
std::optional<std::string_view> param_value(std::string_view params, std::string_view key) {
  while (!params.empty()) {
    const std::size_t sp = params.find(' ');
    const std::string_view token = params.substr(0, sp);
    params = sp == std::string_view::npos ? std::string_view{} : params.substr(sp + 1);
    const std::size_t eq = token.find('=');
    if (eq != std::string_view::npos && iequals(token.substr(0, eq), key)) {
      return token.substr(eq + 1);
    }
  }
  return std::nullopt;
}

struct Notify {
  bool success = false, failure = true, delay = true;  // RFC 3461 §4.1 default
};

Notify parse_notify(std::string_view value) {
  Notify n{false, false, false};
  bool never = false;
  std::size_t items = 0;
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view item = value.substr(0, comma);
    ++items;
    if (iequals(item, "NEVER"))
      never = true;
    else if (iequals(item, "SUCCESS"))
      n.success = true;
    else if (iequals(item, "FAILURE"))
      n.failure = true;
    else if (iequals(item, "DELAY"))
      n.delay = true;
    else
      return Notify{};
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (never && items != 1) return Notify{};  // NEVER must stand alone
  return n;
}

bool is_atext(unsigned char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
                            std::string_view::npos;
}

int hex_value(char c) {
  return c <= '9' ? c - '0' : c - 'A' + 10;
}

}  // namespace

bool notify_wants(std::string_view rcpt_params, Action action) {
  const auto value = param_value(rcpt_params, "NOTIFY");
  const Notify n = value ? parse_notify(*value) : Notify{};
  switch (action) {
    case Action::failed: return n.failure;
    case Action::delayed: return n.delay;
    case Action::delivered:
    case Action::relayed:
    case Action::expanded: return n.success;
  }
  return false;
}

Result<std::string> xtext_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size()) return fail(i, "'+' at the end of xtext");
      if (!is_upper_hex(text[i + 1]) || !is_upper_hex(text[i + 2])) {
        return fail(i, "'+' must be followed by two upper-case hex digits");
      }
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else if (c < '!' || c > '~' || c == '=') {
      return fail(i, "byte not allowed in xtext");
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::optional<OriginalRecipient>> orcpt_of(std::string_view rcpt_params) {
  const auto value = param_value(rcpt_params, "ORCPT");
  if (!value) return std::optional<OriginalRecipient>{};
  if (value->size() > kOrcptBytesMax) return fail(0, "ORCPT longer than 500 bytes");
  const std::size_t semi = value->find(';');
  if (semi == std::string_view::npos) return fail(0, "ORCPT without ';'");
  const std::string_view type = value->substr(0, semi);
  if (type.empty() || !std::all_of(type.begin(), type.end(), [](char c) {
        return is_atext(static_cast<unsigned char>(c));
      })) {
    return fail(0, "ORCPT address type is not an atom");
  }
  auto address = xtext_decode(value->substr(semi + 1));
  if (!address) return fail(semi + 1 + address.error().offset, address.error().message);
  if (address->empty()) return fail(semi + 1, "empty ORCPT address");
  return std::optional<OriginalRecipient>{OriginalRecipient{std::string(type), *address}};
}

}  // namespace tern::protocol::mail
