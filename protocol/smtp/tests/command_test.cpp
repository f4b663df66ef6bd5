#include "protocol/smtp/command.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::smtp {
namespace {

CommandResult parse(std::string_view line, const ParseOptions& o = {}) {
  return parse_command(line, o);
}

template <class T>
T parsed_as(std::string_view line, const ParseOptions& o = {}) {
  auto r = parse(line, o);
  EXPECT_TRUE(r) << line << ": " << (r ? "" : r.error().error.message);
  if (!r) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*r)) << line;
  return std::holds_alternative<T>(*r) ? std::get<T>(*r) : T{};
}

// "code status message" of the error, or "OK".
std::string verdict(std::string_view line, const ParseOptions& o = {}) {
  auto r = parse(line, o);
  if (r) return "OK";
  const CommandError& e = r.error();
  return std::to_string(e.code) + " " + to_string(e.status) + " " + e.error.message;
}

std::string canonical(std::string_view line, const ParseOptions& o = {}) {
  auto r = parse(line, o);
  if (!r) return "ERR " + r.error().error.message;
  auto s = serialize(*r);
  if (!s) return "SERIALIZE " + s.error().message;
  return *s;
}

ParseOptions utf8() {
  ParseOptions o;
  o.smtputf8 = true;
  return o;
}
ParseOptions lmtp() {
  ParseOptions o;
  o.lmtp = true;
  return o;
}

Path path(std::string local, std::string domain) {
  return Path{Mailbox{std::move(local), Host{Domain{std::move(domain)}}}, false};
}

TEST(Command, RfcAppendixD) {
  // D.1 and D.2, D.3: a session as a client writes it.
  EXPECT_EQ(parsed_as<Ehlo>("EHLO bar.com").host, Host{Domain{"bar.com"}});
  EXPECT_EQ(parsed_as<Mail>("MAIL FROM:<Smith@bar.com>").path,
            ReversePath{path("Smith", "bar.com")});
  EXPECT_EQ(parsed_as<Rcpt>("RCPT TO:<Jones@foo.com>").path, ForwardPath{path("Jones", "foo.com")});
  EXPECT_EQ(parsed_as<Rcpt>("RCPT TO:<Green@foo.com>").path, ForwardPath{path("Green", "foo.com")});
  EXPECT_EQ(parsed_as<Rcpt>("RCPT TO:<Brown@foo.com>").path, ForwardPath{path("Brown", "foo.com")});
  parsed_as<Data>("DATA");
  parsed_as<Quit>("QUIT");
  EXPECT_EQ(parsed_as<Mail>("MAIL FROM:<JQP@bar.com>").path, ReversePath{path("JQP", "bar.com")});
  EXPECT_EQ(parsed_as<Rcpt>("RCPT TO:<Jones@XYZ.COM>").path, ForwardPath{path("Jones", "XYZ.COM")});
  // D.4: VRFY, and SEND (obsolete, RFC 5321 dropped it).
  EXPECT_EQ(parsed_as<Vrfy>("VRFY Crispin").text, "Crispin");
  EXPECT_EQ(verdict("SEND FROM:<Smith@bar.com>"), "500 5.5.1 command unrecognized");
}

TEST(Command, Greetings) {
  EXPECT_EQ(parsed_as<Ehlo>("ehlo [192.0.2.1]").host, (Host{Ipv4Literal{{192, 0, 2, 1}}}));
  EXPECT_EQ(parsed_as<Helo>("HELO mail.example").host, Host{Domain{"mail.example"}});
  EXPECT_EQ(parsed_as<Lhlo>("LHLO [IPv6:::1]", lmtp()).host,
            (Host{Ipv6Literal{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}}));
  EXPECT_EQ(verdict("LHLO x"), "500 5.5.1 command unrecognized");
  EXPECT_EQ(verdict("EHLO x", lmtp()), "500 5.5.1 command unrecognized");
  EXPECT_EQ(verdict("HELO x", lmtp()), "500 5.5.1 command unrecognized");
  EXPECT_EQ(verdict("EHLO"), "501 5.5.2 missing domain");
  EXPECT_EQ(verdict("EHLO "), "501 5.5.2 missing domain");
  EXPECT_EQ(verdict("EHLO a..b"), "501 5.5.4 empty domain label");
  EXPECT_EQ(verdict("EHLO a b"), "501 5.5.4 invalid character in domain");
  EXPECT_EQ(verdict("EHLO b\xC3\xBC"
                    "cher.example"),
            "501 5.5.4 non-ASCII domain without SMTPUTF8");
  EXPECT_EQ(verdict("EHLO b\xC3\xBC"
                    "cher.example",
                    utf8()),
            "OK");
}

