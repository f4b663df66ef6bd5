// Properties of protocol/mail/dsn: for arbitrary caller text (control bytes, CR/LF, 8-bit,
// long runs, copies of the boundary), a built DSN has only CRLF line ends, no line over
// 998 bytes, a boundary that occurs nowhere inside its parts, and a structure that a small
// MIME splitter parses back: known top-level fields only, three parts of the right types,
// one Final-Recipient and one Action per recipient.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/mail/dsn.hpp"

namespace tern::protocol::mail {
namespace {

// Text that favours the bytes that break mail: CR, LF, separators, 8-bit; sometimes long.
rc::Gen<std::string> gen_text() {
  const auto byte =
      rc::gen::weightedOneOf<char>({{4, rc::gen::inRange<char>('a', 'z')},
                                    {3, rc::gen::elementOf(std::string("\r\n :;<>=+-.\t\"@"))},
                                    {1, rc::gen::arbitrary<char>()}});
  return rc::gen::mapcat(rc::gen::container<std::string>(byte), [](std::string piece) {
    return rc::gen::map(
        rc::gen::weightedOneOf<int>({{6, rc::gen::just(1)}, {1, rc::gen::inRange(2, 400)}}),
        [piece](int times) {
          std::string out;
          for (int i = 0; i < times; ++i) out += piece;
          return out;
        });
  });
}

template <class T>
rc::Gen<std::optional<T>> gen_optional(rc::Gen<T> gen) {
  return rc::gen::map(rc::gen::maybe(std::move(gen)), [](rc::Maybe<T> m) {
    return m ? std::optional<T>(std::move(*m)) : std::optional<T>();
  });
}

rc::Gen<std::string> gen_status() {
  return rc::gen::weightedOneOf<std::string>(
      {{30, rc::gen::elementOf(std::vector<std::string>{"5.1.1", "4.4.7", "2.0.0", "5.7.1"})},
       {1, gen_text()}});
}

rc::Gen<DsnRecipient> gen_recipient() {
  return rc::gen::build<DsnRecipient>(
      rc::gen::set(&DsnRecipient::final_recipient,
                   rc::gen::weightedOneOf<std::string>(
                       {{4, rc::gen::map(gen_text(), [](std::string t) { return "r" + t; })},
                        {1, gen_text()}})),
      rc::gen::set(&DsnRecipient::original_recipient,
                   gen_optional(rc::gen::build<OriginalRecipient>(
                       rc::gen::set(&OriginalRecipient::addr_type, gen_text()),
                       rc::gen::set(&OriginalRecipient::address, gen_text())))),
      rc::gen::set(&DsnRecipient::action, rc::gen::elementOf(std::vector<Action>{
                                              Action::failed, Action::delayed, Action::delivered,
                                              Action::relayed, Action::expanded})),
      rc::gen::set(&DsnRecipient::status, gen_status()),
      rc::gen::set(&DsnRecipient::remote_mta, gen_optional(gen_text())),
      rc::gen::set(&DsnRecipient::diagnostic_code, gen_optional(gen_text())),
      rc::gen::set(&DsnRecipient::last_attempt_unix, rc::gen::arbitrary<std::int64_t>()),
      rc::gen::set(&DsnRecipient::will_retry_until_unix,
                   gen_optional(rc::gen::arbitrary<std::int64_t>())));
}

std::vector<std::string> split_lines(const std::string& m) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < m.size()) {
    const std::size_t end = m.find("\r\n", pos);
    RC_ASSERT(end != std::string::npos);  // the text ends in CRLF
    out.push_back(m.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

// Unfolded header fields of a header block given as lines.
std::vector<std::string> unfold(const std::vector<std::string>& lines) {
  std::vector<std::string> fields;
  for (const std::string& l : lines) {
    if (!l.empty() && (l[0] == ' ' || l[0] == '\t')) {
      RC_ASSERT(!fields.empty());
      fields.back() += l;
    } else {
      fields.push_back(l);
    }
  }
  return fields;
}

struct Part {
  std::vector<std::string> headers;  // unfolded
  std::vector<std::string> body;
};

Part parse_part(const std::vector<std::string>& lines) {
  Part p;
  std::size_t i = 0;
  std::vector<std::string> head;
  while (i < lines.size() && !lines[i].empty()) head.push_back(lines[i++]);
  RC_ASSERT(i < lines.size());  // every part has its empty line
  p.headers = unfold(head);
  p.body.assign(lines.begin() + static_cast<std::ptrdiff_t>(i) + 1, lines.end());
  return p;
}

std::size_t count_prefix(const std::vector<std::string>& v, std::string_view prefix) {
  std::size_t n = 0;
  for (const auto& s : v) n += s.starts_with(prefix) ? 1 : 0;
  return n;
}

std::string boundary_of(const std::vector<std::string>& fields) {
  for (const std::string& f : fields) {
    if (!f.starts_with("Content-Type: multipart/report;")) continue;
    const std::size_t at = f.find("boundary=\"");
    RC_ASSERT(at != std::string::npos);
    const std::size_t end = f.find('"', at + 10);
    RC_ASSERT(end != std::string::npos);
    return f.substr(at + 10, end - at - 10);
  }
  RC_FAIL("no multipart/report Content-Type");
}

void check_structure(const DsnInput& in, const Dsn& dsn) {
  const std::vector<std::string> lines = split_lines(dsn.message);
  for (const auto& l : lines) {
    RC_ASSERT(l.size() <= 998u);
    RC_ASSERT(l.find_first_of("\r\n") == std::string::npos);
  }
  std::size_t i = 0;
  std::vector<std::string> head;
  while (i < lines.size() && !lines[i].empty()) head.push_back(lines[i++]);
  const auto fields = unfold(head);
  static const std::vector<std::string> kNames = {
      "From:",          "To:",           "Subject:",      "Date:",
      "Message-ID:",    "MIME-Version:", "Content-Type:", "Content-Transfer-Encoding:",
      "Auto-Submitted:"};
  for (const auto& f : fields) {
    RC_ASSERT(std::any_of(kNames.begin(), kNames.end(), [&](auto& n) { return f.starts_with(n); }));
  }
  RC_ASSERT(fields.size() >= 8u);
  const std::string b = boundary_of(fields);
  std::vector<std::vector<std::string>> parts;
  bool closed = false;
  for (++i; i < lines.size(); ++i) {
    RC_ASSERT(!closed);  // nothing after the closing delimiter
    if (lines[i] == "--" + b) {
      parts.emplace_back();
    } else if (lines[i] == "--" + b + "--") {
      closed = true;
    } else if (!parts.empty()) {
      RC_ASSERT(lines[i].find(b) == std::string::npos);
      parts.back().push_back(lines[i]);
    }
  }
  RC_ASSERT(closed);
  RC_ASSERT(parts.size() == 3u);
  const Part human = parse_part(parts[0]);
  const Part status = parse_part(parts[1]);
  const Part returned = parse_part(parts[2]);
  RC_ASSERT(human.headers.at(0) == "Content-Type: text/plain; charset=utf-8");
  RC_ASSERT(status.headers.at(0) == "Content-Type: message/delivery-status");
  const bool full = in.ret == Ret::full && in.original_message.size() <= in.returned_bytes_max;
  RC_ASSERT(returned.headers.at(0) ==
            (full ? "Content-Type: message/rfc822" : "Content-Type: text/rfc822-headers"));
  const auto status_fields = unfold(status.body);
  RC_ASSERT(count_prefix(status_fields, "Final-Recipient: rfc822;") == in.recipients.size());
  RC_ASSERT(count_prefix(status_fields, "Action: ") == in.recipients.size());
  RC_ASSERT(count_prefix(status_fields, "Reporting-MTA: ") == 1u);
  RC_ASSERT(count_prefix(status_fields, "Arrival-Date: ") == 1u);
}

RC_GTEST_PROP(MailDsn, AnyInputGivesAWellFormedReport, ()) {
  DsnInput in;
  in.reporting_mta = *rc::gen::weightedOneOf<std::string>(
      {{4, rc::gen::just(std::string("mx.example.org"))}, {1, gen_text()}});
  in.message_id_domain = "example.org";
  in.seed = *rc::gen::elementOf(std::vector<std::string>{"S1", "Q7x", "a.b-c_d"});
  in.arrival_unix = *rc::gen::arbitrary<std::int64_t>();
  in.now_unix = *rc::gen::arbitrary<std::int64_t>();
  in.envelope_sender = *gen_text();
  in.envid = *gen_optional(gen_text());
  in.ret = *rc::gen::elementOf(std::vector<Ret>{Ret::absent, Ret::hdrs, Ret::full});
  // The original mixes free text with copies of the boundary the builder would pick first.
  const auto pieces =
      *rc::gen::container<std::vector<std::string>>(rc::gen::weightedOneOf<std::string>(
          {{5, gen_text()},
           {1, rc::gen::just("\r\n--tern-" + in.seed + ".00000000\r\n")},
           {1, rc::gen::just("tern-" + in.seed + ".00000001")}}));
  std::string original;
  for (const auto& p : pieces) original += p;
  in.original_message = original;
  const auto count = *rc::gen::weightedOneOf<std::size_t>(
      {{10, rc::gen::inRange<std::size_t>(1, 4)}, {1, rc::gen::inRange<std::size_t>(0, 8)}});
  in.recipients = *rc::gen::container<std::vector<DsnRecipient>>(count, gen_recipient());
  in.returned_bytes_max = *rc::gen::inRange<std::size_t>(0, 3000);
  in.recipients_max = 6;

  auto dsn = build_dsn(in);
  if (!dsn) {
    const std::string& why = dsn.error().message;
    RC_ASSERT(why == "no DSN to the null reverse-path" || why == "no recipients" ||
              why == "too many recipients" || why == "empty final recipient" ||
              why == "status is not class.subject.detail" || why == "empty envelope sender" ||
              why == "empty reporting MTA");
    RC_TAG(why);
    return;
  }
  check_structure(in, *dsn);
  RC_TAG("built");
}

RC_GTEST_PROP(MailDsn, XtextRoundTrip, (const std::string& raw)) {
  // Encode every byte outside xchar as +XX; decoding gives the bytes back.
  std::string encoded;
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      encoded += ch;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      encoded += '+';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  RC_ASSERT(xtext_decode(encoded).value() == raw);
}

}  // namespace
}  // namespace tern::protocol::mail
