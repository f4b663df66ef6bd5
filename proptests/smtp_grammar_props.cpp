// Properties of the SMTP grammar: parse(serialize(x)) == x for paths, commands and replies
// built by the generators below, and the ReplyParser's output does not depend on how its
// input is split.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/smtp/address.hpp"
#include "protocol/smtp/command.hpp"
#include "protocol/smtp/params.hpp"
#include "protocol/smtp/reply.hpp"

namespace tern::protocol::smtp {
namespace {

const std::vector<std::string> utf8_samples = {"\xC3\xA9", "\xC3\xBC", "\xE6\x97\xA5",
                                               "\xF0\x9F\x98\x80", "\xD0\x96"};

rc::Gen<char> char_from(std::string alphabet) {
  return rc::gen::elementOf(std::move(alphabet));
}

template <class T>
rc::Gen<std::vector<T>> vector_of(std::size_t min, std::size_t max, rc::Gen<T> gen) {
  return rc::gen::mapcat(rc::gen::inRange(min, max + 1), [gen](std::size_t n) {
    return rc::gen::container<std::vector<T>>(n, gen);
  });
}

rc::Gen<std::string> string_from(std::string alphabet, std::size_t min, std::size_t max) {
  return rc::gen::mapcat(rc::gen::inRange(min, max + 1), [alphabet](std::size_t n) {
    return rc::gen::container<std::string>(n, char_from(alphabet));
  });
}

const std::string alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const std::string atext = alnum + "!#$%&'*+-/=?^_`{|}~";
const std::string printable = [] {
  std::string s;
  for (char c = 32; c < 127; ++c) s.push_back(c);
  return s;
}();
const std::string dcontent = [] {
  std::string s;
  for (char c = 33; c < 127; ++c)
    if (c != '[' && c != ']' && c != '\\') s.push_back(c);
  return s;
}();
const std::string value_chars = [] {
  std::string s;
  for (char c = 33; c < 127; ++c)
    if (c != '=') s.push_back(c);
  return s;
}();

// Joins ASCII pieces with an occasional UTF-8 scalar when utf8 is allowed.
rc::Gen<std::string> sprinkle_utf8(rc::Gen<std::string> base, bool utf8) {
  if (!utf8) return base;
  return rc::gen::map(
      rc::gen::tuple(base, rc::gen::elementOf(utf8_samples), rc::gen::arbitrary<bool>()),
      [](const std::tuple<std::string, std::string, bool>& t) {
        return std::get<2>(t) ? std::get<0>(t) + std::get<1>(t) : std::get<0>(t);
      });
}

rc::Gen<std::string> label(bool utf8) {
  auto ascii = rc::gen::map(
      rc::gen::tuple(char_from(alnum), string_from(alnum + "-", 0, 8), char_from(alnum)),
      [](const std::tuple<char, std::string, char>& t) {
        return std::string(1, std::get<0>(t)) + std::get<1>(t) + std::get<2>(t);
      });
  return sprinkle_utf8(ascii, utf8);
}

rc::Gen<Domain> gen_domain(bool utf8) {
  return rc::gen::map(rc::gen::mapcat(rc::gen::inRange(1, 5),
                                      [utf8](int n) {
                                        return rc::gen::container<std::vector<std::string>>(
                                            static_cast<std::size_t>(n), label(utf8));
                                      }),
                      [](const std::vector<std::string>& labels) {
                        std::string d;
                        for (const auto& l : labels) d += (d.empty() ? "" : ".") + l;
                        return Domain{d};
                      });
}

rc::Gen<Ipv6Literal> gen_ipv6() {
  auto group = rc::gen::oneOf(rc::gen::just<std::uint16_t>(0), rc::gen::arbitrary<std::uint16_t>());
  return rc::gen::map(rc::gen::container<std::vector<std::uint16_t>>(8, group),
                      [](const std::vector<std::uint16_t>& g) {
                        Ipv6Literal v;
                        for (std::size_t i = 0; i < 8; ++i) {
                          v.octets[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
                          v.octets[2 * i + 1] = static_cast<std::uint8_t>(g[i]);
                        }
                        return v;
                      });
}

rc::Gen<Host> gen_host(bool utf8) {
  auto v4 = rc::gen::map(rc::gen::arbitrary<std::array<std::uint8_t, 4>>(),
                         [](std::array<std::uint8_t, 4> a) { return Host{Ipv4Literal{a}}; });
  auto general = rc::gen::map(
      rc::gen::tuple(string_from("xyz", 1, 1), string_from(alnum + "-", 0, 5),
                     string_from(dcontent, 1, 12)),
      [](const std::tuple<std::string, std::string, std::string>& t) {
        return Host{GeneralLiteral{std::get<0>(t) + std::get<1>(t) + "t", std::get<2>(t)}};
      });
  return rc::gen::oneOf(rc::gen::map(gen_domain(utf8), [](Domain d) { return Host{std::move(d)}; }),
                        v4, rc::gen::map(gen_ipv6(), [](Ipv6Literal v) { return Host{v}; }),
                        general);
}

rc::Gen<std::string> gen_local_part(bool utf8) {
  auto dot_string = rc::gen::map(vector_of(1, 3, string_from(atext, 1, 6)),
                                 [](const std::vector<std::string>& atoms) {
                                   std::string s;
                                   for (const auto& a : atoms) s += (s.empty() ? "" : ".") + a;
                                   return s;
                                 });
  return sprinkle_utf8(rc::gen::oneOf(dot_string, string_from(printable, 0, 20)), utf8);
}

rc::Gen<Mailbox> gen_mailbox(bool utf8) {
  return rc::gen::map(rc::gen::tuple(gen_local_part(utf8), gen_host(utf8)),
                      [](std::tuple<std::string, Host> t) {
                        return Mailbox{std::move(std::get<0>(t)), std::move(std::get<1>(t))};
                      });
}

rc::Gen<std::optional<Path>> gen_opt_path(bool utf8) {
  return rc::gen::oneOf(rc::gen::just(std::optional<Path>()),
                        rc::gen::map(gen_mailbox(utf8), [](Mailbox m) {
                          return std::optional<Path>(Path{std::move(m), false});
                        }));
}

template <class T>
rc::Gen<std::optional<T>> maybe(rc::Gen<T> g) {
  return rc::gen::oneOf(rc::gen::just(std::optional<T>()), rc::gen::map(std::move(g), [](T v) {
                          return std::optional<T>(std::move(v));
                        }));
}

rc::Gen<std::vector<EsmtpParam>> gen_unknown() {
  auto one = rc::gen::map(
      rc::gen::tuple(string_from("ABCDEFGH0123-", 0, 6), maybe(string_from(value_chars, 1, 10))),
      [](std::tuple<std::string, std::optional<std::string>> t) {
        return EsmtpParam{"X" + std::get<0>(t), std::move(std::get<1>(t))};
      });
  return rc::gen::map(vector_of(0, 2, one), [](std::vector<EsmtpParam> v) {
    std::vector<EsmtpParam> unique;  // keywords must not repeat
    for (auto& p : v) {
      bool seen = false;
      for (const auto& q : unique) seen = seen || q.keyword == p.keyword;
      if (!seen) unique.push_back(std::move(p));
    }
    return unique;
  });
}

MailParams gen_mail_params_value(bool utf8) {
  MailParams m;
  m.size = *maybe(rc::gen::arbitrary<std::uint64_t>());
  m.body = *maybe(
      rc::gen::element(BodyType::seven_bit, BodyType::eight_bit_mime, BodyType::binary_mime));
  m.smtputf8 = utf8 || *rc::gen::arbitrary<bool>();
  if (*rc::gen::arbitrary<bool>()) m.auth = AuthParam{*maybe(gen_mailbox(false))};
  m.ret = *maybe(rc::gen::element(RetType::full, RetType::hdrs));
  m.envid = *maybe(string_from(printable, 1, 30));
  if (*rc::gen::arbitrary<bool>()) {
    m.hold_for_seconds = *rc::gen::inRange<std::uint32_t>(0, 1000000000);
  } else if (*rc::gen::arbitrary<bool>()) {
    const auto secs = *rc::gen::inRange<std::int64_t>(-62167219200LL, 253402300800LL);
    const std::uint32_t ns = *rc::gen::oneOf(rc::gen::just<std::uint32_t>(0),
                                             rc::gen::inRange<std::uint32_t>(0, 1000000000));
    m.hold_until = HoldUntil{secs, ns};
  }
  if (*rc::gen::arbitrary<bool>()) {
    m.by = DeliverBy{*rc::gen::inRange<std::int64_t>(-999999999, 1000000000),
                     *rc::gen::element(DeliverBy::Mode::notify, DeliverBy::Mode::return_),
                     *rc::gen::arbitrary<bool>()};
  }
  m.mt_priority = *maybe(rc::gen::inRange(-9, 10));
  m.requiretls = *rc::gen::arbitrary<bool>();
  m.unknown = *gen_unknown();
  return m;
}

RcptParams gen_rcpt_params_value() {
  RcptParams r;
  if (*rc::gen::arbitrary<bool>()) {
    Notify n;
    if (*rc::gen::arbitrary<bool>()) {
      n.never = true;
    } else {
      n.success = *rc::gen::arbitrary<bool>();
      n.failure = *rc::gen::arbitrary<bool>();
      n.delay = !n.success && !n.failure ? true : *rc::gen::arbitrary<bool>();
    }
    r.notify = n;
  }
  if (*rc::gen::arbitrary<bool>())
    r.orcpt = Orcpt{*string_from(alnum + "-", 1, 8), *string_from(printable, 1, 40)};
  r.unknown = *gen_unknown();
  return r;
}

std::string base64(const std::string& raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(raw[i]) << 16;
    if (i + 1 < raw.size()) v |= static_cast<unsigned char>(raw[i + 1]) << 8;
    if (i + 2 < raw.size()) v |= static_cast<unsigned char>(raw[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += i + 1 < raw.size() ? kAlphabet[v >> 6 & 63] : '=';
    out += i + 2 < raw.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

Command gen_command_value() {
  const bool utf8 = *rc::gen::arbitrary<bool>();
  switch (*rc::gen::inRange(0, 15)) {
    case 0: return Ehlo{*gen_host(utf8)};
    case 1: return Helo{*gen_host(utf8)};
    case 2: return Lhlo{*gen_host(utf8)};
    case 3: return Mail{ReversePath{*gen_opt_path(utf8)}, gen_mail_params_value(utf8)};
    case 4: {
      auto fp = ForwardPath{*gen_opt_path(utf8)};
      return Rcpt{std::move(fp), gen_rcpt_params_value()};
    }
    case 5: return Data{};
    case 6: return Bdat{*rc::gen::arbitrary<std::uint64_t>(), *rc::gen::arbitrary<bool>()};
    case 7: return Rset{};
    case 8: return Noop{*maybe(sprinkle_utf8(string_from(printable, 1, 20), utf8))};
    case 9: return Quit{};
    case 10: return Vrfy{*sprinkle_utf8(string_from(printable, 1, 20), utf8)};
    case 11: return Expn{*sprinkle_utf8(string_from(printable, 1, 20), utf8)};
    case 12: return Help{*maybe(string_from(printable, 1, 20))};
    case 13: return StartTls{};
    default: {
      std::optional<std::string> ir;
      if (*rc::gen::arbitrary<bool>()) ir = base64(*rc::gen::arbitrary<std::string>());
      return Auth{*string_from("ABCXYZ0129-_", 1, 20), ir};
    }
  }
}

ParseOptions roomy_options(const Command& c) {
  ParseOptions o;
  o.smtputf8 = true;
  o.lmtp = std::holds_alternative<Lhlo>(c);
  o.bdat_chunk_bytes_max = UINT64_MAX;
  o.limits.command_line_bytes_max = 1 << 16;
  o.limits.path_bytes_max = 1 << 12;
  return o;
}

Reply gen_reply_value() {
  Reply r;
  r.code = *rc::gen::inRange<std::uint16_t>(200, 600);
  if (r.code / 100 != 3 && *rc::gen::arbitrary<bool>()) {
    r.enhanced = EnhancedStatus{static_cast<std::uint16_t>(r.code / 100),
                                *rc::gen::inRange<std::uint16_t>(0, 1000),
                                *rc::gen::inRange<std::uint16_t>(0, 1000)};
  }
  r.lines = *vector_of(1, 5, string_from(printable + "\t", 0, 30));
  return r;
}

std::vector<Reply> read_in_chunks(const std::string& wire, const std::vector<std::size_t>& cuts,
                                  bool enhanced, bool& failed) {
  ReplyParserOptions o;
  o.enhanced_status_codes = enhanced;
  o.ready_replies_max = 2;  // exercise the early stop as well
  ReplyParser p(o);
  std::vector<Reply> out;
  std::size_t pos = 0, cut = 0;
  while (pos < wire.size() && !p.failed()) {
    const std::size_t chunk = std::min(
        wire.size() - pos, cuts.empty() ? wire.size() : 1 + cuts[cut++ % cuts.size()] % 17);
    std::string_view piece(wire.data() + pos, chunk);
    while (!piece.empty() && !p.failed()) {
      const std::size_t n = p.feed(std::span<const char>(piece.data(), piece.size()));
      piece.remove_prefix(n);
      while (auto r = p.poll()) out.push_back(std::move(*r));
    }
    pos += chunk;
  }
  while (auto r = p.poll()) out.push_back(std::move(*r));
  failed = p.failed();
  return out;
}

RC_GTEST_PROP(SmtpGrammar, PathRoundTrip, ()) {
  const bool utf8 = *rc::gen::arbitrary<bool>();
  const AddressOptions o{GrammarLimits{}, true};
  const ReversePath rp{*gen_opt_path(utf8)};
  auto back = parse_reverse_path(serialize(rp), o);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == rp);
  const ForwardPath fp{*gen_opt_path(utf8)};
  auto fback = parse_forward_path(serialize(fp), o);
  RC_ASSERT(fback.has_value());
  RC_ASSERT(*fback == fp);
}

RC_GTEST_PROP(SmtpGrammar, CommandRoundTrip, ()) {
  const Command c = gen_command_value();
  auto line = serialize(c);
  if (!line) RC_FAIL(line.error().message);
  RC_ASSERT(line->size() >= 2 && line->substr(line->size() - 2) == "\r\n");
  auto back = parse_command(std::string_view(*line).substr(0, line->size() - 2), roomy_options(c));
  if (!back) RC_FAIL(*line + " -> " + back.error().error.message);
  RC_ASSERT(*back == c);
}

RC_GTEST_PROP(SmtpGrammar, ReplyRoundTrip, ()) {
  const Reply r = gen_reply_value();
  auto wire = serialize(r);
  RC_ASSERT(wire.has_value());
  bool failed = false;
  auto back = read_in_chunks(*wire, {}, r.enhanced.has_value(), failed);
  RC_ASSERT(!failed);
  RC_ASSERT(back.size() == 1u);
  RC_ASSERT(back[0] == r);
}

RC_GTEST_PROP(SmtpGrammar, ReplyParserIgnoresSplits, ()) {
  const auto replies = *vector_of(1, 5, rc::gen::exec(gen_reply_value));
  std::string wire;
  for (const auto& r : replies) wire += *serialize(r);
  if (*rc::gen::arbitrary<bool>())
    wire += *rc::gen::arbitrary<std::string>();  // maybe a broken tail
  const auto cuts = *rc::gen::arbitrary<std::vector<std::size_t>>();
  const bool enhanced = *rc::gen::arbitrary<bool>();
  bool failed_whole = false, failed_split = false;
  const auto whole = read_in_chunks(wire, {}, enhanced, failed_whole);
  const auto split = read_in_chunks(wire, cuts, enhanced, failed_split);
  RC_ASSERT(whole == split);
  RC_ASSERT(failed_whole == failed_split);
  RC_ASSERT(whole.size() >= replies.size());
}

}  // namespace
}  // namespace tern::protocol::smtp