TEST(Command, MailForms) {
  const Mail m = parsed_as<Mail>("mail from:<>");
  EXPECT_TRUE(m.path.is_null());
  EXPECT_EQ(m.params, MailParams{});
  // One space after the colon is accepted (common client deviation); two are not.
  EXPECT_EQ(parsed_as<Mail>("MAIL FROM: <a@b>").path, ReversePath{path("a", "b")});
  EXPECT_EQ(verdict("MAIL FROM:  <a@b>"), "501 5.1.7 expected '<'");
  EXPECT_EQ(verdict("MAIL FROM <a@b>"), "501 5.5.2 expected FROM:");
  EXPECT_EQ(verdict("MAIL  FROM:<a@b>"), "501 5.5.2 expected FROM:");
  EXPECT_EQ(verdict("MAIL"), "501 5.5.2 expected FROM:");
  EXPECT_EQ(verdict("MAIL FROM:a@b"), "501 5.1.7 expected '<'");
  EXPECT_EQ(verdict("MAIL FROM:<a@b>SIZE=1"), "501 5.5.2 expected a space after the path");
  EXPECT_EQ(verdict("MAIL FROM:<a@b> "), "501 5.5.2 trailing space after the path");
  EXPECT_EQ(verdict("MAIL FROM:<a@b>  SIZE=1"), "501 5.5.4 empty parameter (more than one space?)");
  EXPECT_EQ(verdict("MAIL FROM:<a@b> SIZE=x"),
            "501 5.5.4 invalid SIZE parameter: expected 1 to 20 digits");
  const Mail p = parsed_as<Mail>("MAIL FROM:<a@b> SIZE=100 BODY=BINARYMIME XYZ");
  EXPECT_EQ(p.params.size, 100u);
  EXPECT_EQ(p.params.body, BodyType::binary_mime);
  EXPECT_EQ(p.params.unknown, (std::vector<EsmtpParam>{{"XYZ", std::nullopt}}));
  ParseOptions strict;
  strict.reject_unknown_params = true;
  EXPECT_EQ(verdict("MAIL FROM:<a@b> SIZE=100 XYZ", strict), "555 5.5.4 unsupported parameter XYZ");
  EXPECT_EQ(verdict("MAIL FROM:<a@b> SIZE=100", strict), "OK");
  EXPECT_EQ(verdict("MAIL FROM:<a@b> NOTIFY=NEVER", strict),
            "555 5.5.4 unsupported parameter NOTIFY");
  EXPECT_EQ(parsed_as<Mail>("MAIL FROM:<@x.example:a@b>").path.path->source_route_ignored, true);
}

TEST(Command, RcptForms) {
  EXPECT_TRUE(parsed_as<Rcpt>("RCPT TO:<postmaster>").path.is_bare_postmaster());
  EXPECT_TRUE(parsed_as<Rcpt>("rcpt to:<Postmaster>").path.is_bare_postmaster());
  EXPECT_EQ(parsed_as<Rcpt>("RCPT TO:<Postmaster@example.com>").path,
            ForwardPath{path("Postmaster", "example.com")});
  EXPECT_EQ(verdict("RCPT TO:<>"), "501 5.1.3 empty forward-path");
  EXPECT_EQ(verdict("RCPT TO:<a>"), "501 5.1.3 expected '@' after the local part");
  EXPECT_EQ(verdict("RCPT TO:"), "501 5.1.3 expected '<'");
  EXPECT_EQ(verdict("RCPT FROM:<a@b>"), "501 5.5.2 expected TO:");
  const Rcpt r = parsed_as<Rcpt>("RCPT TO:<a@b> NOTIFY=FAILURE ORCPT=rfc822;a@b");
  EXPECT_EQ(r.params.notify, (Notify{false, false, true, false}));
  EXPECT_EQ(r.params.orcpt, (Orcpt{"rfc822", "a@b"}));
}

