#include "protocol/sasl/messages.hpp"

#include <gtest/gtest.h>

#include "protocol/sasl/base64.hpp"
#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl {
namespace {

using namespace std::string_literals;

Error plain_error(std::string_view message, const Limits& limits = {}) {
  auto r = parse_plain(message, limits);
  EXPECT_FALSE(r) << message;
  return r ? Error{} : r.error();
}

// RFC 4616 §4, both examples.
TEST(PlainMessage, Rfc4616Examples) {
  auto tim = parse_plain("\0tim\0tanstaaftanstaaf"s, {});
  ASSERT_TRUE(tim);
  EXPECT_EQ(*tim, (PlainMessage{"", "tim", "tanstaaftanstaaf"}));
  auto kurt = parse_plain("Ursel\0Kurt\0xipj3plmq"s, {});
  ASSERT_TRUE(kurt);
  EXPECT_EQ(*kurt, (PlainMessage{"Ursel", "Kurt", "xipj3plmq"}));
  EXPECT_EQ(base64_encode(encode_plain(*kurt)), "VXJzZWwAS3VydAB4aXBqM3BsbXE=");
}

TEST(PlainMessage, NeedsExactlyTwoNuls) {
  EXPECT_EQ(plain_error("timpass"), (Error{7, "PLAIN message has no NUL"}));
  EXPECT_EQ(plain_error("\0tim"s), (Error{4, "PLAIN message has only one NUL"}));
  EXPECT_EQ(plain_error("\0tim\0pa\0ss"s), (Error{7, "PLAIN message has more than two NULs"}));
  EXPECT_EQ(plain_error(""), (Error{0, "PLAIN message has no NUL"}));
}

TEST(PlainMessage, AuthcidAndPasswordAreRequired) {
  EXPECT_EQ(plain_error("\0\0pass"s), (Error{1, "authentication identity is empty"}));
  EXPECT_EQ(plain_error("\0tim\0"s), (Error{5, "password is empty"}));
}

TEST(PlainMessage, FieldsMustBeUtf8) {
  EXPECT_EQ(plain_error("\0t\xffm\0pass"s),
            (Error{1, "authentication identity is not valid UTF-8"}));
  EXPECT_EQ(plain_error("\xc0\xaf\0tim\0pass"s),
            (Error{0, "authorization identity is not valid UTF-8"}));
  EXPECT_EQ(plain_error("\0tim\0\xed\xa0\x80"s), (Error{5, "password is not valid UTF-8"}));
  auto ok = parse_plain("\0j\xc3\xb6rg\0p\xc3\xa4ss\xf0\x9f\x94\x91"s, {});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->authcid, "j\xc3\xb6rg");
}

TEST(PlainMessage, FieldLimitsAtNAndNPlusOne) {
  Limits limits;  // defaults: 255, 255, 1024
  const std::string id255(255, 'a');
  const std::string pw1024(1024, 'p');
  EXPECT_TRUE(parse_plain(id255 + '\0' + id255 + '\0' + pw1024, limits));
  EXPECT_EQ(plain_error(id255 + "a" + '\0' + "u" + '\0' + "p", limits),
            (Error{255, "authorization identity is too long"}));
  EXPECT_EQ(plain_error("\0"s + id255 + "a" + '\0' + "p", limits),
            (Error{256, "authentication identity is too long"}));
  EXPECT_EQ(plain_error("\0u\0"s + pw1024 + "p", limits),
            (Error{3 + 1024, "password is too long"}));
  limits.authzid_bytes_max = 3;
  limits.authcid_bytes_max = 4;
  limits.password_bytes_max = 5;
  EXPECT_TRUE(parse_plain("zzz\0cccc\0ppppp"s, limits));
  EXPECT_FALSE(parse_plain("zzzz\0cccc\0ppppp"s, limits));
  EXPECT_FALSE(parse_plain("zzz\0ccccc\0ppppp"s, limits));
  EXPECT_FALSE(parse_plain("zzz\0cccc\0pppppp"s, limits));
}

TEST(PlainMessage, MessageLimitAtNAndNPlusOne) {
  Limits limits;
  limits.message_bytes_max = 6;
  EXPECT_TRUE(parse_plain("\0ab\0cd"s, limits));
  EXPECT_EQ(plain_error("\0ab\0cde"s, limits), (Error{6, "PLAIN message is too long"}));
}

