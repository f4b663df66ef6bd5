// Client machine <-> server machine over an in-memory pipe with random chunking: the server
// sees exactly the envelope and the (line-end normalised) body the client was given, and
// the client learns each recipient's fate — SMTP and LMTP, with and without PIPELINING and
// CHUNKING.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/smtp/tests/data_reference.hpp"
#include "protocol/smtp/tests/pipe_harness.hpp"

namespace tern::protocol::smtp {
namespace {

rc::Gen<std::string> local_part() {
  return rc::gen::map(rc::gen::pair(rc::gen::element<std::string>("", "bad"),
                                    rc::gen::nonEmpty(rc::gen::container<std::string>(
                                        rc::gen::element('a', 'b', 'x', '.', '-', '_')))),
                      [](const auto& p) {
                        std::string local = p.first + p.second;
                        // A dot-string cannot start or end with '.', nor hold "..".
                        for (char& ch : local)
                          if (ch == '.') ch = 'd';
                        return local;
                      });
}

rc::Gen<std::string> body_bytes() {
  return rc::gen::container<std::string>(rc::gen::weightedOneOf<char>({
      {3, rc::gen::element('\r', '\n', '.')},
      {5, rc::gen::element('a', 'B', ' ', ':')},
      {1, rc::gen::arbitrary<char>()},
  }));
}

RC_GTEST_PROP(ClientServerProps, TheServerGetsExactlyWhatTheClientWasGiven, ()) {
  const bool lmtp = *rc::gen::arbitrary<bool>();
  ServerConfig server_config;
  server_config.mode = lmtp ? ServerMode::lmtp : ServerMode::smtp;
  server_config.message_bytes_max = 0;
  server_config.limits.text_line_bytes_max = 1 << 20;
  server_config.extensions.pipelining = *rc::gen::arbitrary<bool>();
  server_config.extensions.chunking = *rc::gen::arbitrary<bool>();
  ClientConfig client_config;
  client_config.mode = lmtp ? ClientMode::lmtp : ClientMode::smtp;
  client_config.use_chunking = *rc::gen::arbitrary<bool>();
  client_config.use_pipelining = *rc::gen::arbitrary<bool>();

  Envelope envelope;
  auto sender = parse_reverse_path("<sender@example.org>", {});
  RC_ASSERT(sender.has_value());
  envelope.sender = *sender;
  const auto locals = *rc::gen::resize(
      8, rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(local_part())));
  for (const auto& local : locals) {
    auto path = parse_forward_path("<" + local + "@example.com>", {});
    RC_ASSERT(path.has_value());
    envelope.recipients.push_back(Rcpt{*path, {}});
  }
  const std::string body = *body_bytes();
  const std::size_t pieces = *rc::gen::inRange<std::size_t>(1, 6);
  const auto chunks = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, 40)));
  std::size_t turn = 0;
  auto next_chunk = [&] { return chunks[turn++ % chunks.size()]; };

  const auto c =
      testing::converse(server_config, client_config, envelope, body, pieces, next_chunk);

  RC_ASSERT(c.client_closed);
  RC_ASSERT(!c.session_failed);
  // A body with a NUL is refused by the server (RFC 5322 §2.3) for every recipient.
  const bool nul = body.find('\0') != std::string::npos;
  std::vector<ForwardPath> good;
  for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
    const bool bad = testing::is_bad(envelope.recipients[i].path);
    if (!bad) good.push_back(envelope.recipients[i].path);
    RC_ASSERT(c.outcomes[i].has_value());
    RC_ASSERT(*c.outcomes[i] == (bad || nul ? Outcome::permanent_failure : Outcome::delivered));
  }
  RC_ASSERT(c.rcpt_to == good);
  if (good.empty() || nul) {
    RC_ASSERT(c.messages == 0u);
  } else {
    RC_ASSERT(c.mail_from == envelope.sender);
    RC_ASSERT(c.messages == 1u);
    RC_ASSERT(c.body == smtp::reference::normalize(body));
  }
}

}  // namespace
}  // namespace tern::protocol::smtp
