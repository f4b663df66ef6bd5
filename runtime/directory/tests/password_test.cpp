// Known-answer vectors for every scheme, made with real tools outside Tern; each constant
// carries the command that produced it. Passwords: 'correct horse' unless said otherwise.
#include "runtime/directory/password.hpp"

#include <string>

#include <gtest/gtest.h>

#include "runtime/directory/secret_format.hpp"

namespace tern::runtime::directory {
namespace {

constexpr std::string_view kPw = "correct horse";

// openssl passwd -6 -salt saltsalt 'correct horse'
constexpr std::string_view kSha512 =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/"
    "uamSo5z0";
// openssl passwd -5 -salt saltsalt 'correct horse'
constexpr std::string_view kSha256 = "$5$saltsalt$myjXcpMpE2Ofk7fj9hqyNYSn6lmWG4Mqnjx.KIRRr4/";
// mkpasswd -m sha-512 -R 1000 -S ternsalt 'hunter2'
constexpr std::string_view kSha512R1000 =
    "$6$rounds=1000$ternsalt$inGnzNw6KIC8zsnTaORQiRIoBwpUuLA7w8AhZhLbUK8mmP3Fe2MwPVvyH8qDWxSp/"
    "hpIXUBA/XBQ2Vda9eRbN/";
// openssl passwd -5 -salt 'rounds=1000$ternsalt' 'hunter2'   (mkpasswd -m sha-256 -R 1000 agrees)
constexpr std::string_view kSha256R1000 =
    "$5$rounds=1000$ternsalt$DjvO9pemiib92zQwedKAjP8Vgviab9LGuOuU3/XA/yA";
// openssl passwd -5 -salt 'rounds=1001$ternsalt' 'hunter2'
constexpr std::string_view kSha256R1001 =
    "$5$rounds=1001$ternsalt$Soc9Shu7aD6s/4LzANWLPiw8SPmqKjwqQAEqpjMYjr0";
// openssl passwd -5 -salt 'sixteencharsalt1' 'hunter2'
constexpr std::string_view kSha256Salt16 =
    "$5$sixteencharsalt1$rIqNtmxjFrujSCOG3kRMQHTqWB1LRJmuSz7KFhjGYQ/";
// python3 -c "import crypt; print(crypt.crypt('correct horse','\$2b\$04\$abcdefghijklmnopqrstuu'))"
constexpr std::string_view kBcrypt2b =
    "$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e";
// python3 -c "import crypt; print(crypt.crypt('correct horse','\$2y\$04\$abcdefghijklmnopqrstuu'))"
constexpr std::string_view kBcrypt2y =
    "$2y$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e";
// python3 -c "import crypt; print(crypt.crypt('correct horse','\$2a\$04\$abcdefghijklmnopqrstuu'))"
constexpr std::string_view kBcrypt2a =
    "$2a$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e";
// mkpasswd -m bcrypt -R 5 -S abcdefghijklmnopqrstuu 'correct horse'
constexpr std::string_view kBcrypt05 =
    "$2b$05$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 2 -k 64 -p 1 -e
constexpr std::string_view kArgon2id =
    "$argon2id$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
    "5NMPTqpcE";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -i -t 2 -k 64 -p 2 -e
constexpr std::string_view kArgon2iP2 =
    "$argon2i$v=19$m=64,t=2,p=2$dGVybnNhbHQxNmJ5dGVzIQ$dBcwVkcRbs5DHoEf2iGfqJSYlwndfEp6KglHUlGVjuE";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 1 -k 32 -p 4 -e
constexpr std::string_view kArgon2idP4 =
    "$argon2id$v=19$m=32,t=1,p=4$dGVybnNhbHQxNmJ5dGVzIQ$"
    "HTk3OaUzIAxBmorP89obni7bgoI7CJ0m37zTXq5lgnY";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 2 -k 64 -p 1 -v 10 -e
constexpr std::string_view kArgon2idV16 =
    "$argon2id$v=16$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$"
    "7chGtVXEkwom1SmeAC799W29a8R9P4o4C1WfFDz6fvk";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 2 -k 64 -p 1 -l 16 -e
constexpr std::string_view kArgon2idL16 =
    "$argon2id$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$J07rkC6jifTjnMkx48+MIA";
// echo -n 'correct horse' | argon2 8bytes!! -id -t 1 -k 8 -p 1 -l 4 -e   (salt 8 bytes, hash 4)
constexpr std::string_view kArgon2idMin = "$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzISE$QobgaA";
// echo -n 'correct horse' | argon2 8bytes!! -id -t 1 -k 8 -p 1 -l 64 -e   (hash 64 bytes)
constexpr std::string_view kArgon2idHash64 =
    "$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzISE$"
    "wGWVRd18mAWcnaDLkThko1errRI8Yn8KONFBkTipCXtgkMujK4IPCyk8wkQI7kF550Yrf0vK"
    "HfY85d7JRFRa8Q";
// (salt 64 bytes)
// echo -n 'correct horse' | argon2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
// -id -t 1 -k 8 -p 1 -e
constexpr std::string_view kArgon2idSalt64 =
    "$argon2id$v=19$m=8,t=1,p=1$"
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg"
    "$3U5XLY2maTVaTIphZyaT9lKoAiJAE7JzKXocK/s4ufc";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 2 -k 65 -p 1 -e
constexpr std::string_view kArgon2idM65 =
    "$argon2id$v=19$m=65,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$49+M5Mv306Tzn/"
    "RQJ9EqGxmrpD9ATjviTA1oKtuSVXw";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 3 -k 64 -p 1 -e
constexpr std::string_view kArgon2idT3 =
    "$argon2id$v=19$m=64,t=3,p=1$dGVybnNhbHQxNmJ5dGVzIQ$"
    "YBrqqt7f3cSdyoVNF9WltutQcZDh2rHzdVLYLa2GByo";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -id -t 1 -k 64 -p 3 -e
constexpr std::string_view kArgon2idP3 =
    "$argon2id$v=19$m=64,t=1,p=3$dGVybnNhbHQxNmJ5dGVzIQ$rZKl0EG3Z79CHY017OMobyvC7N1Wd4OO4Q6qrCKl/"
    "xc";
// echo -n 'correct horse' | argon2 ternsalt16bytes! -d -t 2 -k 64 -p 1 -e
constexpr std::string_view kArgon2d =
    "$argon2d$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$xVOJZolDkUVptvUC6iA9fajY1928DfdVfNIOA4pGzYM";
// openssl passwd -1 -salt saltsalt 'correct horse'
constexpr std::string_view kMd5Crypt = "$1$saltsalt$NuzA7WTAelpl95xgBGWN60";
// mkpasswd -m yescrypt 'x'
constexpr std::string_view kYescrypt =
    "$y$j9T$zB8e/zfl/By66TKJ97EfW/$OlI/9/f86rt7JHB0ozQbk07CUlnNa65EQYu6rlSiWeA";
// UTF-8 password "passéword":
// openssl passwd -6 -salt utf8salt $'pass\xc3\xa9word'   (python3 crypt.crypt agrees)
constexpr std::string_view kSha512Utf8 =
    "$6$utf8salt$RIlzKRUH3CJk/"
    "4EphbqKVSmCwTAjwLi.5jm5trghc4BWRLtWr9gGyaufJZh2COSq9XFW22o0LLHsjke5jQY7m1";
// printf 'pass\xc3\xa9word' | argon2 ternsalt16bytes! -id -t 1 -k 16 -p 1 -e
constexpr std::string_view kArgon2idUtf8 =
    "$argon2id$v=19$m=16,t=1,p=1$dGVybnNhbHQxNmJ5dGVzIQ$HxGMfsOynmqP0Dq0qgNtPmOiQ4/"
    "WC2TXh+iaEon22Sw";
// python3 -c "import crypt; print(crypt.crypt('a'*256,'\$6\$limitpw'))"
//   (openssl passwd -6 -salt limitpw gives the same; it truncates longer passwords to 256)
constexpr std::string_view kSha512A256 =
    "$6$limitpw$IfE8pMqQZUj1e5G6ZMKy96C2nn9StH4RQrShK."
    "7EZMEQNHZSlP2yzs8qO2mOfnRlVU5U81I9iLmMMEiHKHFGZ0";
// python3 -c "import crypt; print(crypt.crypt('a'*257,'\$6\$limitpw'))"
constexpr std::string_view kSha512A257 =
    "$6$limitpw$sGyok4neQV5WLG26DQ3aoQIPGve/"
    "8O.DrWq2VOlptKOwxyxSl5AJFY2PsvvV0spgTq2nVr2WFQ60.KQv3RD4p0";

void expect(PasswordCheck check, Verdict verdict, std::string_view scheme_name) {
  EXPECT_EQ(check.verdict, verdict) << check.reason;
  EXPECT_EQ(check.scheme_name, scheme_name);
}

TEST(PasswordKnownAnswers, EachSchemeMatchesItsPassword) {
  expect(verify(kPw, kSha512), Verdict::match, "6");
  expect(verify(kPw, kSha256), Verdict::match, "5");
  expect(verify("hunter2", kSha512R1000), Verdict::match, "6");
  expect(verify("hunter2", kSha256R1000), Verdict::match, "5");
  expect(verify("hunter2", kSha256R1001), Verdict::match, "5");
  expect(verify("hunter2", kSha256Salt16), Verdict::match, "5");
  expect(verify(kPw, kBcrypt2b), Verdict::match, "2b");
  expect(verify(kPw, kBcrypt2y), Verdict::match, "2y");
  expect(verify(kPw, kBcrypt2a), Verdict::match, "2a");
  expect(verify(kPw, kBcrypt05), Verdict::match, "2b");
  expect(verify(kPw, kArgon2id), Verdict::match, "argon2id");
  expect(verify(kPw, kArgon2iP2), Verdict::match, "argon2i");
  expect(verify(kPw, kArgon2idP4), Verdict::match, "argon2id");
  expect(verify(kPw, kArgon2idV16), Verdict::match, "argon2id");
  expect(verify(kPw, kArgon2idL16), Verdict::match, "argon2id");
  expect(verify(kPw, kArgon2idMin), Verdict::match, "argon2id");
  expect(verify(kPw, kArgon2idHash64), Verdict::match, "argon2id");
  expect(verify(kPw, kArgon2idSalt64), Verdict::match, "argon2id");
  expect(verify("pass\xc3\xa9word", kSha512Utf8), Verdict::match, "6");
  expect(verify("pass\xc3\xa9word", kArgon2idUtf8), Verdict::match, "argon2id");
}

TEST(PasswordKnownAnswers, WrongPasswordIsMismatchForEachScheme) {
  for (std::string_view secret : {kSha512, kSha256, kBcrypt2b, kBcrypt2y, kBcrypt2a, kArgon2id,
                                  kArgon2iP2, kArgon2idP4, kArgon2idV16, kArgon2idMin}) {
    EXPECT_EQ(verify("correct horsE", secret).verdict, Verdict::mismatch) << secret;
    EXPECT_EQ(verify("correct hors", secret).verdict, Verdict::mismatch) << secret;
    EXPECT_EQ(verify("correct horse ", secret).verdict, Verdict::mismatch) << secret;
  }
  EXPECT_EQ(verify("hunter3", kSha512R1000).verdict, Verdict::mismatch);
  EXPECT_EQ(verify("passeword", kSha512Utf8).verdict, Verdict::mismatch);
  EXPECT_EQ(verify(kPw, "correct horsE").verdict, Verdict::mismatch);
  EXPECT_EQ(verify(kPw, "correct horsE").reason, "wrong password");
}

TEST(PasswordKnownAnswers, ChangingOneCharacterOfTheHashIsMismatch) {
  std::string s(kSha512);
  s.back() = s.back() == '0' ? '1' : '0';
  EXPECT_EQ(verify(kPw, s).verdict, Verdict::mismatch);
  std::string a(kArgon2id);
  a[a.size() - 2] = a[a.size() - 2] == 'p' ? 'q' : 'p';
  EXPECT_EQ(verify(kPw, a).verdict, Verdict::mismatch);
  std::string b(kBcrypt2b);
  b.back() = b.back() == 'e' ? 'f' : 'e';
  EXPECT_EQ(verify(kPw, b).verdict, Verdict::mismatch);
}

TEST(PasswordPlain, PlainTextAndDovecotPrefix) {
  expect(verify("s3cret", "s3cret"), Verdict::match, "plain");
  expect(verify("s3cret", "s3creT"), Verdict::mismatch, "plain");
  expect(verify("s3cret", "s3cre"), Verdict::mismatch, "plain");
  expect(verify("s3cret", "{PLAIN}s3cret"), Verdict::match, "plain");
  expect(verify("s3cret", "{plain}s3cret"), Verdict::match, "plain");
  expect(verify("$dollar{x}", "{PLAIN}$dollar{x}"), Verdict::match, "plain");
  expect(verify("{PLAIN}s3cret", "{PLAIN}s3cret"), Verdict::mismatch, "plain");
  expect(verify(std::string_view("a\0b", 3), "a"), Verdict::mismatch, "plain");
}

TEST(PasswordPlain, IsPlainText) {
  EXPECT_TRUE(is_plain_text("s3cret"));
  EXPECT_TRUE(is_plain_text("{PLAIN}s3cret"));
  EXPECT_TRUE(is_plain_text("{Plain}"));
  EXPECT_TRUE(is_plain_text("abJnggxhB/yWI"));  // a DES crypt hash cannot be told from text
  EXPECT_FALSE(is_plain_text(kSha512));
  EXPECT_FALSE(is_plain_text(kArgon2id));
  EXPECT_FALSE(is_plain_text("{SHA512-CRYPT}$6$x$y"));
  EXPECT_FALSE(is_plain_text("{PLAI}x"));
  EXPECT_FALSE(is_plain_text(""));
}

TEST(PasswordDovecot, PrefixedHashes) {
  expect(verify(kPw, "{SHA512-CRYPT}" + std::string(kSha512)), Verdict::match, "6");
  expect(verify(kPw, "{sha256-crypt}" + std::string(kSha256)), Verdict::match, "5");
  expect(verify(kPw, "{BLF-CRYPT}" + std::string(kBcrypt2y)), Verdict::match, "2y");
  expect(verify(kPw, "{ARGON2ID}" + std::string(kArgon2id)), Verdict::match, "argon2id");
  expect(verify(kPw, "{ARGON2I}" + std::string(kArgon2iP2)), Verdict::match, "argon2i");
  expect(verify(kPw, "{CRYPT}" + std::string(kSha256)), Verdict::match, "5");
  expect(verify(kPw, "{SHA256-CRYPT}" + std::string(kSha512)), Verdict::malformed, "SHA256-CRYPT");
  expect(verify(kPw, "{ARGON2I}" + std::string(kArgon2id)), Verdict::malformed, "ARGON2I");
  expect(verify(kPw, "{CRYPT}s3cret"), Verdict::malformed, "CRYPT");
  expect(verify(kPw, "{SSHA}abcd"), Verdict::unsupported_scheme, "SSHA");
  expect(verify(kPw, "{SHA512-CRYPT}" + std::string(kMd5Crypt)), Verdict::unsupported_scheme, "1");
  expect(verify(kPw, "{no close"), Verdict::malformed, "");
  expect(verify(kPw, "{}x"), Verdict::malformed, "");
  expect(verify(kPw, "{a b}x"), Verdict::malformed, "");
}

TEST(PasswordSchemes, UnsupportedSchemes) {
  expect(verify(kPw, kMd5Crypt), Verdict::unsupported_scheme, "1");
  expect(verify("x", kYescrypt), Verdict::unsupported_scheme, "y");
  expect(verify(kPw, kArgon2d), Verdict::unsupported_scheme, "argon2d");
  expect(verify(kPw, "$2x$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e"),
         Verdict::unsupported_scheme, "2x");
  expect(verify(kPw, "$7$abc"), Verdict::unsupported_scheme, "7");
  expect(verify(kPw, "$pbkdf2-sha256$x"), Verdict::unsupported_scheme, "pbkdf2-sha256");
  expect(verify(kPw, "{Summer2024}x"), Verdict::unsupported_scheme, "unknown");
  expect(verify(kPw, "$Summer2024$x"), Verdict::unsupported_scheme, "unknown");
  expect(verify(kPw, "{ssha}abc"), Verdict::unsupported_scheme, "SSHA");
  EXPECT_EQ(verify(kPw, kMd5Crypt).reason, "md5-crypt is too weak: rehash with $6$ or argon2id");
}

TEST(PasswordSchemes, MalformedHashes) {
  for (std::string_view bad : {
           "",
           "$",
           "$$",
           "$6",
           "$6$",
           "$6$saltsalt",
           "$6$saltsalt$",
           "$6$salt$short",
           "$6$sa:lt$x",
           "$6$rounds=$salt$x",
           "$6$rounds=01000$ternsalt$x",
           "$6$rounds=999$ternsalt$x",
           "$5$saltsalt$myjXcpMpE2Ofk7fj9hqyNYSn6lmWG4Mqnjx.KIRRr4",    // 42 characters
           "$5$saltsalt$myjXcpMpE2Ofk7fj9hqyNYSn6lmWG4Mqnjx.KIRRr4//",  // 44 characters
           "$5$saltsalt$myjXcpMpE2Ofk7fj9hqyNYSn6lmWG4Mqnjx.KIRRr4_",   // '_' not in the alphabet
           "$5$seventeencharsalt$rIqNtmxjFrujSCOG3kRMQHTqWB1LRJmuSz7KFhjGYQ/",
           "$2b$4$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
           "$2b$03$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
           "$2b$32$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
           "$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6",
           "$argon2id$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ",
           "$argon2id$v=18$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$t=2,m=64,p=1$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$m=64,t=0,p=1$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$m=7,t=1,p=1$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$m=31,t=1,p=4$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ==$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIR$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE",
           "$argon2id$v=19$m=64,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+"
           "5NMPTqpcE$",
           "$argon2id$v=19$m=99999999999,t=2,p=1$dGVybnNhbHQxNmJ5dGVzIQ$"
           "IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+5NMPTqpcE",
           "$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzIQ$QobgaA",  // salt of 7 bytes
           "$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzISE$Qobg",   // hash of 3 bytes
       }) {
    PasswordCheck check = verify(kPw, bad);
    EXPECT_EQ(check.verdict, Verdict::malformed) << bad << " : " << check.reason;
  }
}

TEST(PasswordSchemes, SecretInfoWithoutAPassword) {
  SecretInfo good = inspect_secret(kArgon2id);
  EXPECT_TRUE(good.usable);
  EXPECT_EQ(good.scheme, Scheme::argon2id);
  SecretInfo weak = inspect_secret(kMd5Crypt);
  EXPECT_FALSE(weak.usable);
  EXPECT_EQ(weak.problem, Verdict::unsupported_scheme);
  SecretInfo broken = inspect_secret("$6$x");
  EXPECT_FALSE(broken.usable);
  EXPECT_EQ(broken.problem, Verdict::malformed);
  EXPECT_EQ(inspect_secret("text").scheme, Scheme::plain);
}

TEST(PasswordInputs, EmptyPasswordAndNulAreMismatch) {
  EXPECT_EQ(verify("", kSha512).verdict, Verdict::mismatch);
  EXPECT_EQ(verify("", kSha512).reason, "empty password");
  EXPECT_EQ(verify(std::string_view("correct horse\0x", 15), kSha512).verdict, Verdict::mismatch);
  EXPECT_EQ(verify(std::string_view("correct horse\0x", 15), kSha512).reason,
            "password holds a NUL byte");
  // A broken secret is reported whatever the password.
  EXPECT_EQ(verify("", "$6$x").verdict, Verdict::malformed);
}

// Limits, each at N and N+1.
TEST(PasswordLimitsTest, PasswordLength) {
  const std::string a256(256, 'a');
  const std::string a257(257, 'a');
  EXPECT_EQ(verify(a256, kSha512A256).verdict, Verdict::match);
  EXPECT_EQ(verify(a257, kSha512A257).verdict, Verdict::mismatch);  // the right password, too long
  EXPECT_EQ(verify(a257, kSha512A257).reason, "password longer than the limit");
  EXPECT_EQ(verify(a256, a256).verdict, Verdict::match);
  EXPECT_EQ(verify(a257, a257).verdict, Verdict::mismatch);
}

TEST(PasswordLimitsTest, SecretLength) {
  const std::string s512(512, 's');
  const std::string s513(513, 's');
  EXPECT_EQ(verify(s512.substr(0, 256), s512).verdict, Verdict::mismatch);  // usable secret
  EXPECT_TRUE(inspect_secret(s512).usable);
  EXPECT_EQ(verify("s", s513).verdict, Verdict::malformed);
  EXPECT_EQ(verify("s", s513).reason, "secret longer than the limit");
  PasswordLimits wide;
  wide.password_bytes_max = 512;
  EXPECT_EQ(verify(s512, s512, wide).verdict, Verdict::match);
}

TEST(PasswordLimitsTest, ShaCryptRounds) {
  PasswordLimits limits;
  limits.sha_crypt_rounds_max = 1000;
  EXPECT_EQ(verify("hunter2", kSha256R1000, limits).verdict, Verdict::match);
  EXPECT_EQ(verify("hunter2", kSha256R1001, limits).verdict, Verdict::malformed);
  EXPECT_EQ(verify("hunter2", kSha256R1001, limits).reason, "rounds above the limit");
  EXPECT_TRUE(inspect_secret("$6$rounds=1000000$ternsalt$" + std::string(86, 'a')).usable);
  EXPECT_EQ(inspect_secret("$6$rounds=1000001$ternsalt$" + std::string(86, 'a')).reason,
            "rounds above the limit");
}

TEST(PasswordLimitsTest, ShaCryptSalt) {
  EXPECT_EQ(verify("hunter2", kSha256Salt16).verdict, Verdict::match);
  EXPECT_EQ(
      inspect_secret("$5$sixteencharsalt12$rIqNtmxjFrujSCOG3kRMQHTqWB1LRJmuSz7KFhjGYQ/").reason,
      "bad salt");
}

TEST(PasswordLimitsTest, BcryptCost) {
  PasswordLimits limits;
  limits.bcrypt_cost_max = 4;
  EXPECT_EQ(verify(kPw, kBcrypt2b, limits).verdict, Verdict::match);
  EXPECT_EQ(verify(kPw, kBcrypt05, limits).verdict, Verdict::malformed);
  EXPECT_EQ(verify(kPw, kBcrypt05, limits).reason, "bcrypt cost above the limit");
  EXPECT_TRUE(
      inspect_secret("$2b$16$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e").usable);
  EXPECT_EQ(inspect_secret("$2b$17$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e").reason,
            "bcrypt cost above the limit");
}

TEST(PasswordLimitsTest, Argon2Costs) {
  PasswordLimits limits;
  limits.argon2_memory_kib_max = 64;
  limits.argon2_time_max = 2;
  limits.argon2_lanes_max = 2;
  EXPECT_EQ(verify(kPw, kArgon2id, limits).verdict, Verdict::match);   // m=64 t=2
  EXPECT_EQ(verify(kPw, kArgon2iP2, limits).verdict, Verdict::match);  // p=2
  EXPECT_EQ(verify(kPw, kArgon2idM65, limits).reason, "argon2 memory above the limit");
  EXPECT_EQ(verify(kPw, kArgon2idT3, limits).reason, "argon2 time above the limit");
  EXPECT_EQ(verify(kPw, kArgon2idP3, limits).reason, "argon2 lanes above the limit");
  EXPECT_EQ(verify(kPw, kArgon2idM65).verdict, Verdict::match);
  EXPECT_EQ(verify(kPw, kArgon2idT3).verdict, Verdict::match);
  EXPECT_EQ(verify(kPw, kArgon2idP3).verdict, Verdict::match);
  // The default limits, from the parameters alone (nothing is computed).
  const std::string tail = "$dGVybnNhbHQxNmJ5dGVzIQ$IdMvWXz8EodzU2JBpJ2ZzbgJmqq5zknMf+5NMPTqpcE";
  EXPECT_TRUE(inspect_secret("$argon2id$v=19$m=262144,t=16,p=16" + tail).usable);
  EXPECT_EQ(inspect_secret("$argon2id$v=19$m=262145,t=1,p=1" + tail).reason,
            "argon2 memory above the limit");
  EXPECT_EQ(inspect_secret("$argon2id$v=19$m=64,t=17,p=1" + tail).reason,
            "argon2 time above the limit");
  EXPECT_EQ(inspect_secret("$argon2id$v=19$m=136,t=1,p=17" + tail).reason,
            "argon2 lanes above the limit");
}

TEST(PasswordLimitsTest, Argon2SaltAndHashLengths) {
  EXPECT_EQ(verify(kPw, kArgon2idSalt64).verdict, Verdict::match);  // salt 64 bytes
  EXPECT_EQ(verify(kPw, kArgon2idMin).verdict, Verdict::match);     // salt 8, hash 4
  EXPECT_EQ(verify(kPw, kArgon2idHash64).verdict, Verdict::match);  // hash 64
  // 65 bytes of salt / hash: 87 base64 characters, the last 2 bits zero.
  const std::string b65_exact(87, 'A');
  std::vector<std::uint8_t> bytes;
  ASSERT_TRUE(decode_base64_unpadded(b65_exact, bytes));
  ASSERT_EQ(bytes.size(), 65U);
  EXPECT_EQ(inspect_secret("$argon2id$v=19$m=8,t=1,p=1$" + b65_exact + "$QobgaA").reason,
            "argon2 salt length out of range");
  EXPECT_EQ(inspect_secret("$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzISE$" + b65_exact).reason,
            "argon2 hash length out of range");
}

TEST(PasswordBase64, StrictUnpadded) {
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(decode_base64_unpadded("", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(decode_base64_unpadded("QQ", out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{'A'}));
  EXPECT_TRUE(decode_base64_unpadded("QUI", out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{'A', 'B'}));
  EXPECT_TRUE(decode_base64_unpadded("+/+/", out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0xfb, 0xff, 0xbf}));
  EXPECT_FALSE(decode_base64_unpadded("QR", out));    // trailing bits not zero
  EXPECT_FALSE(decode_base64_unpadded("Q", out));     // 6 bits make no byte
  EXPECT_FALSE(decode_base64_unpadded("QQ==", out));  // padding
  EXPECT_FALSE(decode_base64_unpadded("Q-Q", out));   // base64url is not argon2's alphabet
}

}  // namespace
}  // namespace tern::runtime::directory