// RFC 2195 §2.
TEST(CramMd5Message, Rfc2195Digest) {
  EXPECT_EQ(cram_md5_digest_hex("tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>"),
            "b913a602c7eda7a495b4e6e7334d3890");
  auto r = parse_cram_md5("tim b913a602c7eda7a495b4e6e7334d3890", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (CramMd5Response{"tim", "b913a602c7eda7a495b4e6e7334d3890"}));
  EXPECT_EQ(encode_cram_md5(*r), "tim b913a602c7eda7a495b4e6e7334d3890");
  // RFC 2104's first HMAC-MD5 test case shows the key/data order is right.
  EXPECT_EQ(cram_md5_digest_hex(std::string(16, '\x0b'), "Hi There"),
            "9294727a3638bb1c13f48ef8158bfc9d");
  EXPECT_EQ(cram_md5_digest_hex("", "").size(), 32u);
}

TEST(CramMd5Message, ParseErrors) {
  const Limits l;
  EXPECT_EQ(parse_cram_md5("timb913a602c7eda7a495b4e6e7334d3890", l).error(),
            (Error{0, "CRAM-MD5 response has no space"}));
  EXPECT_EQ(parse_cram_md5(" b913a602c7eda7a495b4e6e7334d3890", l).error(),
            (Error{0, "username is empty"}));
  EXPECT_EQ(parse_cram_md5("tim B913A602C7EDA7A495B4E6E7334D3890", l).error(),
            (Error{4, "CRAM-MD5 digest is not lower-case hex"}));
  EXPECT_EQ(parse_cram_md5("tim b913a602c7eda7a495b4e6e7334d389", l).error(),
            (Error{4, "CRAM-MD5 digest is not 32 hex digits"}));
  auto spaced = parse_cram_md5("tim smith b913a602c7eda7a495b4e6e7334d3890", l);
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->username, "tim smith");
}

TEST(CramMd5Message, UsernameLimitAtNAndNPlusOne) {
  const std::string digest = " b913a602c7eda7a495b4e6e7334d3890";
  EXPECT_TRUE(parse_cram_md5(std::string(255, 'u') + digest, {}));
  EXPECT_EQ(parse_cram_md5(std::string(256, 'u') + digest, {}).error(),
            (Error{255, "username is too long"}));
}

TEST(CramMd5Message, ChallengeShape) {
  const Limits l;
  EXPECT_TRUE(is_cram_md5_challenge("<1896.697170952@postoffice.reston.mci.net>", l));
  EXPECT_FALSE(is_cram_md5_challenge("1896.697170952@postoffice.reston.mci.net", l));
  EXPECT_FALSE(is_cram_md5_challenge("<1896.697170952>", l));
  EXPECT_FALSE(is_cram_md5_challenge("<@x>", l));
  EXPECT_FALSE(is_cram_md5_challenge("<a b@x>", l));
  EXPECT_FALSE(is_cram_md5_challenge("", l));
  Limits small;
  small.challenge_bytes_max = 5;
  EXPECT_TRUE(is_cram_md5_challenge("<a@b>", small));
  EXPECT_FALSE(is_cram_md5_challenge("<aa@b>", small));
}

