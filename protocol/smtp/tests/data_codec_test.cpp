#include "protocol/smtp/data_codec.hpp"

#include <gtest/gtest.h>

#include "protocol/smtp/tests/data_reference.hpp"

namespace tern::protocol::smtp {
namespace {

struct Outcome {
  std::size_t consumed;
  bool finished;
  std::string body;
  DataViolation violation;
};

Outcome decode_all(std::string_view wire, DataDecoderOptions options = {}) {
  DataDecoder decoder(options);
  std::string body;
  auto step = decoder.decode(wire, body);
  return {step.consumed, step.finished, body, decoder.violation()};
}

TEST(DataDecoder, SimpleBodyEndsAtCrlfDotCrlf) {
  auto r = decode_all("Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n");
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.consumed, 25u);  // stops right after the end-of-data line
  EXPECT_EQ(r.body, "Subject: hi\r\n\r\nHello\r\n");
  EXPECT_EQ(r.violation, DataViolation::none);
}

TEST(DataDecoder, EmptyMessageIsALoneDot) {
  auto r = decode_all(".\r\n");
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(r.body, "");
}

TEST(DataDecoder, DotUnstuffing) {
  auto r = decode_all("..\r\n...x\r\n.y\r\na.b\r\n.\r\n");
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.body, ".\r\n..x\r\ny\r\na.b\r\n");
}

TEST(DataDecoder, UnfinishedInputIsAllConsumed) {
  auto r = decode_all("line\r\n.");
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.consumed, 7u);
  EXPECT_EQ(r.body, "line\r\n");
}

TEST(DataDecoder, DecodeAfterTheEndDoesNothing) {
  DataDecoder decoder;
  std::string body;
  EXPECT_TRUE(decoder.decode(std::string_view(".\r\n"), body).finished);
  auto again = decoder.decode(std::string_view("more\r\n.\r\n"), body);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_TRUE(again.finished);
  EXPECT_EQ(body, "");
}

// Every smuggling sequence of CVE-2023-51764/51765/51766: none ends the message, each is
// a violation, and the real end of data still ends it.
struct Smuggle {
  const char* name;
  const char* sequence;
  DataViolation violation;
};

class Smuggling : public ::testing::TestWithParam<Smuggle> {};

TEST_P(Smuggling, NeverEndsTheMessage) {
  const std::string wire = std::string("a") + GetParam().sequence +
                           "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n"
                           "DATA\r\nforged\r\n.\r\n";
  auto r = decode_all(wire);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.consumed, wire.size()) << "the smuggled commands were read as body";
  EXPECT_EQ(r.violation, GetParam().violation);

  DataDecoderOptions lenient;
  lenient.normalize_bare_lf = lenient.normalize_bare_cr = true;
  auto l = decode_all(wire, lenient);
  EXPECT_TRUE(l.finished);
  EXPECT_EQ(l.consumed, wire.size()) << "leniency must not create an end of data";
  EXPECT_EQ(l.violation, DataViolation::none);
}

INSTANTIATE_TEST_SUITE_P(
    Cve2023, Smuggling,
    ::testing::Values(Smuggle{"lf_dot_lf", "\n.\n", DataViolation::bare_lf},
                      Smuggle{"lf_dot_crlf", "\n.\r\n", DataViolation::bare_lf},
                      Smuggle{"cr_dot_crlf", "\r.\r\n", DataViolation::bare_cr},
                      Smuggle{"crlf_dot_lf", "\r\n.\n", DataViolation::bare_lf},
                      Smuggle{"crlf_dot_cr", "\r\n.\r", DataViolation::bare_cr},
                      Smuggle{"cr_dot_cr", "\r.\r", DataViolation::bare_cr},
                      Smuggle{"lf_dot_cr", "\n.\r", DataViolation::bare_lf},
                      Smuggle{"cr_dot_lf", "\r.\n", DataViolation::bare_cr},
                      Smuggle{"crlf_dot_cr_crlf", "\r\n.\r\r\n", DataViolation::bare_cr},
                      Smuggle{"crlf_dot_nul_crlf", "\r\n.\0\r\n", DataViolation::none}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DataDecoder, LenientModesNormaliseToCrlf) {
  DataDecoderOptions lenient;
  lenient.normalize_bare_lf = lenient.normalize_bare_cr = true;
  auto r = decode_all("a\nb\rc\r\n.\r\n", lenient);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.body, "a\r\nb\r\nc\r\n");
  EXPECT_EQ(r.violation, DataViolation::none);
}

TEST(DataDecoder, LineLimitAtNAndNPlusOne) {
  // 998 content octets + CRLF = 1000: allowed. 999 + CRLF = 1001: a violation.
  const std::string ok = std::string(998, 'x') + "\r\n.\r\n";
  EXPECT_EQ(decode_all(ok).violation, DataViolation::none);
  const std::string too_long = std::string(999, 'x') + "\r\n.\r\n";
  auto r = decode_all(too_long);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.violation, DataViolation::line_too_long);
  // A stuffed dot counts: it is on the wire.
  EXPECT_EQ(decode_all("." + std::string(997, 'x') + "\r\n.\r\n").violation, DataViolation::none);
  EXPECT_EQ(decode_all("." + std::string(998, 'x') + "\r\n.\r\n").violation,
            DataViolation::line_too_long);
  DataDecoderOptions unlimited;
  unlimited.line_bytes_max = 0;
  EXPECT_EQ(decode_all(too_long, unlimited).violation, DataViolation::none);
}