TEST(Command, Utf8Addresses) {
  const std::string line = "MAIL FROM:<j\xC3\xB6rg@example.com>";
  EXPECT_EQ(verdict(line), "553 5.6.7 non-ASCII local part without SMTPUTF8");
  EXPECT_EQ(verdict(line, utf8()), "553 5.6.7 non-ASCII address without the SMTPUTF8 parameter");
  EXPECT_EQ(verdict(line + " SMTPUTF8", utf8()), "OK");
  EXPECT_EQ(verdict("RCPT TO:<j\xC3\xB6rg@example.com>"),
            "553 5.6.7 non-ASCII local part without SMTPUTF8");
  EXPECT_EQ(verdict("RCPT TO:<j\xC3\xB6rg@example.com>", utf8()), "OK");
  EXPECT_EQ(verdict("RCPT TO:<j\xC3@example.com>", utf8()),
            "501 5.1.3 malformed UTF-8 in local part");
}

TEST(Command, SimpleVerbs) {
  parsed_as<Rset>("RSET");
  parsed_as<StartTls>("starttls");
  parsed_as<Data>("Data");
  EXPECT_EQ(verdict("DATA x"), "501 5.5.4 this command takes no arguments");
  EXPECT_EQ(verdict("QUIT "), "501 5.5.4 this command takes no arguments");
  EXPECT_EQ(parsed_as<Noop>("NOOP").text, std::nullopt);
  EXPECT_EQ(parsed_as<Noop>("NOOP hello there").text, "hello there");
  EXPECT_EQ(verdict("NOOP "), "501 5.5.2 expected one space and an argument");
  EXPECT_EQ(parsed_as<Help>("HELP").topic, std::nullopt);
  EXPECT_EQ(parsed_as<Help>("HELP MAIL").topic, "MAIL");
  EXPECT_EQ(parsed_as<Expn>("EXPN staff").text, "staff");
  EXPECT_EQ(verdict("VRFY"), "501 5.5.2 missing argument");
  EXPECT_EQ(verdict("VRFY a\tb"), "501 5.5.4 control character in argument");
  EXPECT_EQ(verdict("VRFY j\xC3\xB6rg"), "501 5.5.4 non-ASCII argument without SMTPUTF8");
  EXPECT_EQ(verdict("VRFY j\xC3\xB6rg", utf8()), "OK");
  EXPECT_EQ(verdict(""), "500 5.5.1 command unrecognized");
  EXPECT_EQ(verdict("XYZZY"), "500 5.5.1 command unrecognized");
  EXPECT_EQ(verdict(" DATA"), "500 5.5.1 command unrecognized");
  EXPECT_EQ(verdict("DAT\xC3\x81"), "500 5.5.1 command unrecognized");
}

TEST(Command, Bdat) {
  EXPECT_EQ(parsed_as<Bdat>("BDAT 1000"), (Bdat{1000, false}));
  EXPECT_EQ(parsed_as<Bdat>("bdat 0 last"), (Bdat{0, true}));
  EXPECT_EQ(parsed_as<Bdat>("BDAT 007 LAST"), (Bdat{7, true}));
  EXPECT_EQ(verdict("BDAT"), "501 5.5.2 missing chunk size");
  EXPECT_EQ(verdict("BDAT x"), "501 5.5.2 expected a chunk size of 1 to 20 digits");
  EXPECT_EQ(verdict("BDAT 1 FIRST"), "501 5.5.2 expected LAST");
  EXPECT_EQ(verdict("BDAT 1  LAST"), "501 5.5.2 expected LAST");
  EXPECT_EQ(verdict("BDAT 99999999999999999999"), "501 5.5.4 chunk size does not fit in 64 bits");
  ParseOptions o;
  o.bdat_chunk_bytes_max = 1000;
  EXPECT_EQ(verdict("BDAT 1000", o), "OK");
  auto r = parse("BDAT 1001 LAST", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, 552);
  EXPECT_EQ(r.error().status, (EnhancedStatus{5, 3, 4}));
  EXPECT_EQ(r.error().bdat_chunk_bytes, 1001u);
}

