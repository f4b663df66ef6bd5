#include "protocol/smtp/address.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tern::protocol::smtp {
namespace {

AddressOptions ascii() {
  return AddressOptions{};
}
AddressOptions utf8() {
  return AddressOptions{GrammarLimits{}, true};
}

Mailbox mb(std::string local, std::string domain) {
  return Mailbox{std::move(local), Host{Domain{std::move(domain)}}};
}

// A domain of exactly n octets made of 63-octet labels.
std::string domain_of(std::size_t n) {
  std::string d;
  std::size_t left = n;
  while (true) {
    std::size_t take = std::min<std::size_t>(63, left);
    if (left > take && left - take < 2) take -= 2 - (left - take);  // leave room for ".x"
    d.append(take, 'a');
    left -= take;
    if (left == 0) return d;
    d.push_back('.');
    --left;
  }
}

TEST(Limits, DefaultsAreTheRfcValuesAndRaisingIsAllowed) {
  GrammarLimits l;
  EXPECT_EQ(l.local_part_bytes_max, 64u);
  EXPECT_EQ(l.domain_bytes_max, 255u);
  EXPECT_EQ(l.path_bytes_max, 256u);
  EXPECT_EQ(l.command_line_bytes_max, 512u);
  EXPECT_EQ(l.reply_line_bytes_max, 512u);
  EXPECT_EQ(l.text_line_bytes_max, 1000u);
  EXPECT_TRUE(l.valid());
  l.path_bytes_max = 1000;
  EXPECT_TRUE(l.valid());
  l.local_part_bytes_max = 63;
  EXPECT_FALSE(l.valid());
  EXPECT_EQ(l.effective().local_part_bytes_max, 64u);
  EXPECT_EQ(l.effective().path_bytes_max, 1000u);
}

TEST(Domain, LdhRules) {
  EXPECT_TRUE(parse_domain("example.com", ascii()));
  EXPECT_TRUE(parse_domain("a", ascii()));
  EXPECT_TRUE(parse_domain("xn--bcher-kva.example", ascii()));
  EXPECT_TRUE(parse_domain("1-2.3com", ascii()));
  EXPECT_FALSE(parse_domain("", ascii()));
  EXPECT_FALSE(parse_domain("-a.com", ascii()));
  EXPECT_FALSE(parse_domain("a-.com", ascii()));
  EXPECT_FALSE(parse_domain("a..com", ascii()));
  EXPECT_FALSE(parse_domain("a.com.", ascii()));
  EXPECT_FALSE(parse_domain(".a.com", ascii()));
  EXPECT_FALSE(parse_domain("a_b.com", ascii()));
  EXPECT_EQ(parse_domain("a b", ascii()).error().error.offset, 1u);
}

TEST(Domain, LabelLimit63) {
  EXPECT_TRUE(parse_domain(std::string(63, 'a') + ".com", ascii()));
  auto r = parse_domain(std::string(64, 'a') + ".com", ascii());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, AddressFault::too_long);
  EXPECT_EQ(r.error().error.message, "domain label exceeds 63 octets");
}

TEST(Domain, Limit255And256) {
  const std::string d255 = domain_of(255), d256 = domain_of(256);
  ASSERT_EQ(d255.size(), 255u);
  ASSERT_EQ(d256.size(), 256u);
  EXPECT_TRUE(parse_domain(d255, ascii()));
  auto r = parse_domain(d256, ascii());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, AddressFault::too_long);
  EXPECT_EQ(r.error().error.message, "domain exceeds 255 octets");
  AddressOptions raised;
  raised.limits.domain_bytes_max = 300;
  EXPECT_TRUE(parse_domain(d256, raised));
}

TEST(Domain, ULabelsOnlyWithSmtputf8) {
  const std::string d =
      "b\xC3\xBC"
      "cher.example";  // bücher.example
  auto r = parse_domain(d, ascii());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, AddressFault::non_ascii);
  EXPECT_TRUE(parse_domain(d, utf8()));
  EXPECT_FALSE(
      parse_domain("b\xC3"
                   "cher.example",
                   utf8()));                                       // truncated sequence
  EXPECT_FALSE(parse_domain("\xC0\xAF.example", utf8()));          // overlong '/'
  EXPECT_FALSE(parse_domain("\xED\xA0\x80.example", utf8()));      // surrogate U+D800
  EXPECT_FALSE(parse_domain("\xF4\x90\x80\x80.example", utf8()));  // above U+10FFFF
  EXPECT_TRUE(parse_domain("\xF0\x9F\x98\x80.example", utf8()));   // U+1F600
}

