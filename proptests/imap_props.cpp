// Properties of the IMAP authentication subset (protocol/imap/):
// - the server machine: any split of the client's bytes gives the same output and events;
// - the client machine: any split of the server's bytes gives the same output and events;
// - client <-> server through an in-memory pipe with random chunking: the outcome is
//   `accepted` exactly when the credentials match, `rejected` otherwise (AUTHENTICATE PLAIN
//   and LOGIN, with and without SASL-IR, and the LOGIN command; with and without STARTTLS);
// - commands: serialize_command, framed by CommandReader, parses back to the same command
//   in every literal mode; responses that serialize parse back to themselves.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/imap/framing.hpp"
#include "protocol/imap/grammar.hpp"
#include "protocol/imap/tests/harness.hpp"

namespace tern::protocol::imap {
namespace {

using testing::ClientHarness;
using testing::Pipe;
using testing::ServerHarness;

rc::Gen<std::string> client_piece() {
  return rc::gen::element<std::string>(
      "a CAPABILITY\r\n", "b NOOP\r\n", "c LOGIN user pass\r\n", "d LOGIN \"user\" {4}\r\n",
      "pass\r\n", "e LOGIN {4+}\r\nuser {5+}\r\nwrong\r\n", "f AUTHENTICATE PLAIN\r\n",
      "AHVzZXIAcGFzcw==\r\n", "*\r\n", "g AUTHENTICATE PLAIN AHVzZXIAd3Jvbmc=\r\n",
      "h AUTHENTICATE LOGIN\r\n", "dXNlcg==\r\n", "cGFzcw==\r\n", "i STARTTLS\r\n",
      "j SELECT INBOX\r\n", "k FROB\r\n", "\r\n", "bare\n", "l LOGOUT\r\n", "{3}\r\n",
      "m LOGIN x {99}\r\n", std::string(70, 'x') + "\r\n");
}

ServerConfig server_config(int variant) {
  ServerConfig c;
  c.tls_available = variant % 2 == 0;
  c.tls_active = variant % 3 == 0;
  c.plaintext_without_tls = variant % 4 == 1;
  c.bad_commands_max = 50;
  c.auth_failures_max = 20;
  c.limits.line_bytes_max = 64;
  c.limits.literal_bytes_max = 32;
  return c;
}

// The k-th verification gets the k-th answer, whatever the split.
std::function<ServerDecision(const VerifyEvent&)> scripted(std::vector<int> answers) {
  auto counter = std::make_shared<std::size_t>(0);
  return [answers = std::move(answers), counter](const VerifyEvent& e) -> ServerDecision {
    const int a = answers.empty() ? 0 : answers[(*counter)++ % answers.size()];
    if (a == 1) return Verified{false};
    if (a == 2) return Unavailable{};
    return testing::check_user_pass(e);
  };
}

RC_GTEST_PROP(ImapProps, ServerAnySplitGivesTheSameOutputAndEvents, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(client_piece());
  std::string input;
  for (const auto& p : pieces) input += p;
  const int variant = *rc::gen::inRange(0, 12);
  const auto answers = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
  const std::size_t chunk = *rc::gen::inRange<std::size_t>(1, 17);

  ServerHarness whole(server_config(variant));
  whole.policy = scripted(answers);
  whole.run(input);
  ServerHarness split(server_config(variant));
  split.policy = scripted(answers);
  split.run(input, chunk);

  // What is left once the session closed is dropped by the caller, so it is not compared.
  RC_ASSERT(split.output == whole.output);
  RC_ASSERT(testing::describe_all(split.events) == testing::describe_all(whole.events));
  RC_ASSERT(split.session.is_closed() == whole.session.is_closed());
}

rc::Gen<std::string> server_piece() {
  return rc::gen::element<std::string>(
      "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN STARTTLS] ready\r\n",
      "* OK ready\r\n", "* PREAUTH hi\r\n", "* BYE go away\r\n",
      "* CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+\r\n", "A0001 OK done\r\n", "A0002 OK done\r\n",
      "A0003 OK [CAPABILITY IMAP4rev1] Logged in\r\n",
      "A0002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
      "A0001 NO [UNAVAILABLE] later\r\n", "A0003 BAD what\r\n", "+ \r\n", "+ VXNlcm5hbWU6\r\n",
      "+ Ready\r\n", "* 1 EXISTS\r\n", "* 1 FETCH (BODY[] {3}\r\nabc)\r\n", "garbage\r\n", "bare\n",
      "A0004 OK bye\r\n");
}

RC_GTEST_PROP(ImapProps, ClientAnySplitGivesTheSameOutputAndEvents, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(server_piece());
  std::string input;
  for (const auto& p : pieces) input += p;
  ClientConfig config;
  config.tls_active = *rc::gen::arbitrary<bool>();
  config.plaintext_without_tls = *rc::gen::arbitrary<bool>();
  const std::size_t chunk = *rc::gen::inRange<std::size_t>(1, 17);
  AuthRequest request;
  request.credentials.username = "user";
  request.credentials.password = "pass";

  ClientHarness whole(config), split(config);
  RC_ASSERT(!whole.session.authenticate(request, whole.now));
  RC_ASSERT(!split.session.authenticate(request, split.now));
  whole.run(input);
  split.run(input, chunk);
  RC_ASSERT(split.output == whole.output);
  RC_ASSERT(testing::describe_all(split.events) == testing::describe_all(whole.events));
  RC_ASSERT(split.session.is_closed() == whole.session.is_closed());
  RC_ASSERT(whole.outcomes().size() <= 1u);
}

// Credentials from whole UTF-8 characters, including the ones quoting and literals carry.
rc::Gen<std::string> credential() {
  return rc::gen::map(
      rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
          "u", "s", "e", "r", "p", "a", " ", "\"", "\\", "{", "}", "\xc3\xa9", "%", "*"))),
      [](const std::vector<std::string>& chars) {
        std::string s;
        for (const auto& c : chars) s += c;
        return s;
      });
}