TEST(Command, Auth) {
  EXPECT_EQ(parsed_as<Auth>("AUTH plain"), (Auth{"PLAIN", std::nullopt}));
  EXPECT_EQ(parsed_as<Auth>("AUTH PLAIN ="), (Auth{"PLAIN", ""}));
  EXPECT_EQ(parsed_as<Auth>("AUTH PLAIN AGZvbwBiYXI="), (Auth{"PLAIN", "AGZvbwBiYXI="}));
  EXPECT_EQ(parsed_as<Auth>("AUTH SCRAM-SHA-256"), (Auth{"SCRAM-SHA-256", std::nullopt}));
  EXPECT_EQ(verdict("AUTH"), "501 5.5.2 missing mechanism");
  EXPECT_EQ(verdict("AUTH " + std::string(21, 'A')), "501 5.5.2 invalid mechanism name");
  EXPECT_EQ(verdict("AUTH " + std::string(20, 'A')), "OK");
  EXPECT_EQ(verdict("AUTH PLAIN AGZvbw"), "501 5.5.2 initial response is not base64 or \"=\"");
  EXPECT_EQ(verdict("AUTH PLAIN A=Zv"), "501 5.5.2 initial response is not base64 or \"=\"");
  EXPECT_EQ(verdict("AUTH PLAIN ===="), "501 5.5.2 initial response is not base64 or \"=\"");
  EXPECT_EQ(verdict("AUTH PL@IN"), "501 5.5.2 invalid mechanism name");
}

TEST(Command, LineLimit512And513) {
  // 510 octets + CRLF = 512.
  const std::string ok = "NOOP " + std::string(505, 'x');
  ASSERT_EQ(ok.size(), 510u);
  EXPECT_EQ(verdict(ok), "OK");
  EXPECT_EQ(verdict(ok + "x"), "500 5.5.6 line too long");
  ParseOptions raised;
  raised.limits.command_line_bytes_max = 1024;
  EXPECT_EQ(verdict(ok + "x", raised), "OK");
  EXPECT_EQ(verdict(std::string("NOOP ") + std::string(1018, 'x'), raised),
            "500 5.5.6 line too long");
  ParseOptions lowered;  // misuse: never stricter than the RFC
  lowered.limits.command_line_bytes_max = 10;
  EXPECT_EQ(verdict(ok, lowered), "OK");
}

TEST(Command, PathLimitsInCommands) {
  const std::string local64(64, 'a');
  EXPECT_EQ(verdict("RCPT TO:<" + local64 + "@x>"), "OK");
  EXPECT_EQ(verdict("RCPT TO:<" + local64 + "a@x>"), "501 5.1.3 local part exceeds 64 octets");
  EXPECT_EQ(verdict("MAIL FROM:<" + local64 + "a@x>"), "501 5.1.7 local part exceeds 64 octets");
  std::string domain;
  for (int i = 0; i < 4; ++i) domain += std::string(i == 0 ? 62 : 63, 'd') + (i < 3 ? "." : "");
  ASSERT_EQ(domain.size(), 254u);  // path = 1 + 1 + 1 + 254 + 1 = 258 > 256
  EXPECT_EQ(verdict("RCPT TO:<a@" + domain + ">"), "501 5.1.3 path exceeds 256 octets");
  EXPECT_EQ(verdict("RCPT TO:<a@" + domain.substr(2) + ">"), "OK");  // 256
  EXPECT_EQ(verdict("RCPT TO:<a@" + domain.substr(1) + ">"),
            "501 5.1.3 path exceeds 256 octets");  // 257
}

TEST(Command, TrickyBytes) {
  EXPECT_EQ(verdict(std::string_view("DATA\0", 5)), "500 5.5.2 NUL byte in command line");
  EXPECT_EQ(verdict(std::string_view("MAIL FROM:<a\0b@c>", 17)),
            "500 5.5.2 NUL byte in command line");
  EXPECT_EQ(verdict("DATA\r"), "500 5.5.2 bare CR or LF in command line");
  EXPECT_EQ(verdict("RCPT TO:<a@b>\nDATA"), "500 5.5.2 bare CR or LF in command line");
  EXPECT_EQ(verdict("MAIL FROM:<\xE9@b>"), "553 5.6.7 non-ASCII local part without SMTPUTF8");
  EXPECT_EQ(verdict("MAIL FROM:<a@b> X=\xE9"), "501 5.5.4 invalid character in the value of X");
  EXPECT_EQ(verdict("RSET "), "501 5.5.4 this command takes no arguments");
  EXPECT_EQ(verdict("EHLO x "), "501 5.5.4 invalid character in domain");
  ParseOptions lenient;
  lenient.allow_trailing_whitespace = true;
  EXPECT_EQ(verdict("RSET \t ", lenient), "OK");
  EXPECT_EQ(verdict("EHLO x ", lenient), "OK");
  EXPECT_EQ(verdict("MAIL FROM:<a@b> SIZE=1 ", lenient), "OK");
}