TEST(AddressLiteral, Ipv4) {
  auto r = parse_host("[192.0.2.1]", ascii());
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<Ipv4Literal>(*r).octets, (std::array<std::uint8_t, 4>{192, 0, 2, 1}));
  EXPECT_EQ(serialize(*r), "[192.0.2.1]");
  EXPECT_EQ(serialize(*parse_host("[010.0.0.001]", ascii())), "[10.0.0.1]");
  EXPECT_FALSE(parse_host("[256.0.0.1]", ascii()));
  EXPECT_FALSE(parse_host("[1.2.3]", ascii()));
  EXPECT_FALSE(parse_host("[1.2.3.4.5]", ascii()));
  EXPECT_FALSE(parse_host("[1.2.3.0004]", ascii()));
  EXPECT_FALSE(parse_host("[1.2.3.4", ascii()));
  EXPECT_FALSE(parse_host("[]", ascii()));
}

std::string v6(std::string_view text) {
  auto r = parse_host(std::string("[IPv6:") + std::string(text) + "]", ascii());
  if (!r) return "ERR: " + r.error().error.message;
  return serialize(*r);
}

TEST(AddressLiteral, Ipv6ValidForms) {
  EXPECT_EQ(v6("2001:db8:0:0:0:0:0:1"), "[IPv6:2001:db8::1]");  // IPv6-full
  EXPECT_EQ(v6("2001:DB8::1"), "[IPv6:2001:db8::1]");           // IPv6-comp
  EXPECT_EQ(v6("::"), "[IPv6:::]");
  EXPECT_EQ(v6("::1"), "[IPv6:::1]");
  EXPECT_EQ(v6("1::"), "[IPv6:1::]");
  EXPECT_EQ(v6("1:2:3:4:5:6::"), "[IPv6:1:2:3:4:5:6::]");  // 6 groups + "::"
  EXPECT_EQ(v6("::1:2:3:4:5:6"), "[IPv6:::1:2:3:4:5:6]");
  EXPECT_EQ(v6("0:0:0:0:0:ffff:192.0.2.1"), "[IPv6:::ffff:c000:201]");  // IPv6v4-full
  EXPECT_EQ(v6("::ffff:192.0.2.1"), "[IPv6:::ffff:c000:201]");          // IPv6v4-comp
  EXPECT_EQ(v6("1:2:3:4::5.6.7.8"), "[IPv6:1:2:3:4::506:708]");         // 4 groups + "::" + v4
  EXPECT_EQ(v6("::1.2.3.4"), "[IPv6:::102:304]");
  EXPECT_EQ(v6("1:0:0:1:0:0:0:1"), "[IPv6:1:0:0:1::1]");                   // longest run wins
  EXPECT_EQ(v6("1:0:0:1:1:0:0:1"), "[IPv6:1::1:1:0:0:1]");                 // first of equal runs
  EXPECT_EQ(v6("1:0:1:1:1:1:1:1"), "[IPv6:1:0:1:1:1:1:1:1]");              // one zero: no "::"
  EXPECT_EQ(serialize(*parse_host("[ipv6:::1]", ascii())), "[IPv6:::1]");  // tag case
}

TEST(AddressLiteral, Ipv6InvalidForms) {
  for (const char* bad :
       {"1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1::2::3",
        ":1::", "1:::2", "12345::", "g::", "1:2:3:4:5::1.2.3.4", "::1.2.3", "::1.2.3.256",
        "1.2.3.4::", "1:2:3:4:5:6:7:1.2.3.4", "", ":", "1:", "::1.2.3.4:1", "1:2:3:4:5:1.2.3.4"}) {
    EXPECT_EQ(v6(bad), "ERR: invalid IPv6 address literal") << bad;
  }
}

TEST(AddressLiteral, General) {
  auto r = parse_host("[x-tag:some+content]", ascii());
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<GeneralLiteral>(*r), (GeneralLiteral{"x-tag", "some+content"}));
  EXPECT_FALSE(parse_host("[x-:a]", ascii()));
  EXPECT_FALSE(parse_host("[x:]", ascii()));
  EXPECT_FALSE(parse_host("[x:a[b]", ascii()));
  EXPECT_FALSE(parse_host("[x:a\\b]", ascii()));
  EXPECT_FALSE(parse_host("[nocolon]", ascii()));
}