TEST(DataDecoder, SizeLimitAtNAndNPlusOne) {
  DataDecoderOptions options;
  options.message_bytes_max = 7;  // "hello\r\n" is 7 octets
  auto at = decode_all("hello\r\n.\r\n", options);
  EXPECT_EQ(at.violation, DataViolation::none);
  EXPECT_EQ(at.body, "hello\r\n");
  auto over = decode_all("hello!\r\n.\r\n", options);
  EXPECT_TRUE(over.finished);
  EXPECT_EQ(over.violation, DataViolation::too_large);
}

// hannob's smtpsmug and The-Login's scanners end data with NUL tricks: "\r\n\0.\r\n" is
// content to us, but a next hop that strips NULs would read it as the end of the message.
// A NUL anywhere in the body refuses the message; the data still ends at the real end.
TEST(DataDecoder, ANulOctetIsAViolationAndNeverEndsTheData) {
  const std::string smuggled =
      "Subject: a\r\n\r\nbody\r\n" + std::string(1, '\0') +
      ".\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<z@w.example>\r\nDATA\r\nevil\r\n.\r\n";
  auto r = decode_all(smuggled);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.consumed, smuggled.size()) << "only the real end of data ends it";
  EXPECT_EQ(r.violation, DataViolation::nul);
  EXPECT_EQ(r.body, "Subject: a\r\n\r\nbody\r\n");
  const std::string mid_line = "ab" + std::string(1, '\0') + "cd\r\n.\r\n";
  EXPECT_EQ(decode_all(mid_line).violation, DataViolation::nul);
  EXPECT_EQ(decode_all(mid_line).body, "ab");
}

// BDAT text bodies obey DATA's line limit (1000 octets, line end included) and refuse NUL;
// the scanner gives the same answer however the body is cut into chunks.
TEST(BodyScanner, LineLimitAtNAndNPlusOneAndNul) {
  BodyScanner at(1000);
  EXPECT_EQ(at.scan(std::string(998, 'x') + "\r\n"), DataViolation::none);
  BodyScanner over(1000);
  EXPECT_EQ(over.scan(std::string(999, 'x') + "\r\n"), DataViolation::line_too_long);
  BodyScanner split(1000);
  EXPECT_EQ(split.scan(std::string(500, 'x')), DataViolation::none);
  EXPECT_EQ(split.scan(std::string(499, 'x')), DataViolation::none);
  EXPECT_EQ(split.scan(std::string("\r\n")), DataViolation::line_too_long);
  BodyScanner nul(1000);
  EXPECT_EQ(nul.scan(std::string("ok\r\n")), DataViolation::none);
  EXPECT_EQ(nul.scan(std::string("a\0b", 3)), DataViolation::nul);
  BodyScanner unlimited(0);
  EXPECT_EQ(unlimited.scan(std::string(5000, 'x') + "\r\n"), DataViolation::none);
}

TEST(DataDecoder, MatchesTheReferenceOnEverySplitOfATrickyInput) {
  const std::string wire = "..a\r\n\r\n.\rb\n..\r\n.x\r\r\n.\r\n\r\n.\r\n";
  for (bool lenient : {false, true}) {
    DataDecoderOptions options;
    options.normalize_bare_lf = options.normalize_bare_cr = lenient;
    auto want = reference::decode(wire, options);
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
      DataDecoder decoder(options);
      std::string body;
      auto first = decoder.decode(std::string_view(wire).substr(0, cut), body);
      auto second = decoder.decode(std::string_view(wire).substr(first.consumed), body);
      EXPECT_EQ(first.consumed + second.consumed, want.consumed) << cut;
      EXPECT_EQ(decoder.violation(), want.violation) << cut;
      EXPECT_EQ(body, want.out) << cut;
    }
  }
}

TEST(DataEncoder, StuffsDotsAndNormalisesLineEnds) {
  DataEncoder encoder;
  std::string wire;
  encoder.encode(std::string_view(".a\nb\r.c\r\n..\r\nend"), wire);
  encoder.finish(wire);
  EXPECT_EQ(wire, "..a\r\nb\r\n..c\r\n...\r\nend\r\n.\r\n");
}

TEST(DataEncoder, EmptyBodyAndBodyEndingInCrlf) {
  DataEncoder empty;
  std::string wire;
  empty.finish(wire);
  EXPECT_EQ(wire, ".\r\n");
  DataEncoder ended;
  wire.clear();
  ended.encode(std::string_view("x\r"), wire);
  ended.encode(std::string_view("\n"), wire);
  ended.finish(wire);
  EXPECT_EQ(wire, "x\r\n.\r\n");
  DataEncoder bare_cr_last;
  wire.clear();
  bare_cr_last.encode(std::string_view("x\r"), wire);
  bare_cr_last.finish(wire);
  EXPECT_EQ(wire, "x\r\n.\r\n");
}

TEST(DataEncoder, SmugglingSequencesInTheBodyCannotEndTheMessage) {
  for (const char* body : {"a\n.\nb", "a\r.\r\nb", "a\r\n.\nb", "a\n.\r\nb"}) {
    DataEncoder encoder;
    std::string wire;
    encoder.encode(std::string_view(body), wire);
    encoder.finish(wire);
    auto r = decode_all(wire);
    EXPECT_TRUE(r.finished);
    EXPECT_EQ(r.consumed, wire.size()) << body;
    EXPECT_EQ(r.violation, DataViolation::none);
    EXPECT_EQ(r.body, reference::normalize(body)) << body;
  }
}

}  // namespace
}  // namespace tern::protocol::smtp