TEST(Command, ErrorToReply) {
  auto r = parse("MAIL FROM:a@b", {});
  ASSERT_FALSE(r);
  const Reply reply = r.error().to_reply();
  EXPECT_EQ(*serialize(reply),
            "501-5.1.7 expected '<'\r\n501 5.1.7 Syntax: MAIL FROM:<address> [parameters]\r\n");
  auto u = parse("FOO", {});
  EXPECT_EQ(*serialize(u.error().to_reply()), "500 5.5.1 command unrecognized\r\n");
}

TEST(Command, CanonicalSerialization) {
  EXPECT_EQ(canonical("ehlo Bar.COM"), "EHLO Bar.COM\r\n");
  EXPECT_EQ(canonical("MAIL FROM: <\"abc\"@b> size=10 body=8bitmime x-y=Z"),
            "MAIL FROM:<abc@b> SIZE=10 BODY=8BITMIME X-Y=Z\r\n");
  EXPECT_EQ(canonical("RCPT TO:<@r.example:a@b> notify=never"), "RCPT TO:<a@b> NOTIFY=NEVER\r\n");
  EXPECT_EQ(canonical("RCPT TO:<POSTMASTER>"), "RCPT TO:<Postmaster>\r\n");
  EXPECT_EQ(canonical("bdat 010 last"), "BDAT 10 LAST\r\n");
  EXPECT_EQ(canonical("auth plain ="), "AUTH PLAIN =\r\n");
  EXPECT_EQ(canonical("noop"), "NOOP\r\n");
  EXPECT_EQ(canonical("help  x"), "HELP  x\r\n");
  EXPECT_EQ(canonical("LHLO [IPv6:0:0::1]", lmtp()), "LHLO [IPv6:::1]\r\n");
  for (std::string_view line :
       {"EHLO x", "HELO [1.2.3.4]", "MAIL FROM:<> RET=FULL ENVID=a+2Bb", "RCPT TO:<\"a b\"@[x:y]>",
        "DATA", "BDAT 5", "RSET", "NOOP a b", "QUIT", "VRFY Smith", "EXPN list", "HELP", "STARTTLS",
        "AUTH LOGIN dXNlcg==", "MAIL FROM:<a@b> HOLDUNTIL=2030-01-01T00:00:00+01:00 BY=5;N"}) {
    auto c = parse(line);
    ASSERT_TRUE(c) << line;
    auto s = serialize(*c);
    ASSERT_TRUE(s) << line;
    auto back = parse(std::string_view(*s).substr(0, s->size() - 2));
    ASSERT_TRUE(back) << *s;
    EXPECT_EQ(*back, *c) << line;
  }
}

TEST(Command, SerializeRejectsUnrepresentableValues) {
  EXPECT_FALSE(serialize(Command{Vrfy{"a\r\nRSET"}}));
  EXPECT_FALSE(serialize(Command{Vrfy{""}}));
  EXPECT_FALSE(serialize(Command{Ehlo{Host{Domain{"a..b"}}}}));
  EXPECT_FALSE(serialize(Command{Auth{"plain", std::nullopt}}));  // not upper-case
  EXPECT_FALSE(serialize(Command{Mail{ReversePath{path("a\nb", "x")}, {}}}));
  Mail m{ReversePath{path("j\xC3\xB6rg", "x")}, {}};
  EXPECT_FALSE(serialize(Command{m}));  // UTF-8 path without SMTPUTF8
  m.params.smtputf8 = true;
  EXPECT_EQ(*serialize(Command{m}), "MAIL FROM:<j\xC3\xB6rg@x> SMTPUTF8\r\n");
  EXPECT_EQ(verb_name(Command{StartTls{}}), "STARTTLS");
}

}  // namespace
}  // namespace tern::protocol::smtp