TEST(Mailbox, DotStringAndQuoted) {
  auto r = parse_mailbox("john.q.public@example.com", ascii());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, mb("john.q.public", "example.com"));
  auto q = parse_mailbox("\"john \\\"q\\\\ public\"@example.com", ascii());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->local_part, "john \"q\\ public");
  EXPECT_EQ(serialize(*q), "\"john \\\"q\\\\ public\"@example.com");
  EXPECT_EQ(serialize(*parse_mailbox("\"abc\"@x", ascii())), "abc@x");  // quoting removed
  EXPECT_EQ(serialize(*parse_mailbox("\"a\\b\"@x", ascii())), "ab@x");  // needless pair
  EXPECT_EQ(serialize(*parse_mailbox("\"\"@x", ascii())), "\"\"@x");
  EXPECT_EQ(serialize(*parse_mailbox("\"a..b\"@x", ascii())), "\"a..b\"@x");
  EXPECT_TRUE(parse_mailbox("!#$%&'*+-/=?^_`{|}~@x", ascii()));
  EXPECT_TRUE(parse_mailbox("user@[IPv6:::1]", ascii()));
  EXPECT_FALSE(parse_mailbox("a..b@x", ascii()));
  EXPECT_FALSE(parse_mailbox(".a@x", ascii()));
  EXPECT_FALSE(parse_mailbox("a.@x", ascii()));
  EXPECT_FALSE(parse_mailbox("@x", ascii()));
  EXPECT_FALSE(parse_mailbox("a@", ascii()));
  EXPECT_FALSE(parse_mailbox("a", ascii()));
  EXPECT_FALSE(parse_mailbox("\"a@x", ascii()));
  EXPECT_FALSE(parse_mailbox("\"a\tb\"@x", ascii()));
  EXPECT_FALSE(parse_mailbox("a b@x", ascii()));
  EXPECT_FALSE(parse_mailbox(std::string("a\0b@x", 5), ascii()));
  EXPECT_FALSE(parse_mailbox(std::string("\"a\0b\"@x", 7), ascii()));
}

TEST(Mailbox, LocalPartLimit64And65) {
  EXPECT_TRUE(parse_mailbox(std::string(64, 'a') + "@x", ascii()));
  auto r = parse_mailbox(std::string(65, 'a') + "@x", ascii());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, AddressFault::too_long);
  EXPECT_EQ(r.error().error.message, "local part exceeds 64 octets");
  // Measured on the wire form: 62 characters in quotes are 64 octets.
  EXPECT_TRUE(parse_mailbox("\"" + std::string(62, ' ') + "\"@x", ascii()));
  EXPECT_FALSE(parse_mailbox("\"" + std::string(63, ' ') + "\"@x", ascii()));
  AddressOptions raised;
  raised.limits.local_part_bytes_max = 100;
  EXPECT_TRUE(parse_mailbox(std::string(65, 'a') + "@x", raised));
  EXPECT_FALSE(parse_mailbox(std::string(101, 'a') + "@x", raised));
}

TEST(Mailbox, Utf8LocalParts) {
  const std::string local = "j\xC3\xB6rg";  // jörg
  auto r = parse_mailbox(local + "@example.com", ascii());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, AddressFault::non_ascii);
  EXPECT_EQ(r.error().error.message, "non-ASCII local part without SMTPUTF8");
  auto ok = parse_mailbox(local + "@example.com", utf8());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->local_part, local);
  EXPECT_TRUE(needs_smtputf8(*ok));
  EXPECT_TRUE(parse_mailbox("\"" + local + " x\"@example.com", utf8()));
  EXPECT_FALSE(parse_mailbox("j\xC3@example.com", utf8()));
  EXPECT_FALSE(parse_mailbox("\xE0\x80\xAF@example.com", utf8()));  // overlong
  EXPECT_FALSE(parse_mailbox("\xED\xBF\xBF@example.com", utf8()));  // surrogate
  EXPECT_FALSE(parse_mailbox("\xFF@example.com", utf8()));
  EXPECT_FALSE(parse_mailbox("\x80@example.com", utf8()));
}

