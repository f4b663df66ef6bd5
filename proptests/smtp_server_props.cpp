// Properties of the SMTP server machine (protocol/smtp/server_session.hpp):
// - any split of the input gives the same output and the same events (body chunks merged);
// - whatever the client sends, the output is a sequence of well-formed replies.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/smtp/reply.hpp"
#include "protocol/smtp/tests/server_harness.hpp"

namespace tern::protocol::smtp {
namespace {

using testing::Harness;

// Lines a client might send, good and bad, including body fragments that look like ends.
rc::Gen<std::string> client_piece() {
  return rc::gen::element<std::string>(
      "EHLO client.example\r\n", "HELO client.example\r\n", "LHLO client.example\r\n",
      "MAIL FROM:<a@example.org>\r\n", "MAIL FROM:<> SIZE=10\r\n",
      "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n", "RCPT TO:<x@example.com>\r\n",
      "RCPT TO:<y@example.com> NOTIFY=NEVER\r\n", "DATA\r\n", "body line\r\n", "..stuffed\r\n",
      ".\r\n", "\n.\n", "\r.\r\n", "bare\nlf\r\n", "BDAT 4\r\n", "BDAT 0 LAST\r\n", "abcd",
      "RSET\r\n", "NOOP\r\n", "VRFY x\r\n", "HELP\r\n", "AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
      "AUTH PLAIN\r\n", "*\r\n", "AHVzZXIAd3Jvbmc=\r\n", "STARTTLS\r\n", "QUIT\r\n", "GARBAGE\r\n",
      "MAIL FROM:<bad\r\n", std::string(600, 'x') + "\r\n");
}

ServerConfig config_for(int variant) {
  ServerConfig c;
  c.hostname = "mx.test";
  c.message_bytes_max = 200;
  c.errors_max = 1000;
  c.junk_commands_max = 1000;
  c.mode = variant % 3 == 2 ? ServerMode::lmtp : ServerMode::smtp;
  c.tls_active = variant % 2 == 1;
  c.auth_mechanisms = {"PLAIN"};
  c.auth_required = variant % 3 == 1;
  return c;
}

// The k-th question gets the k-th answer: the same for every split.
std::function<ServerDecision(const ServerEvent&)> scripted(std::vector<bool> accepts) {
  auto counter = std::make_shared<std::size_t>(0);
  return [accepts = std::move(accepts), counter](const ServerEvent& e) -> ServerDecision {
    const bool accept = accepts.empty() || accepts[(*counter)++ % accepts.size()];
    if (accept) return testing::accept_all(e);
    return Reject{Reply{550, EnhancedStatus{5, 7, 1}, {"no"}}};
  };
}

RC_GTEST_PROP(ServerSessionProps, AnySplitGivesTheSameOutputAndEvents, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(client_piece());
  std::string input;
  for (const auto& p : pieces) input += p;
  const int variant = *rc::gen::inRange(0, 6);
  const auto accepts = *rc::gen::container<std::vector<bool>>(rc::gen::arbitrary<bool>());
  const std::size_t chunk = *rc::gen::inRange<std::size_t>(1, 17);

  Harness whole(config_for(variant));
  whole.policy = scripted(accepts);
  const std::string whole_rest = whole.run(input);
  Harness split(config_for(variant));
  split.policy = scripted(accepts);
  const std::string split_rest = split.run(input, chunk);

  RC_ASSERT(split.output == whole.output);
  RC_ASSERT(testing::describe_all(split.events) == testing::describe_all(whole.events));
  RC_ASSERT(split_rest == whole_rest);
}

RC_GTEST_PROP(ServerSessionProps, OutputIsAlwaysWellFormedReplies, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(
      rc::gen::oneOf(client_piece(), rc::gen::arbitrary<std::string>()));
  std::string input;
  for (const auto& p : pieces) input += p;
  Harness h(config_for(*rc::gen::inRange(0, 6)));
  h.run(input);
  ReplyParser parser;
  std::string_view rest = h.output;
  while (!rest.empty()) {
    const std::size_t used = parser.feed(rest);
    rest.remove_prefix(used);
    RC_ASSERT(!parser.failed());
    while (parser.poll()) {
    }
    RC_ASSERT(used != 0 || rest.empty());
  }
  RC_ASSERT(parser.idle());
}

}  // namespace
}  // namespace tern::protocol::smtp
