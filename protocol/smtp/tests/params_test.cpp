#include "protocol/smtp/params.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::smtp {
namespace {

ParamOptions ascii() {
  return ParamOptions{};
}

std::string mail_error(std::string_view text) {
  auto r = parse_mail_params(text, ascii());
  return r ? "OK" : r.error().message;
}

std::string rcpt_error(std::string_view text) {
  auto r = parse_rcpt_params(text, ascii());
  return r ? "OK" : r.error().message;
}

TEST(Xtext, DecodeStrict) {
  EXPECT_EQ(*xtext_decode("a+2Bb+3D"), "a+b=");
  EXPECT_EQ(*xtext_decode(""), "");
  EXPECT_EQ(*xtext_decode("+00"), std::string(1, '\0'));
  EXPECT_FALSE(xtext_decode("+2b"));  // lower-case hex is not HEXCHAR
  EXPECT_FALSE(xtext_decode("+2"));
  EXPECT_FALSE(xtext_decode("+"));
  EXPECT_FALSE(xtext_decode("a=b"));
  EXPECT_FALSE(xtext_decode("a b"));
  EXPECT_FALSE(xtext_decode("\x80"));
  EXPECT_EQ(xtext_decode("ab+").error().offset, 2u);
}

TEST(Xtext, EncodeOnlyWhatIsNeeded) {
  EXPECT_EQ(xtext_encode("a+b=c d~!"), "a+2Bb+3Dc+20d~!");
  EXPECT_EQ(xtext_encode(std::string("\0\x7F\xFF", 3)), "+00+7F+FF");
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
  }();
  EXPECT_EQ(*xtext_decode(xtext_encode(all)), all);
}

TEST(EsmtpParams, GenericList) {
  auto r = parse_esmtp_params("size=10 X-FOO Z=a=b", false);
  ASSERT_FALSE(r);  // '=' is not allowed inside a value
  auto ok = parse_esmtp_params("size=10 X-FOO z=ab", false);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[0], (EsmtpParam{"SIZE", "10"}));
  EXPECT_EQ((*ok)[1], (EsmtpParam{"X-FOO", std::nullopt}));
  EXPECT_EQ((*ok)[2], (EsmtpParam{"Z", "ab"}));
  EXPECT_TRUE(parse_esmtp_params("", false)->empty());
  EXPECT_FALSE(parse_esmtp_params("A  B", false));
  EXPECT_FALSE(parse_esmtp_params("A ", false));
  EXPECT_FALSE(parse_esmtp_params(" A", false));
  EXPECT_FALSE(parse_esmtp_params("A=", false));
  EXPECT_FALSE(parse_esmtp_params("-A", false));
  EXPECT_FALSE(parse_esmtp_params("A_B", false));
  EXPECT_EQ(parse_esmtp_params("X=1 x=2", false).error().message, "parameter X given twice");
  EXPECT_FALSE(parse_esmtp_params("X=\xC3\xA9", false));
  EXPECT_TRUE(parse_esmtp_params("X=\xC3\xA9", true));
  EXPECT_FALSE(parse_esmtp_params("X=\xC3", true));
}

TEST(EsmtpParams, KnownKeywords) {
  EXPECT_EQ(known_param("mt-priority"), KnownParam::mt_priority);
  EXPECT_EQ(known_param("Orcpt"), KnownParam::orcpt);
  EXPECT_EQ(known_param("XFOO"), std::nullopt);
  EXPECT_TRUE(param_applies_to(KnownParam::size, ParamCommand::mail));
  EXPECT_FALSE(param_applies_to(KnownParam::size, ParamCommand::rcpt));
  EXPECT_TRUE(param_applies_to(KnownParam::notify, ParamCommand::rcpt));
}