// A bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE and the rest of Bidi_Control) in
// an SMTPUTF8 address makes it read as another address: refused wherever it stands (issue 16).
TEST(Mailbox, BidiControlsAreRefused) {
  for (const char* control : {"\xE2\x80\xAE", "\xE2\x80\xAA", "\xE2\x80\x8F", "\xE2\x81\xA6",
                              "\xE2\x81\xA9", "\xD8\x9C"}) {
    const std::string c = control;
    auto local = parse_mailbox("ann" + c + "gpj.exe@example.com", utf8());
    ASSERT_FALSE(local) << c;
    EXPECT_EQ(local.error().error.message, "bidirectional control character in local part");
    EXPECT_FALSE(parse_mailbox("\"ann" + c + "\"@example.com", utf8())) << c;
    auto domain = parse_mailbox("ann@exa" + c + "mple.com", utf8());
    ASSERT_FALSE(domain) << c;
    EXPECT_EQ(domain.error().error.message, "bidirectional control character in domain");
  }
  // Neighbours of the controls are ordinary letters and marks.
  EXPECT_TRUE(
      parse_mailbox("a\xE2\x80\x90"
                    "b@example.com",
                    utf8()));  // U+2010 HYPHEN
  EXPECT_TRUE(
      parse_mailbox("a\xE2\x81\xA5"
                    "b@example.com",
                    utf8()));  // U+2065
  EXPECT_TRUE(
      parse_mailbox("a\xD8\x9B"
                    "b@example.com",
                    utf8()));  // U+061B
}

TEST(Path, ReversePathForms) {
  auto null = parse_reverse_path("<>", ascii());
  ASSERT_TRUE(null);
  EXPECT_TRUE(null->is_null());
  EXPECT_EQ(serialize(*null), "<>");
  auto p = parse_reverse_path("<a@b.example>", ascii());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path->mailbox, mb("a", "b.example"));
  EXPECT_FALSE(p->path->source_route_ignored);
  EXPECT_FALSE(parse_reverse_path("a@b", ascii()));
  EXPECT_FALSE(parse_reverse_path("<a@b", ascii()));
  EXPECT_FALSE(parse_reverse_path("<a@b> ", ascii()));
  EXPECT_FALSE(parse_reverse_path("<postmaster>", ascii()));
}

TEST(Path, SourceRouteAcceptedAndIgnored) {
  auto p = parse_forward_path("<@a.example,@b.example:user@c.example>", ascii());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->path->source_route_ignored);
  EXPECT_EQ(p->path->mailbox, mb("user", "c.example"));
  EXPECT_EQ(serialize(*p), "<user@c.example>");
  EXPECT_FALSE(parse_forward_path("<@a.example:@b:user@c>", ascii()));
  EXPECT_FALSE(parse_forward_path("<@a.example,user@c>", ascii()));
  EXPECT_FALSE(parse_forward_path("<@:user@c>", ascii()));
}

TEST(Path, Postmaster) {
  auto bare = parse_forward_path("<pOsTmAsTeR>", ascii());
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->is_bare_postmaster());
  EXPECT_TRUE(is_postmaster(*bare));
  EXPECT_EQ(serialize(*bare), "<Postmaster>");
  auto full = parse_forward_path("<POSTMASTER@example.com>", ascii());
  ASSERT_TRUE(full);
  EXPECT_FALSE(full->is_bare_postmaster());
  EXPECT_TRUE(is_postmaster(*full));
  EXPECT_FALSE(is_postmaster(*parse_forward_path("<postmistress@example.com>", ascii())));
  EXPECT_FALSE(parse_forward_path("<>", ascii()));
  EXPECT_FALSE(parse_forward_path("<postmaster >", ascii()));
}

TEST(Path, Limit256And257) {
  // "<" + 64 + "@" + domain + ">" : domain of 189 gives 256 octets.
  const std::string local(64, 'l');
  const std::string p256 = "<" + local + "@" + domain_of(189) + ">";
  const std::string p257 = "<" + local + "@" + domain_of(190) + ">";
  ASSERT_EQ(p256.size(), 256u);
  ASSERT_EQ(p257.size(), 257u);
  EXPECT_TRUE(parse_forward_path(p256, ascii()));
  auto r = parse_forward_path(p257, ascii());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, AddressFault::too_long);
  EXPECT_EQ(r.error().error.message, "path exceeds 256 octets");
  AddressOptions raised;
  raised.limits.path_bytes_max = 257;
  EXPECT_TRUE(parse_forward_path(p257, raised));
  // A source route counts toward the path length.
  const std::string routed = "<@" + domain_of(10) + ":" + local + "@" + domain_of(178) + ">";
  ASSERT_EQ(routed.size(), 257u);
  EXPECT_FALSE(parse_reverse_path(routed, ascii()));
}

TEST(Path, PrefixReportsLength) {
  auto r = parse_reverse_path_prefix("<\"a>b\"@x> SIZE=1", ascii());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->length, 9u);
  EXPECT_EQ(r->value.path->mailbox.local_part, "a>b");
}

}  // namespace
}  // namespace tern::protocol::smtp