// Google's published XOAUTH2 example.
TEST(Xoauth2Message, GoogleExample) {
  const std::string wire =
      "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJo"
      "ZG1semRHRXVZMjl0Q2cBAQ==";
  auto decoded = base64_decode(wire, 1000);
  ASSERT_TRUE(decoded);
  auto m = parse_xoauth2(*decoded, {});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (Xoauth2Message{"someuser@example.com",
                                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"}));
  EXPECT_EQ(base64_encode(encode_xoauth2(*m)), wire);
}

TEST(Xoauth2Message, ParseErrors) {
  const Limits l;
  EXPECT_EQ(parse_xoauth2("usr=a\x01"
                          "auth=Bearer t\x01\x01",
                          l)
                .error(),
            (Error{0, "XOAUTH2 message does not start with user="}));
  EXPECT_EQ(parse_xoauth2("user=\x01"
                          "auth=Bearer t\x01\x01",
                          l)
                .error(),
            (Error{5, "user is empty"}));
  EXPECT_EQ(parse_xoauth2("user=a\x01"
                          "auth=Basic t\x01\x01",
                          l)
                .error(),
            (Error{7, "XOAUTH2 message lacks auth=Bearer"}));
  EXPECT_EQ(parse_xoauth2("user=a\x01"
                          "auth=Bearer t t\x01\x01",
                          l)
                .error(),
            (Error{19, "token is not a b64token"}));
  EXPECT_EQ(parse_xoauth2("user=a\x01"
                          "auth=Bearer t\x01",
                          l)
                .error(),
            (Error{21, "XOAUTH2 message does not end with ^A^A"}));
  EXPECT_EQ(parse_xoauth2("user=a\x01"
                          "auth=Bearer t\x01\x01x",
                          l)
                .error(),
            (Error{21, "XOAUTH2 message does not end with ^A^A"}));
  EXPECT_EQ(parse_xoauth2("user=a\x01"
                          "auth=Bearer t",
                          l)
                .error(),
            (Error{20, "XOAUTH2 token is not terminated"}));
  EXPECT_TRUE(
      parse_xoauth2("user=a\x01"
                    "auth=bearer t==\x01\x01",
                    l));
}

TEST(Xoauth2Message, LimitsAtNAndNPlusOne) {
  Limits l;
  l.authcid_bytes_max = 3;
  l.token_bytes_max = 4;
  EXPECT_TRUE(
      parse_xoauth2("user=abc\x01"
                    "auth=Bearer tttt\x01\x01",
                    l));
  EXPECT_EQ(parse_xoauth2("user=abcd\x01"
                          "auth=Bearer tttt\x01\x01",
                          l)
                .error(),
            (Error{8, "user is too long"}));
  EXPECT_EQ(parse_xoauth2("user=abc\x01"
                          "auth=Bearer ttttt\x01\x01",
                          l)
                .error(),
            (Error{25, "token is too long"}));
}

// RFC 7628 §4.1: the IMAP example's initial client response.
constexpr std::string_view kRfc7628Example =
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOW"
    "RmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";

TEST(OauthBearerMessage, Rfc7628Example) {
  auto decoded = base64_decode(kRfc7628Example, 1000);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded,
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
            "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
  auto m = parse_oauthbearer(*decoded, {});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (OauthBearerMessage{"user@example.com", "server.example.com", 143,
                                    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="}));
  EXPECT_EQ(base64_encode(encode_oauthbearer(*m)), kRfc7628Example);
}

TEST(OauthBearerMessage, Gs2Escapes) {
  EXPECT_EQ(gs2_escape("a,b=c"), "a=2Cb=3Dc");
  auto m = parse_oauthbearer(
      "n,a=a=2Cb=3Dc,\x01"
      "auth=Bearer t\x01\x01",
      {});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->authzid, "a,b=c");
  EXPECT_EQ(parse_oauthbearer("n,a=a=2Db,\x01"
                              "auth=Bearer t\x01\x01",
                              {})
                .error(),
            (Error{5, "bad '=' escape in authzid"}));
  EXPECT_EQ(parse_oauthbearer("n,a=ab=,\x01"
                              "auth=Bearer t\x01\x01",
                              {})
                .error(),
            (Error{6, "bad '=' escape in authzid"}));
  EXPECT_EQ(parse_oauthbearer("n,a=,\x01"
                              "auth=Bearer t\x01\x01",
                              {})
                .error(),
            (Error{2, "gs2 header field is not a=<authzid>"}));
}

TEST(OauthBearerMessage, HeaderErrors) {
  const Limits l;
  EXPECT_EQ(parse_oauthbearer("p=tls-unique,,\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{0, "OAUTHBEARER does not support channel binding"}));
  EXPECT_EQ(parse_oauthbearer("F,n,,\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{0, "gs2 header must start with n, or y,"}));
  EXPECT_EQ(parse_oauthbearer("n,x=1,\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{2, "gs2 header field is not a=<authzid>"}));
  EXPECT_EQ(parse_oauthbearer("n,,auth=Bearer t\x01\x01", l).error(),
            (Error{3, "gs2 header is not followed by ^A"}));
  EXPECT_TRUE(
      parse_oauthbearer("y,,\x01"
                        "auth=Bearer t\x01\x01",
                        l));
}

TEST(OauthBearerMessage, PairErrors) {
  const Limits l;
  EXPECT_EQ(parse_oauthbearer("n,,\x01\x01", l).error(), (Error{4, "auth is missing"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "auth=Bearer t\x01",
                              l)
                .error(),
            (Error{18, "message does not end with ^A"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "auth=Bearer t\x01\x01x",
                              l)
                .error(),
            (Error{19, "data after the final ^A"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "auth=Bearer t\x01"
                              "auth=Bearer u\x01\x01",
                              l)
                .error(),
            (Error{23, "duplicate auth"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "auth=Basic t\x01\x01",
                              l)
                .error(),
            (Error{9, "auth is not Bearer"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "a1=x\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{4, "malformed key/value pair"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "host=a\x7f\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{10, "invalid character in value"}));
  EXPECT_TRUE(
      parse_oauthbearer("n,,\x01"
                        "other=x y\x01"
                        "auth=Bearer t\x01\x01",
                        l));
}

TEST(OauthBearerMessage, PortRange) {
  auto port = [](std::string_view p) {
    return parse_oauthbearer("n,,\x01port=" + std::string(p) +
                                 "\x01"
                                 "auth=Bearer t\x01\x01",
                             {});
  };
  EXPECT_EQ(port("65535")->port, 65535);
  EXPECT_EQ(port("0")->port, 0);
  EXPECT_EQ(port("65536").error(), (Error{9, "port is not a number from 0 to 65535"}));
  EXPECT_FALSE(port("123456"));
  EXPECT_FALSE(port(""));
  EXPECT_FALSE(port("+1"));
}

TEST(OauthBearerMessage, LimitsAtNAndNPlusOne) {
  Limits l;
  l.authzid_bytes_max = 3;
  l.host_bytes_max = 2;
  l.token_bytes_max = 4;
  l.bearer_pairs_max = 3;
  l.message_bytes_max = 40;
  EXPECT_TRUE(
      parse_oauthbearer("n,a=abc,\x01host=hh\x01"
                        "auth=Bearer tttt\x01\x01",
                        l));
  EXPECT_EQ(parse_oauthbearer("n,a=abcd,\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{7, "authorization identity is too long"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01host=hhh\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{11, "host is too long"}));
  EXPECT_EQ(parse_oauthbearer("n,,\x01"
                              "auth=Bearer ttttt\x01\x01",
                              l)
                .error(),
            (Error{20, "token is too long"}));
  EXPECT_TRUE(
      parse_oauthbearer("n,,\x01x=1\x01y=2\x01"
                        "auth=Bearer t\x01\x01",
                        l));
  EXPECT_EQ(parse_oauthbearer("n,,\x01x=1\x01y=2\x01z=3\x01"
                              "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{16, "too many key/value pairs"}));
  const std::string forty = "n,,\x01x=" + std::string(18, 'v') +
                            "\x01"
                            "auth=Bearer t\x01\x01";
  ASSERT_EQ(forty.size(), 40u);
  EXPECT_TRUE(parse_oauthbearer(forty, l));
  EXPECT_EQ(parse_oauthbearer("n,,\x01x=" + std::string(19, 'v') +
                                  "\x01"
                                  "auth=Bearer t\x01\x01",
                              l)
                .error(),
            (Error{40, "OAUTHBEARER message is too long"}));
}

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("\xe2\x82\xac\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(is_utf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(is_utf8("\xe0\x80\x80"));      // overlong
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_utf8("\x80"));
}

TEST(Text, B64TokenAndJson) {
  EXPECT_TRUE(is_b64token("abc-._~+/=="));
  EXPECT_FALSE(is_b64token("=abc"));
  EXPECT_FALSE(is_b64token("ab=c"));
  EXPECT_FALSE(is_b64token(""));
  EXPECT_EQ(json_string("a\"b\\c\x01"), "\"a\\\"b\\\\c\\u0001\"");
}

}  // namespace
}  // namespace tern::protocol::sasl
