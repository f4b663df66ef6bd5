#include "protocol/imap/grammar.hpp"

#include <gtest/gtest.h>

#include "protocol/imap/framing.hpp"

namespace tern::protocol::imap {
namespace {

using Strings = std::vector<std::string>;

Response parsed(std::string_view text) {
  auto r = parse_response(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : Response{DataResponse{}};
}

// Feeds `wire` in pieces of `chunk` bytes; returns the responses and whether it failed.
std::pair<std::vector<Response>, bool> parse_all(std::string_view wire, std::size_t chunk,
                                                 Limits limits = {}) {
  ResponseParser p(limits);
  std::vector<Response> out;
  while (!wire.empty() && !p.failed()) {
    const std::size_t used = p.feed(wire.substr(0, std::min(chunk, wire.size())));
    wire.remove_prefix(used);
    while (auto r = p.poll()) out.push_back(*r);
  }
  return {out, p.failed()};
}

// Frames a command wire, inviting every synchronizing literal.
std::vector<CommandPart> frame(std::string_view wire, CommandReader::State* last = nullptr,
                               Limits limits = {}) {
  CommandReader reader(limits);
  while (true) {
    wire.remove_prefix(reader.feed(wire));
    if (reader.state() == CommandReader::State::literal_wanted) {
      reader.accept_literal();
      continue;
    }
    break;
  }
  if (last) *last = reader.state();
  return reader.parts();
}

TEST(ImapGrammar, DovecotGreetingCarriesCapabilities) {
  const auto r = parsed(
      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
      "AUTH=PLAIN] "
      "Dovecot ready.");
  const auto& s = std::get<StatusResponse>(r);
  EXPECT_EQ(s.tag, "");
  EXPECT_EQ(s.status, Status::ok);
  ASSERT_TRUE(s.code.has_value());
  EXPECT_TRUE(s.code->is("capability"));
  EXPECT_EQ(s.text, "Dovecot ready.");
  auto caps = parse_capability_list(s.code->text, {});
  ASSERT_TRUE(caps.has_value());
  EXPECT_EQ(*caps, (Strings{"IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE",
                            "LITERAL+", "STARTTLS", "AUTH=PLAIN"}));
  EXPECT_TRUE(has_capability(*caps, "sasl-ir"));
}

TEST(ImapGrammar, StatusResponsesAndCodes) {
  auto s = std::get<StatusResponse>(parsed("a01 NO [AUTHENTICATIONFAILED] Authentication failed."));
  EXPECT_EQ(s.tag, "a01");
  EXPECT_EQ(s.status, Status::no);
  EXPECT_EQ(s.code, (ResponseCode{"AUTHENTICATIONFAILED", ""}));
  EXPECT_EQ(s.text, "Authentication failed.");
  s = std::get<StatusResponse>(parsed("A2 no [UNAVAILABLE] Temporary authentication failure."));
  EXPECT_EQ(s.code, (ResponseCode{"UNAVAILABLE", ""}));
  s = std::get<StatusResponse>(parsed("* OK [ALERT] System shutdown in 10 minutes"));
  EXPECT_EQ(s.code, (ResponseCode{"ALERT", ""}));
  s = std::get<StatusResponse>(parsed("* OK [UIDVALIDITY 3857529045] UIDs valid"));
  EXPECT_EQ(s.code, (ResponseCode{"UIDVALIDITY", "3857529045"}));
  EXPECT_EQ(
      std::get<StatusResponse>(parsed("* PREAUTH IMAP4rev2 server logged in as Smith")).status,
      Status::preauth);
  EXPECT_EQ(std::get<StatusResponse>(parsed("* BYE Autologout; idle for too long")).status,
            Status::bye);
  EXPECT_EQ(std::get<StatusResponse>(parsed("A1 BAD")).text, "");
  EXPECT_EQ(std::get<CapabilityResponse>(
                parsed("* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED"))
                .capabilities,
            (Strings{"IMAP4rev2", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"}));
}

TEST(ImapGrammar, ContinuationRequests) {
  // The shape of RFC 9051 §6.2.2: an empty challenge, then base64 ones.
  EXPECT_EQ(std::get<ContinuationRequest>(parsed("+")).text, "");
  EXPECT_EQ(std::get<ContinuationRequest>(parsed("+ ")).text, "");
  EXPECT_EQ(
      std::get<ContinuationRequest>(parsed("+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMC"))
          .text,
      "YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMC");
  EXPECT_EQ(std::get<ContinuationRequest>(parsed("+ Ready for additional command text")).text,
            "Ready for additional command text");
}

TEST(ImapGrammar, MalformedResponsesAreErrors) {
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "", "*", "* ", "A1", "A1 PREAUTH x", "A1 BYE x", "A1 HELLO", "+x", "* OK [ALERT x",
           "* OK [] x", "* OK [ALERT]x", "A\"1 OK x", "* CAPABILITY  A", "* OK x\ry",
           std::string_view("* OK a\0b", 8)}) {
    EXPECT_FALSE(parse_response(bad).has_value()) << bad;
  }
}

TEST(ImapGrammar, SerializeRoundTripsAndRefusesWhatWouldNotParseBack) {
  const std::vector<Response> values{
      StatusResponse{"", Status::ok, ResponseCode{"CAPABILITY", "IMAP4rev1 SASL-IR"}, "ready"},
      StatusResponse{"A0001", Status::no, ResponseCode{"AUTHENTICATIONFAILED", ""},
                     "Authentication failed."},
      StatusResponse{"", Status::bye, std::nullopt, ""},
      CapabilityResponse{{"IMAP4rev2", "AUTH=PLAIN"}},
      ContinuationRequest{""},
      DataResponse{"1 FETCH (BODY[] {5}\r\nhello)"}};
  for (const auto& v : values) {
    auto wire = serialize(v);
    ASSERT_TRUE(wire.has_value());
    auto back = parse_all(*wire, 1);
    ASSERT_EQ(back.first.size(), 1u) << *wire;
    EXPECT_EQ(back.first[0], v) << *wire;
  }
  EXPECT_EQ(*serialize(values[1]), "A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  EXPECT_FALSE(serialize(StatusResponse{"", Status::ok, std::nullopt, "[ALERT] x"}).has_value());
  EXPECT_FALSE(serialize(StatusResponse{"A1", Status::bye, std::nullopt, "x"}).has_value());
  EXPECT_FALSE(serialize(StatusResponse{"A 1", Status::ok, std::nullopt, "x"}).has_value());
  EXPECT_FALSE(serialize(ContinuationRequest{"a\r\nb"}).has_value());
  EXPECT_FALSE(serialize(DataResponse{"1 FETCH {9}\r\nhello)"}).has_value());
}

TEST(ImapGrammar, DataResponsesCarryLiterals) {
  const std::string wire = "* 12 FETCH (BODY[HEADER] {5}\r\nab\r\nc {0}\r\n)\r\n* OK done\r\n";
  for (std::size_t chunk : {1u, 3u, 1000u}) {
    auto [responses, failed] = parse_all(wire, chunk);
    EXPECT_FALSE(failed);
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(std::get<DataResponse>(responses[0]).text,
              "12 FETCH (BODY[HEADER] {5}\r\nab\r\nc {0}\r\n)");
  }
  // A literal header ends only data responses: in a status text it is text.
  EXPECT_EQ(std::get<StatusResponse>(parse_all("* OK see {5}\r\n", 1).first.at(0)).text, "see {5}");
}

TEST(ImapGrammar, ResponseLineLimitAtNAndNPlusOne) {
  Limits limits;
  limits.line_bytes_max = 20;
  const std::string at_n = "* OK " + std::string(13, 'x') + "\r\n";  // 20 bytes
  ASSERT_EQ(at_n.size(), 20u);
  EXPECT_EQ(parse_all(at_n, 1, limits).first.size(), 1u);
  const std::string over = "* OK " + std::string(14, 'x') + "\r\n";
  for (std::size_t chunk : {1u, 100u}) {
    auto [responses, failed] = parse_all(over, chunk, limits);
    EXPECT_TRUE(failed);
    EXPECT_TRUE(responses.empty());
  }
}

TEST(ImapGrammar, ResponseLiteralLimitsAtNAndNPlusOne) {
  Limits limits;
  limits.literal_bytes_max = 4;
  limits.literals_max = 2;
  EXPECT_FALSE(parse_all("* 1 X {4}\r\nabcd\r\n", 1, limits).second);
  EXPECT_TRUE(parse_all("* 1 X {5}\r\nabcde\r\n", 1, limits).second);
  EXPECT_FALSE(parse_all("* 1 X {1}\r\na {1}\r\nb\r\n", 1, limits).second);
  EXPECT_TRUE(parse_all("* 1 X {1}\r\na {1}\r\nb {1}\r\nc\r\n", 1, limits).second);
}

TEST(ImapGrammar, BareLfIsAnError) {
  EXPECT_TRUE(parse_all("* OK hi\n", 1).second);
  EXPECT_TRUE(parse_all("\r\n", 1).second);
}

TEST(ImapGrammar, QuotedStringsUnescape) {
  auto parts = frame("a1 LOGIN \"fr\\\"ed\" \"back\\\\slash\"\r\n");
  auto c = parse_command(parts);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->args, (Strings{"fr\"ed", "back\\slash"}));
  EXPECT_FALSE(
      parse_command(frame("a1 LOGIN \"a\\b\" x\r\n")).has_value());  // only \" and \\ escape
  EXPECT_FALSE(parse_command(frame("a1 LOGIN \"open x\r\n")).has_value());
  EXPECT_EQ(quote("fr\"e\\d"), "\"fr\\\"e\\\\d\"");
}

// RFC 9051 §6.2.3: C: a001 LOGIN SMITH SESAME
TEST(ImapGrammar, Rfc9051LoginExample) {
  auto c = parse_command(frame("a001 LOGIN SMITH SESAME\r\n"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, (Command{"a001", "LOGIN", {"SMITH", "SESAME"}}));
  auto wire = serialize_command(*c, LiteralMode::sync);
  ASSERT_TRUE(wire.has_value());
  EXPECT_EQ(*wire, (Strings{"a001 LOGIN SMITH SESAME\r\n"}));
}

TEST(ImapGrammar, ArgumentsChooseAtomQuotedOrLiteral) {
  const Command c{"A1", "LOGIN", {"fred", "pass word", "p\xc3\xa4ss", "x\r\ny"}};
  auto sync = serialize_command(c, LiteralMode::sync);
  ASSERT_TRUE(sync.has_value());
  EXPECT_EQ(*sync,
            (Strings{"A1 LOGIN fred \"pass word\" {5}\r\n", "p\xc3\xa4ss {4}\r\n", "x\r\ny\r\n"}));
  auto plus = serialize_command(c, LiteralMode::non_sync);
  ASSERT_TRUE(plus.has_value());
  EXPECT_EQ(*plus, (Strings{"A1 LOGIN fred \"pass word\" {5+}\r\np\xc3\xa4ss {4+}\r\nx\r\ny\r\n"}));
  for (const auto& wire : {(*sync)[0] + (*sync)[1] + (*sync)[2], (*plus)[0]}) {
    auto back = parse_command(frame(wire));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, c);
  }
  EXPECT_FALSE(
      serialize_command(Command{"A1", "LOGIN", {std::string("a\0b", 3)}}, LiteralMode::sync)
          .has_value());
  EXPECT_FALSE(serialize_command(Command{"A+1", "NOOP", {}}, LiteralMode::sync).has_value());
}

// RFC 7888 §4: LITERAL- allows "{n+}" up to 4096 bytes.
TEST(ImapGrammar, LiteralMinusAtNAndNPlusOne) {
  const std::string at(4096, '\x80'), over(4097, '\x80');
  auto a = serialize_command(Command{"A1", "LOGIN", {"u", at}}, LiteralMode::non_sync_small);
  auto b = serialize_command(Command{"A1", "LOGIN", {"u", over}}, LiteralMode::non_sync_small);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->size(), 1u);
  EXPECT_EQ(a->front().substr(0, 17), "A1 LOGIN u {4096+");
  EXPECT_EQ(b->size(), 2u);
  EXPECT_EQ(b->front(), "A1 LOGIN u {4097}\r\n");
}

TEST(ImapGrammar, LiteralHeaders) {
  EXPECT_EQ(**literal_header_at_end("A LOGIN {12}", true), (LiteralHeader{12, false, 8}));
  EXPECT_EQ(**literal_header_at_end("A LOGIN {12+}", true), (LiteralHeader{12, true, 8}));
  EXPECT_FALSE(literal_header_at_end("A LOGIN {12+}", false).has_value());
  EXPECT_FALSE(literal_header_at_end("A LOGIN {}", true).has_value());
  EXPECT_FALSE(literal_header_at_end("A LOGIN x", true).has_value());
  EXPECT_FALSE(literal_header_at_end("A {99999999999}", true)->has_value());
  EXPECT_EQ(**literal_header_at_end("A {4294967295}", true),
            (LiteralHeader{4294967295u, false, 2}));
  EXPECT_FALSE(literal_header_at_end("A {4294967296}", true)->has_value());
}

TEST(ImapGrammar, CommandReaderLimitsAtNAndNPlusOne) {
  Limits limits;
  limits.line_bytes_max = 16;
  limits.literal_bytes_max = 3;
  limits.literals_max = 1;
  CommandReader::State state{};
  frame("A1 LOGIN abc de\r\n", &state, limits);  // 17 bytes
  EXPECT_EQ(state, CommandReader::State::line_too_long);
  auto parts = frame("A1 LOGIN abc d\r\n", &state, limits);  // 16 bytes
  EXPECT_EQ(state, CommandReader::State::complete);
  EXPECT_EQ(parse_command(parts, limits)->args, (Strings{"abc", "d"}));

  CommandReader r(limits);
  std::string_view wire = "A LOGIN {3+}\r\nabc x\r\n";
  wire.remove_prefix(r.feed(wire));
  EXPECT_EQ(r.state(), CommandReader::State::complete);
  EXPECT_FALSE(r.oversize());
  r.reset();
  wire = "A LOGIN {4+}\r\nabcd x\r\n";
  wire.remove_prefix(r.feed(wire));
  EXPECT_EQ(r.state(), CommandReader::State::complete);
  EXPECT_TRUE(r.oversize());
  EXPECT_TRUE(wire.empty());  // the oversized literal was read and dropped
  r.reset();
  wire = "A LOGIN {1+}\r\na {1+}\r\nb\r\n";  // two literals, one allowed
  wire.remove_prefix(r.feed(wire));
  EXPECT_TRUE(r.oversize());
}

TEST(ImapGrammar, SynchronizingLiteralWaitsForTheCaller) {
  CommandReader r;
  std::string_view wire = "A1 LOGIN {4}\r\nfred {6}\r\nsesame\r\n";
  wire.remove_prefix(r.feed(wire));
  ASSERT_EQ(r.state(), CommandReader::State::literal_wanted);
  EXPECT_EQ(r.literal().bytes, 4u);
  EXPECT_EQ(r.parts().front().line, "A1 LOGIN {4}");
  r.accept_literal();
  wire.remove_prefix(r.feed(wire));
  ASSERT_EQ(r.state(), CommandReader::State::literal_wanted);
  r.accept_literal();
  wire.remove_prefix(r.feed(wire));
  ASSERT_EQ(r.state(), CommandReader::State::complete);
  EXPECT_EQ(parse_command(r.parts())->args, (Strings{"fred", "sesame"}));
}

}  // namespace
}  // namespace tern::protocol::imap
