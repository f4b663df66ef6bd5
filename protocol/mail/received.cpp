#include "protocol/mail/received.hpp"

#include <array>
#include <cstdio>

namespace tern::protocol::mail {
namespace {

// Days since 1970-01-01 to (year, month, day): Howard Hinnant's civil_from_days.
void civil_from_days(std::int64_t days, std::int64_t& year, unsigned& month, unsigned& day) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

std::string sanitise(std::string_view value) {
  std::string out;
  const auto n = value.size() < 255 ? value.size() : 255;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const char c = value[i];
    const bool printable = c > 0x20 && c < 0x7F;
    // Brackets stay: "[192.0.2.1]" is how an address literal is written.
    const bool special = c == '(' || c == ')' || c == ';' || c == '\\';
    out += printable && !special ? c : '?';
  }
  return out;
}

std::string protocol_name(const ReceivedFacts& f) {
  std::string name = f.utf8                                  ? (f.lmtp ? "UTF8LMTP" : "UTF8SMTP")
                     : f.lmtp                                ? "LMTP"
                     : (f.esmtp || f.tls || f.authenticated) ? "ESMTP"
                                                             : "SMTP";
  if (f.tls) name += 'S';
  if (f.authenticated) name += 'A';
  return name;
}

}  // namespace

std::string format_rfc5322_date(std::int64_t unix_seconds) {
  static constexpr std::array<const char*, 7> kDays = {"Thu", "Fri", "Sat", "Sun",
                                                       "Mon", "Tue", "Wed"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (unix_seconds < 0) unix_seconds = 0;
  if (unix_seconds > 253402300799) unix_seconds = 253402300799;  // 9999-12-31 23:59:59
  const std::int64_t days = unix_seconds / 86400;
  const std::int64_t rest = unix_seconds % 86400;
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %u %s %04lld %02lld:%02lld:%02lld +0000",
                kDays[static_cast<std::size_t>(days % 7)], day, kMonths[month - 1],
                static_cast<long long>(year), static_cast<long long>(rest / 3600),
                static_cast<long long>(rest / 60 % 60), static_cast<long long>(rest % 60));
  return buffer;
}

std::string received_header(const ReceivedFacts& f) {
  std::string out = "Received: from ";
  out += f.helo.empty() ? "unknown" : sanitise(f.helo);
  out += " (";
  if (!f.reverse_name.empty()) out += sanitise(f.reverse_name) + " ";
  out += "[" + sanitise(f.remote_ip) + "])\r\n\tby " + sanitise(f.hostname) + " (Tern) with " +
         protocol_name(f) + " id " + sanitise(f.id);
  if (f.tls) {
    out += "\r\n\t(using " + sanitise(f.tls_version) + " with cipher " + sanitise(f.tls_cipher) +
           " (" + std::to_string(f.tls_cipher_bits) + " bits))";
  }
  // RFC 5322 §3.6.7: the tokens always end with ";" before the date.
  if (f.single_recipient) {
    out += "\r\n\tfor <" + sanitise(*f.single_recipient) + ">; ";
  } else {
    out += ";\r\n\t";
  }
  out += format_rfc5322_date(f.unix_seconds) + "\r\n";
  return out;
}

}  // namespace tern::protocol::mail