RC_GTEST_PROP(ImapProps, PipeAuthenticatesExactlyWhenCredentialsMatch, ()) {
  const std::string user = *credential();
  const std::string pass = *credential();
  const bool right = *rc::gen::arbitrary<bool>();
  const std::string given_pass = right ? pass : pass + "x";
  const int method = *rc::gen::inRange(0, 3);  // PLAIN, LOGIN mechanism, LOGIN command
  const bool sasl_ir = *rc::gen::arbitrary<bool>();
  const bool via_starttls = *rc::gen::arbitrary<bool>();

  ServerConfig s;
  s.sasl_ir = sasl_ir;
  s.literal_plus = *rc::gen::arbitrary<bool>();
  s.tls_available = via_starttls;
  s.tls_active = !via_starttls;
  s.auth_mechanisms =
      method == 2 ? std::vector<std::string>{} : std::vector<std::string>{"PLAIN", "LOGIN"};
  ClientConfig c;
  c.tls_active = !via_starttls;
  c.starttls = TlsPolicy::required;
  AuthRequest request;
  request.mechanisms =
      method == 1 ? std::vector<std::string>{"LOGIN"} : std::vector<std::string>{"PLAIN"};
  request.credentials.username = user;
  request.credentials.password = given_pass;

  Pipe pipe(c, s);
  pipe.server.policy = [&](const VerifyEvent& e) -> ServerDecision {
    const auto& p = std::get<sasl::PasswordCredentials>(e.credentials);
    return Verified{p.authcid == user && p.password == pass};
  };
  const auto sizes =
      *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, 9));
  auto counter = std::make_shared<std::size_t>(0);
  pipe.next_chunk = [sizes, counter] {
    return sizes.empty() ? std::size_t{1000} : sizes[(*counter)++ % sizes.size()];
  };
  RC_ASSERT(!pipe.client.session.authenticate(request, pipe.client.now));
  pipe.run();

  const auto outcomes = pipe.client.outcomes();
  RC_ASSERT(outcomes.size() == 1u);
  RC_ASSERT(outcomes[0].outcome == (right ? Outcome::accepted : Outcome::rejected));
  RC_ASSERT(outcomes[0].method == (method == 0   ? "AUTHENTICATE PLAIN"
                                   : method == 1 ? "AUTHENTICATE LOGIN"
                                                 : "LOGIN"));
  RC_ASSERT(pipe.client.session.is_closed());
  RC_ASSERT(pipe.server.session.is_closed());
  RC_ASSERT(pipe.client.session.tls_active());
  RC_ASSERT(pipe.server.session.authenticated() == right);
}

RC_GTEST_PROP(ImapProps, LiteralEncodingRoundTrips, ()) {
  const auto args = *rc::gen::container<std::vector<std::string>>(
      rc::gen::map(rc::gen::arbitrary<std::string>(), [](std::string s) {
        std::erase(s, '\0');
        return s;
      }));
  RC_PRE(args.size() <= 8);
  const auto mode =
      *rc::gen::element(LiteralMode::sync, LiteralMode::non_sync, LiteralMode::non_sync_small);
  const Command command{"A0001", "LOGIN", args};
  auto segments = serialize_command(command, mode);
  RC_ASSERT(segments.has_value());
  std::string wire;
  for (const auto& s : *segments) wire += s;
  CommandReader reader;
  std::string_view rest = wire;
  std::size_t invitations = 0;
  while (true) {
    rest.remove_prefix(reader.feed(rest));
    if (reader.state() != CommandReader::State::literal_wanted) break;
    ++invitations;
    reader.accept_literal();
  }
  RC_ASSERT(reader.state() == CommandReader::State::complete);
  RC_ASSERT(rest.empty());
  RC_ASSERT(invitations + 1 == segments->size());  // one continuation per synchronizing literal
  auto back = parse_command(reader.parts());
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == command);
}

RC_GTEST_PROP(ImapProps, ResponsesThatSerializeParseBack, ()) {
  const auto tag = *rc::gen::element<std::string>("", "A0001", "a]b", "x");
  const auto status =
      *rc::gen::element(Status::ok, Status::no, Status::bad, Status::preauth, Status::bye);
  const auto code_name =
      *rc::gen::element<std::string>("", "CAPABILITY", "ALERT", "UNAVAILABLE", "A[B");
  const auto text = *rc::gen::arbitrary<std::string>();
  StatusResponse r{tag, status, std::nullopt, text};
  if (!code_name.empty())
    r.code = ResponseCode{code_name, *rc::gen::element<std::string>("", "IMAP4rev1 SASL-IR", "]")};
  auto wire = serialize(r);
  if (!wire) return;
  ResponseParser parser;
  RC_ASSERT(parser.feed(*wire) == wire->size());
  auto back = parser.poll();
  RC_ASSERT(back.has_value());
  RC_ASSERT(std::get<StatusResponse>(*back) == r);
}

}  // namespace
}  // namespace tern::protocol::imap
