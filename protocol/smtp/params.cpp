#include "protocol/smtp/params.hpp"

#include <array>
#include <cstdio>
#include <limits>

#include "protocol/smtp/chars.hpp"

namespace tern::protocol::smtp {
namespace {

constexpr std::size_t kEnvidBytesMax = 100;  // RFC 3461 §4.4
constexpr std::size_t kOrcptBytesMax = 500;  // RFC 3461 §4.2

struct KeywordName {
  KnownParam param;
  std::string_view name;
};

constexpr std::array<KeywordName, 13> kKeywordNames{{
    {KnownParam::size, "SIZE"},
    {KnownParam::body, "BODY"},
    {KnownParam::smtputf8, "SMTPUTF8"},
    {KnownParam::auth, "AUTH"},
    {KnownParam::ret, "RET"},
    {KnownParam::envid, "ENVID"},
    {KnownParam::holdfor, "HOLDFOR"},
    {KnownParam::holduntil, "HOLDUNTIL"},
    {KnownParam::by, "BY"},
    {KnownParam::mt_priority, "MT-PRIORITY"},
    {KnownParam::requiretls, "REQUIRETLS"},
    {KnownParam::notify, "NOTIFY"},
    {KnownParam::orcpt, "ORCPT"},
}};

Error param_error(const EsmtpParam& p, const std::string& why) {
  return fail(0, "invalid " + p.keyword + " parameter: " + why);
}

bool is_keyword(std::string_view k) {
  if (k.empty() || !chars::is_let_dig(k[0])) return false;
  for (char c : k) {
    if (!chars::is_let_dig(c) && c != '-') return false;
  }
  return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 adds UTF8-non-ascii. Returns the offset of
// the first bad byte, or npos.
std::size_t bad_value_byte(std::string_view v, bool utf8) {
  for (std::size_t i = 0; i < v.size();) {
    const unsigned char b = chars::u8(v[i]);
    if (b >= 33 && b <= 126 && b != '=') {
      ++i;
      continue;
    }
    if (b < 0x80 || !utf8) return i;
    const std::size_t n = chars::utf8_sequence_length(v, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

Result<EsmtpParam> one_param(std::string_view token, std::size_t at, bool utf8) {
  const std::size_t eq = token.find('=');
  const std::string_view key = token.substr(0, eq);
  if (!is_keyword(key)) return fail(at, "invalid parameter keyword");
  EsmtpParam p{chars::to_upper_ascii(key), std::nullopt};
  if (eq == std::string_view::npos) return p;
  const std::string_view value = token.substr(eq + 1);
  if (value.empty()) return fail(at + eq + 1, "empty value for " + p.keyword);
  const std::size_t bad = bad_value_byte(value, utf8);
  if (bad != std::string_view::npos) {
    return fail(at + eq + 1 + bad, "invalid character in the value of " + p.keyword);
  }
  p.value = std::string(value);
  return p;
}

bool parse_uint(std::string_view s, std::size_t digits_max, std::uint64_t& out) {
  if (s.empty() || s.size() > digits_max) return false;
  out = 0;
  for (char c : s) {
    if (!chars::is_digit(c)) return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// SIZE: 1*20DIGIT (RFC 1870); values beyond 2^64-1 saturate so the server answers 552.
Result<std::uint64_t> size_value(const EsmtpParam& p) {
  const std::string_view s = p.value ? std::string_view(*p.value) : std::string_view();
  if (s.empty() || s.size() > 20) return param_error(p, "expected 1 to 20 digits");
  std::uint64_t v = 0;
  for (char c : s) {
    if (!chars::is_digit(c)) return param_error(p, "expected 1 to 20 digits");
    const auto d = static_cast<std::uint64_t>(c - '0');
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    v = (v > (kMax - d) / 10) ? kMax : v * 10 + d;
  }
  return v;
}

Result<bool> flag_value(const EsmtpParam& p) {
  if (p.value) return param_error(p, "takes no value");
  return true;
}

Result<BodyType> body_value(const EsmtpParam& p) {
  const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
  if (chars::iequals(v, "7BIT")) return BodyType::seven_bit;
  if (chars::iequals(v, "8BITMIME")) return BodyType::eight_bit_mime;
  if (chars::iequals(v, "BINARYMIME")) return BodyType::binary_mime;
  return param_error(p, "expected 7BIT, 8BITMIME or BINARYMIME");
}

Result<RetType> ret_value(const EsmtpParam& p) {
  const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
  if (chars::iequals(v, "FULL")) return RetType::full;
  if (chars::iequals(v, "HDRS")) return RetType::hdrs;
  return param_error(p, "expected FULL or HDRS");
}

Result<std::string> envid_value(const EsmtpParam& p) {
  if (!p.value || p.value->size() > kEnvidBytesMax)
    return param_error(p, "expected 1 to 100 characters of xtext");
  auto raw = xtext_decode(*p.value);
  if (!raw) return param_error(p, raw.error().message);
  for (char c : *raw) {
    if (!chars::is_print_or_space(c)) return param_error(p, "decoded value is not printable ASCII");
  }
  return std::move(*raw);
}

Result<AuthParam> auth_value(const EsmtpParam& p, const ParamOptions& o) {
  if (!p.value) return param_error(p, "expected a mailbox or <>");
  auto raw = xtext_decode(*p.value);
  if (!raw) return param_error(p, raw.error().message);
  if (*raw == "<>") return AuthParam{std::nullopt};
  auto mb = parse_mailbox(*raw, AddressOptions{o.limits, o.utf8});
  if (!mb) return param_error(p, mb.error().error.message);
  return AuthParam{std::move(*mb)};
}

Result<std::uint32_t> holdfor_value(const EsmtpParam& p) {
  std::uint64_t v = 0;
  if (!p.value || !parse_uint(*p.value, 9, v)) return param_error(p, "expected 1 to 9 digits");
  return static_cast<std::uint32_t>(v);
}

Result<HoldUntil> holduntil_value(const EsmtpParam& p) {
  if (!p.value) return param_error(p, "expected an RFC 3339 date-time");
  auto t = parse_date_time(*p.value);
  if (!t) return param_error(p, t.error().message);
  return *t;
}

Result<DeliverBy> by_value(const EsmtpParam& p) {
  const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
  const std::size_t semi = v.find(';');
  if (semi == std::string_view::npos) return param_error(p, "expected time;mode");
  std::string_view num = v.substr(0, semi);
  const bool negative = !num.empty() && num[0] == '-';
  if (!num.empty() && (num[0] == '-' || num[0] == '+')) num.remove_prefix(1);
  std::uint64_t magnitude = 0;
  if (!parse_uint(num, 9, magnitude)) return param_error(p, "expected a time of 1 to 9 digits");
  DeliverBy by;
  by.seconds =
      negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  const std::string_view mode = v.substr(semi + 1);
  if (mode.empty() || mode.size() > 2)
    return param_error(p, "expected mode R or N, optionally with T");
  const char m = chars::to_upper(mode[0]);
  if (m != 'R' && m != 'N') return param_error(p, "expected mode R or N");
  by.mode = m == 'R' ? DeliverBy::Mode::return_ : DeliverBy::Mode::notify;
  if (mode.size() == 2) {
    if (chars::to_upper(mode[1]) != 'T') return param_error(p, "expected trace flag T");
    by.trace = true;
  }
  return by;
}

Result<int> priority_value(const EsmtpParam& p) {
  std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
  int sign = 1;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    sign = v[0] == '-' ? -1 : 1;
    v.remove_prefix(1);
  }
  if (v.size() != 1 || !chars::is_digit(v[0]))
    return param_error(p, "expected an integer from -9 to 9");
  return sign * (v[0] - '0');
}

Result<Notify> notify_value(const EsmtpParam& p) {
  if (!p.value) return param_error(p, "expected NEVER or SUCCESS,FAILURE,DELAY");
  Notify n;
  std::string_view rest = *p.value;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    bool* slot = chars::iequals(item, "NEVER")     ? &n.never
                 : chars::iequals(item, "SUCCESS") ? &n.success
                 : chars::iequals(item, "FAILURE") ? &n.failure
                 : chars::iequals(item, "DELAY")   ? &n.delay
                                                   : nullptr;
    if (slot == nullptr) return param_error(p, "unknown notify type");
    if (*slot) return param_error(p, "notify type given twice");
    *slot = true;
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (n.never && (n.success || n.failure || n.delay))
    return param_error(p, "NEVER combined with other types");
  return n;
}

Result<Orcpt> orcpt_value(const EsmtpParam& p) {
  if (!p.value || p.value->size() > kOrcptBytesMax)
    return param_error(p, "expected addr-type;xtext of at most 500 characters");
  const std::string_view v = *p.value;
  const std::size_t semi = v.find(';');
  if (semi == std::string_view::npos || semi == 0)
    return param_error(p, "expected addr-type;xtext");
  for (char c : v.substr(0, semi)) {
    if (!chars::is_atext(c)) return param_error(p, "invalid addr-type");
  }
  auto raw = xtext_decode(v.substr(semi + 1));
  if (!raw || raw->empty()) return param_error(p, raw ? "empty address" : raw.error().message);
  for (char c : *raw) {
    if (chars::u8(c) < 32 || chars::u8(c) == 127)
      return param_error(p, "control character in address");
  }
  if (!chars::utf8_valid(*raw)) return param_error(p, "malformed UTF-8 in address");
  return Orcpt{std::string(v.substr(0, semi)), std::move(*raw)};
}

template <class T, class U>
std::optional<Error> store(Result<T> r, U& slot) {
  if (!r) return r.error();
  slot = std::move(*r);
  return std::nullopt;
}

std::optional<Error> apply_mail(KnownParam k, const EsmtpParam& p, const ParamOptions& o,
                                MailParams& m) {
  switch (k) {
    case KnownParam::size: return store(size_value(p), m.size);
    case KnownParam::body: return store(body_value(p), m.body);
    case KnownParam::smtputf8: return store(flag_value(p), m.smtputf8);
    case KnownParam::auth: return store(auth_value(p, o), m.auth);
    case KnownParam::ret: return store(ret_value(p), m.ret);
    case KnownParam::envid: return store(envid_value(p), m.envid);
    case KnownParam::holdfor: return store(holdfor_value(p), m.hold_for_seconds);
    case KnownParam::holduntil: return store(holduntil_value(p), m.hold_until);
    case KnownParam::by: return store(by_value(p), m.by);
    case KnownParam::mt_priority: return store(priority_value(p), m.mt_priority);
    case KnownParam::requiretls: return store(flag_value(p), m.requiretls);
    default: m.unknown.push_back(p); return std::nullopt;
  }
}

std::optional<Error> apply_rcpt(KnownParam k, const EsmtpParam& p, RcptParams& r) {
  switch (k) {
    case KnownParam::notify: return store(notify_value(p), r.notify);
    case KnownParam::orcpt: return store(orcpt_value(p), r.orcpt);
    default: r.unknown.push_back(p); return std::nullopt;
  }
}

void append(std::string& out, std::string_view keyword, std::string_view value = {}) {
  out.push_back(' ');
  out += keyword;
  if (!value.empty()) {
    out.push_back('=');
    out += value;
  }
}

void append_unknown(std::string& out, const std::vector<EsmtpParam>& unknown) {
  for (const auto& p : unknown) append(out, p.keyword, p.value ? std::string_view(*p.value) : "");
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, pure integer).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return (m == 2 && leap) ? 29 : kDays[m - 1];
}

// Fixed-width digits at s[pos..pos+n); false when absent.
bool digits_at(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  std::uint64_t v = 0;
  if (!parse_uint(s.substr(pos, n), n, v)) return false;
  out = static_cast<unsigned>(v);
  return true;
}

bool punct_at(std::string_view s, std::size_t pos, char c) {
  return pos < s.size() && chars::to_upper(s[pos]) == c;
}

// time-offset = "Z" / ("+" / "-") hh ":" mm; seconds east of UTC.
bool offset_at(std::string_view s, std::size_t pos, std::int64_t& offset) {
  if (punct_at(s, pos, 'Z')) {
    offset = 0;
    return pos + 1 == s.size();
  }
  unsigned hh = 0, mm = 0;
  if (!(punct_at(s, pos, '+') || punct_at(s, pos, '-')) || !digits_at(s, pos + 1, 2, hh) ||
      !punct_at(s, pos + 3, ':') || !digits_at(s, pos + 4, 2, mm) || hh > 23 || mm > 59 ||
      pos + 6 != s.size()) {
    return false;
  }
  offset = (s[pos] == '-' ? -1 : 1) * static_cast<std::int64_t>(hh * 3600 + mm * 60);
  return true;
}

}  // namespace

std::optional<KnownParam> known_param(std::string_view keyword) {
  for (const auto& k : kKeywordNames) {
    if (chars::iequals(keyword, k.name)) return k.param;
  }
  return std::nullopt;
}

bool param_applies_to(KnownParam param, ParamCommand command) {
  const bool rcpt = param == KnownParam::notify || param == KnownParam::orcpt;
  return rcpt == (command == ParamCommand::rcpt);
}

Result<std::vector<EsmtpParam>> parse_esmtp_params(std::string_view text, bool utf8) {
  std::vector<EsmtpParam> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t sp = text.find(' ', pos);
    const std::size_t end = sp == std::string_view::npos ? text.size() : sp;
    if (end == pos) return fail(pos, "empty parameter (more than one space?)");
    auto p = one_param(text.substr(pos, end - pos), pos, utf8);
    if (!p) return p.error();
    for (const auto& q : out) {
      if (q.keyword == p->keyword) return fail(pos, "parameter " + p->keyword + " given twice");
    }
    out.push_back(std::move(*p));
    if (sp == std::string_view::npos) break;
    pos = sp + 1;
    if (pos == text.size()) return fail(sp, "trailing space after the parameters");
  }
  return out;
}

Result<MailParams> parse_mail_params(std::string_view text, const ParamOptions& options) {
  auto list = parse_esmtp_params(text, options.utf8);
  if (!list) return list.error();
  MailParams m;
  for (const auto& p : *list) {
    const auto k = known_param(p.keyword);
    if (!k || !param_applies_to(*k, ParamCommand::mail)) {
      m.unknown.push_back(p);
      continue;
    }
    if (auto e = apply_mail(*k, p, options, m)) return *e;
  }
  if (m.hold_for_seconds && m.hold_until)
    return fail(0, "HOLDFOR and HOLDUNTIL are mutually exclusive");
  return m;
}

Result<RcptParams> parse_rcpt_params(std::string_view text, const ParamOptions& options) {
  auto list = parse_esmtp_params(text, options.utf8);
  if (!list) return list.error();
  RcptParams r;
  for (const auto& p : *list) {
    const auto k = known_param(p.keyword);
    if (!k || !param_applies_to(*k, ParamCommand::rcpt)) {
      r.unknown.push_back(p);
      continue;
    }
    if (auto e = apply_rcpt(*k, p, r)) return *e;
  }
  return r;
}

std::string serialize_params(const MailParams& m) {
  static constexpr std::string_view kBodies[] = {"7BIT", "8BITMIME", "BINARYMIME"};
  std::string out;
  if (m.size) append(out, "SIZE", std::to_string(*m.size));
  if (m.body) append(out, "BODY", kBodies[static_cast<int>(*m.body)]);
  if (m.smtputf8) append(out, "SMTPUTF8");
  if (m.auth)
    append(out, "AUTH", xtext_encode(m.auth->mailbox ? serialize(*m.auth->mailbox) : "<>"));
  if (m.ret) append(out, "RET", *m.ret == RetType::full ? "FULL" : "HDRS");
  if (m.envid) append(out, "ENVID", xtext_encode(*m.envid));
  if (m.hold_for_seconds) append(out, "HOLDFOR", std::to_string(*m.hold_for_seconds));
  if (m.hold_until) append(out, "HOLDUNTIL", format_date_time(*m.hold_until));
  if (m.by) {
    append(out, "BY",
           std::to_string(m.by->seconds) + (m.by->mode == DeliverBy::Mode::return_ ? ";R" : ";N") +
               (m.by->trace ? "T" : ""));
  }
  if (m.mt_priority) append(out, "MT-PRIORITY", std::to_string(*m.mt_priority));
  if (m.requiretls) append(out, "REQUIRETLS");
  append_unknown(out, m.unknown);
  return out;
}

std::string serialize_params(const RcptParams& r) {
  std::string out;
  if (r.notify) {
    const Notify& n = *r.notify;
    std::string v = n.never ? "NEVER" : "";
    for (auto [on, name] :
         {std::pair{n.success, "SUCCESS"}, {n.failure, "FAILURE"}, {n.delay, "DELAY"}}) {
      if (!on) continue;
      if (!v.empty()) v.push_back(',');
      v += name;
    }
    append(out, "NOTIFY", v);
  }
  if (r.orcpt) append(out, "ORCPT", r.orcpt->addr_type + ";" + xtext_encode(r.orcpt->address));
  append_unknown(out, r.unknown);
  return out;
}

Result<std::string> xtext_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      auto upper_hex = [](char h) { return chars::is_digit(h) || (h >= 'A' && h <= 'F'); };
      if (i + 2 >= text.size()) return fail(i, "truncated xtext hexchar");
      if (!upper_hex(text[i + 1]) || !upper_hex(text[i + 2]))
        return fail(i, "invalid xtext hexchar");
      out.push_back(
          static_cast<char>(chars::hex_value(text[i + 1]) * 16 + chars::hex_value(text[i + 2])));
      i += 2;
    } else if (chars::u8(c) >= 33 && chars::u8(c) <= 126 && c != '=') {
      out.push_back(c);
    } else {
      return fail(i, "invalid character in xtext");
    }
  }
  return out;
}

std::string xtext_encode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    const unsigned char b = chars::u8(c);
    if (b >= 33 && b <= 126 && c != '+' && c != '=') {
      out.push_back(c);
    } else {
      out.push_back('+');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out;
}

Result<HoldUntil> parse_date_time(std::string_view s) {
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits_at(s, 0, 4, year) || !punct_at(s, 4, '-') || !digits_at(s, 5, 2, month) ||
      !punct_at(s, 7, '-') || !digits_at(s, 8, 2, day) || !punct_at(s, 10, 'T') ||
      !digits_at(s, 11, 2, hour) || !punct_at(s, 13, ':') || !digits_at(s, 14, 2, minute) ||
      !punct_at(s, 16, ':') || !digits_at(s, 17, 2, second)) {
    return fail(0, "expected YYYY-MM-DDTHH:MM:SS");
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return fail(0, "date-time field out of range");
  }
  std::size_t pos = 19;
  std::uint32_t nanos = 0;
  if (punct_at(s, pos, '.')) {
    const std::size_t start = ++pos;
    for (; pos < s.size() && chars::is_digit(s[pos]); ++pos) {
      if (pos - start < 9) nanos = nanos * 10 + static_cast<std::uint32_t>(s[pos] - '0');
    }
    if (pos == start) return fail(pos, "empty fraction of a second");
    for (std::size_t k = pos - start; k < 9; ++k) nanos *= 10;
  }
  std::int64_t offset = 0;
  if (!offset_at(s, pos, offset)) return fail(pos, "expected Z or +hh:mm / -hh:mm");
  const std::int64_t t = days_from_civil(year, month, day) * 86400 + std::int64_t{hour} * 3600 +
                         std::int64_t{minute} * 60 + second - offset;
  // Keep the instant printable as a four-digit UTC year.
  if (t < days_from_civil(0, 1, 1) * 86400 || t >= days_from_civil(10000, 1, 1) * 86400) {
    return fail(0, "date-time outside years 0000-9999 UTC");
  }
  return HoldUntil{t, nanos};
}

std::string format_date_time(const HoldUntil& t) {
  std::int64_t days = t.unix_seconds / 86400, rem = t.unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[64];
  const int n =
      std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                    static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                    static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<std::size_t>(n));
  if (t.nanoseconds != 0) {
    std::snprintf(buf, sizeof buf, ".%09u", static_cast<unsigned>(t.nanoseconds % 1000000000));
    out += buf;
    while (out.back() == '0') out.pop_back();
  }
  return out + "Z";
}

}  // namespace tern::protocol::smtp