TEST(MailParams, AllKnownParameters) {
  auto r = parse_mail_params(
      "SIZE=12345 BODY=8bitmime SMTPUTF8 AUTH=<> RET=hdrs ENVID=QQ+2B314 HOLDFOR=600 BY=-120;rT "
      "MT-PRIORITY=-3 REQUIRETLS XEXT=1",
      ascii());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size, 12345u);
  EXPECT_EQ(r->body, BodyType::eight_bit_mime);
  EXPECT_TRUE(r->smtputf8);
  EXPECT_EQ(r->auth, AuthParam{std::nullopt});
  EXPECT_EQ(r->ret, RetType::hdrs);
  EXPECT_EQ(r->envid, "QQ+314");
  EXPECT_EQ(r->hold_for_seconds, 600u);
  EXPECT_EQ(r->by, (DeliverBy{-120, DeliverBy::Mode::return_, true}));
  EXPECT_EQ(r->mt_priority, -3);
  EXPECT_TRUE(r->requiretls);
  ASSERT_EQ(r->unknown.size(), 1u);
  EXPECT_EQ(r->unknown[0], (EsmtpParam{"XEXT", "1"}));
  EXPECT_EQ(
      serialize_params(*r),
      " SIZE=12345 BODY=8BITMIME SMTPUTF8 AUTH=<> RET=HDRS ENVID=QQ+2B314 HOLDFOR=600 BY=-120;RT "
      "MT-PRIORITY=-3 REQUIRETLS XEXT=1");
  EXPECT_EQ(*parse_mail_params(serialize_params(*r).substr(1), ascii()), *r);
}

TEST(MailParams, AuthMailbox) {
  auto r = parse_mail_params("AUTH=e+3Dmc2@example.com", ascii());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->auth->mailbox->local_part, "e=mc2");
  EXPECT_EQ(serialize_params(*r), " AUTH=e+3Dmc2@example.com");
  EXPECT_NE(mail_error("AUTH=nobody"), "OK");
  EXPECT_NE(mail_error("AUTH"), "OK");
}

TEST(MailParams, ValueErrors) {
  EXPECT_EQ(mail_error("SIZE=abc"), "invalid SIZE parameter: expected 1 to 20 digits");
  EXPECT_EQ(mail_error("SIZE=" + std::string(21, '1')),
            "invalid SIZE parameter: expected 1 to 20 digits");
  EXPECT_EQ(*parse_mail_params("SIZE=99999999999999999999", ascii())->size,
            UINT64_MAX);  // saturates
  EXPECT_EQ(mail_error("BODY=8BIT"),
            "invalid BODY parameter: expected 7BIT, 8BITMIME or BINARYMIME");
  EXPECT_EQ(mail_error("SMTPUTF8=yes"), "invalid SMTPUTF8 parameter: takes no value");
  EXPECT_EQ(mail_error("REQUIRETLS=1"), "invalid REQUIRETLS parameter: takes no value");
  EXPECT_EQ(mail_error("RET=ALL"), "invalid RET parameter: expected FULL or HDRS");
  EXPECT_EQ(mail_error("ENVID=a+20"), "OK");
  EXPECT_EQ(mail_error("ENVID=a+0A"),
            "invalid ENVID parameter: decoded value is not printable ASCII");
  EXPECT_EQ(mail_error("ENVID=" + std::string(100, 'e')), "OK");
  EXPECT_NE(mail_error("ENVID=" + std::string(101, 'e')), "OK");
  EXPECT_EQ(mail_error("HOLDFOR=999999999"), "OK");
  EXPECT_NE(mail_error("HOLDFOR=1000000000"), "OK");
  EXPECT_EQ(mail_error("HOLDFOR=1 HOLDUNTIL=2030-01-01T00:00:00Z"),
            "HOLDFOR and HOLDUNTIL are mutually exclusive");
  EXPECT_EQ(mail_error("BY=10;N"), "OK");
  EXPECT_EQ(mail_error("BY=+10;n"), "OK");
  EXPECT_NE(mail_error("BY=10"), "OK");
  EXPECT_NE(mail_error("BY=10;X"), "OK");
  EXPECT_NE(mail_error("BY=10;RX"), "OK");
  EXPECT_NE(mail_error("BY=1000000000;R"), "OK");
  EXPECT_EQ(mail_error("MT-PRIORITY=9"), "OK");
  EXPECT_EQ(mail_error("MT-PRIORITY=+9"), "OK");
  EXPECT_EQ(mail_error("MT-PRIORITY=10"),
            "invalid MT-PRIORITY parameter: expected an integer from -9 to 9");
  EXPECT_NE(mail_error("MT-PRIORITY=-"), "OK");
  EXPECT_EQ(mail_error("SIZE=1 size=2"), "parameter SIZE given twice");
}

