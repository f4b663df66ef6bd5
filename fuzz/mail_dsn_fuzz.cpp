// Fuzz target mail_dsn: the RCPT parameter readers (notify_wants, orcpt_of, xtext_decode)
// and build_dsn with fuzzer-chosen fields. Invariants: a decoded xtext re-encodes and
// decodes to itself; relayed/expanded follow delivered; NOTIFY=NEVER wants nothing; a DSN
// that builds has only CRLF line ends, no line over 998 bytes, exactly one boundary line
// before each of its three parts and a closing one, no boundary inside the parts, and one
// Final-Recipient per recipient; a refused DSN is refused for a null sender, no recipients,
// or a bad recipient.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/mail/dsn.hpp"

using namespace tern::protocol::mail;
using tern::fuzz::check;

namespace {

std::string xtext_encode(const std::string& raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      out += ch;
    } else {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void check_params(const std::string& params) {
  if (auto d = xtext_decode(params)) {
    check(d->size() <= params.size());
    check(xtext_decode(xtext_encode(*d)).value() == *d);
  } else {
    check(d.error().offset < params.size());
  }
  const bool success = notify_wants(params, Action::delivered);
  check(notify_wants(params, Action::relayed) == success);
  check(notify_wants(params, Action::expanded) == success);
  if (params == "NOTIFY=NEVER") {
    check(!success && !notify_wants(params, Action::failed) &&
          !notify_wants(params, Action::delayed));
  }
  if (auto o = orcpt_of(params); o && *o) {
    check(!(*o)->addr_type.empty() && !(*o)->address.empty());
    check((*o)->address.size() <= kOrcptBytesMax);
  }
}

std::vector<std::string> lines_of(const std::string& m) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < m.size()) {
    const std::size_t end = m.find("\r\n", pos);
    check(end != std::string::npos);
    out.push_back(m.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

void check_dsn(const DsnInput& in, const Dsn& dsn) {
  const std::string& m = dsn.message;
  // Caller text in To: may say boundary="..." too, but never at the start of a line.
  const std::size_t type = m.find("\r\nContent-Type: multipart/report;");
  check(type != std::string::npos);
  const std::size_t at = m.find("boundary=\"", type);
  check(at != std::string::npos);
  const std::size_t end = m.find('"', at + 10);
  check(end != std::string::npos);
  const std::string b = m.substr(at + 10, end - at - 10);
  std::size_t delimiters = 0, closings = 0, finals = 0, occurrences = 0;
  bool in_body = false;  // caller text in the top header (To:) may hold the string: harmless
  for (const std::string& l : lines_of(m)) {
    check(l.size() <= 998);
    check(l.find_first_of("\r\n") == std::string::npos);
    check(closings == 0 || l.empty());  // nothing after the closing delimiter
    if (l == "--" + b)
      ++delimiters;
    else if (l == "--" + b + "--")
      ++closings;
    else if (in_body && l.find(b) != std::string::npos)
      ++occurrences;
    in_body |= l.empty();
    if (delimiters == 2 && l.starts_with("Final-Recipient: ")) ++finals;
  }
  check(delimiters == 3 && closings == 1);
  check(occurrences == 0);
  check(finals == in.recipients.size());
  bool eight = false;
  for (const char c : m) eight |= static_cast<unsigned char>(c) >= 0x80;
  check(eight == dsn.eight_bit);
}

DsnRecipient recipient(FuzzedDataProvider& p) {
  DsnRecipient r;
  r.final_recipient = p.ConsumeRandomLengthString(300);
  if (p.ConsumeBool()) {
    auto o = orcpt_of("ORCPT=" + p.ConsumeRandomLengthString(300));
    if (o && *o) r.original_recipient = **o;
  }
  r.action = static_cast<Action>(p.ConsumeIntegralInRange(0, 4));
  r.status = p.ConsumeBool() ? std::string("5.1.1") : p.ConsumeRandomLengthString(12);
  if (p.ConsumeBool()) r.remote_mta = p.ConsumeRandomLengthString(300);
  if (p.ConsumeBool()) r.diagnostic_code = p.ConsumeRandomLengthString(3000);
  r.last_attempt_unix = p.ConsumeIntegral<std::int64_t>();
  if (p.ConsumeBool()) r.will_retry_until_unix = p.ConsumeIntegral<std::int64_t>();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  check_params(p.ConsumeRandomLengthString(600));
  DsnInput in;
  in.reporting_mta =
      p.ConsumeBool() ? std::string("mx.example.org") : p.ConsumeRandomLengthString(300);
  in.message_id_domain = "example.org";
  in.seed = p.ConsumeBool() ? std::string("S1") : p.ConsumeRandomLengthString(60);
  in.arrival_unix = p.ConsumeIntegral<std::int64_t>();
  in.now_unix = p.ConsumeIntegral<std::int64_t>();
  in.envelope_sender = p.ConsumeRandomLengthString(300);
  if (p.ConsumeBool()) in.envid = p.ConsumeRandomLengthString(200);
  in.ret = static_cast<Ret>(p.ConsumeIntegralInRange(0, 2));
  in.returned_bytes_max = p.ConsumeIntegralInRange<std::size_t>(0, 5000);
  in.recipients_max = 8;
  const int count = p.ConsumeIntegralInRange(0, 9);
  for (int i = 0; i < count; ++i) in.recipients.push_back(recipient(p));
  const std::string original = p.ConsumeRemainingBytesAsString();
  in.original_message = original;
  auto dsn = build_dsn(in);
  if (!dsn) {
    const bool null_sender = in.envelope_sender.empty() || in.envelope_sender == "<>";
    check(null_sender || in.recipients.empty() || in.recipients.size() > in.recipients_max ||
          dsn.error().offset < in.recipients.size() || dsn.error().offset == 0);
    return 0;
  }
  check(!in.envelope_sender.empty() && in.envelope_sender != "<>");
  check_dsn(in, *dsn);
  return 0;
}