TEST(MailParams, RcptKeywordsOnMailAreUnknown) {
  auto r = parse_mail_params("NOTIFY=NEVER", ascii());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->unknown.size(), 1u);
  EXPECT_EQ(r->unknown[0].keyword, "NOTIFY");
}

TEST(HoldUntil, DateTime) {
  auto t = parse_date_time("2030-01-02T03:04:05Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_seconds, 1893553445);
  EXPECT_EQ(format_date_time(*t), "2030-01-02T03:04:05Z");
  auto off = parse_date_time("2030-01-02t05:04:05.25+02:00");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->unix_seconds, 1893553445);
  EXPECT_EQ(off->nanoseconds, 250000000u);
  EXPECT_EQ(format_date_time(*off), "2030-01-02T03:04:05.25Z");
  EXPECT_EQ(parse_date_time("1969-12-31T23:59:59Z")->unix_seconds, -1);
  EXPECT_TRUE(parse_date_time("2024-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_date_time("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_date_time("2030-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_date_time("2030-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_date_time("2030-01-01T00:00:00"));
  EXPECT_FALSE(parse_date_time("2030-01-01T00:00:00+2:00"));
  EXPECT_FALSE(parse_date_time("2030-01-01T00:00:00.Z"));
  EXPECT_FALSE(parse_date_time("2030-01-01T00:00:00Zx"));
  EXPECT_FALSE(parse_date_time("0000-01-01T00:00:00+00:01"));  // before year 0 in UTC
  EXPECT_TRUE(parse_date_time("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_date_time("9999-12-31T23:59:59-00:01"));
}

TEST(RcptParams, NotifyAndOrcpt) {
  auto r = parse_rcpt_params("NOTIFY=delay,SUCCESS ORCPT=rfc822;Bob+2Bx@Example.COM", ascii());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->notify, (Notify{false, true, false, true}));
  EXPECT_EQ(r->orcpt, (Orcpt{"rfc822", "Bob+x@Example.COM"}));
  EXPECT_EQ(serialize_params(*r), " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Bob+2Bx@Example.COM");
  EXPECT_EQ(rcpt_error("NOTIFY=NEVER"), "OK");
  EXPECT_EQ(rcpt_error("NOTIFY=NEVER,DELAY"),
            "invalid NOTIFY parameter: NEVER combined with other types");
  EXPECT_EQ(rcpt_error("NOTIFY=DELAY,DELAY"), "invalid NOTIFY parameter: notify type given twice");
  EXPECT_EQ(rcpt_error("NOTIFY=SUCCESS,"), "invalid NOTIFY parameter: unknown notify type");
  EXPECT_NE(rcpt_error("ORCPT=rfc822"), "OK");
  EXPECT_NE(rcpt_error("ORCPT=;a@b"), "OK");
  EXPECT_NE(rcpt_error("ORCPT=rfc822;"), "OK");
  EXPECT_NE(rcpt_error("ORCPT=rfc822;a+0Db"), "OK");
  EXPECT_EQ(rcpt_error("ORCPT=rfc822;" + std::string(493, 'a')), "OK");  // 500 characters
  EXPECT_NE(rcpt_error("ORCPT=rfc822;" + std::string(494, 'a')), "OK");
  auto size = parse_rcpt_params("SIZE=10", ascii());
  ASSERT_TRUE(size);
  EXPECT_EQ(size->unknown, (std::vector<EsmtpParam>{{"SIZE", "10"}}));
}

}  // namespace
}  // namespace tern::protocol::smtp
