// Property of the SMTP client machine: feeding the server's bytes split at any points gives
// the same output and the same events as feeding them whole (SMTP and LMTP, pipelined or
// not, with STARTTLS, AUTH, refusals and failures).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/smtp/client_session.hpp"

namespace tern::protocol::smtp {
namespace {

struct Scenario {
  ClientConfig config;
  std::string server;  // everything the server says, in order
};

std::vector<Scenario> scenarios() {
  ClientConfig smtp;
  ClientConfig lmtp;
  lmtp.mode = ClientMode::lmtp;
  ClientConfig tls_auth;
  tls_auth.starttls = StartTlsPolicy::require;
  tls_auth.auth = ClientAuth{{"LOGIN"}, {.username = "user", .password = "pass"}};
  const std::string ehlo =
      "250-mx\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 100\r\n";
  return {
      {smtp,
       "220 mx\r\n" + ehlo +
           "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n250 2.0.0 ok\r\n221 bye\r\n"},
      {smtp,
       "220 mx\r\n500 what\r\n250 mx\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n451 later\r\n221 "
       "bye\r\n"},
      {lmtp, "220 mx\r\n" + ehlo +
                 "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 a\r\n452 b\r\n221 bye\r\n"},
      {smtp,
       "220 mx\r\n" + ehlo +
           "550 5.7.1 sender refused\r\n503 no\r\n503 no\r\n503 no\r\n250 reset\r\n221 bye\r\n"},
      {tls_auth, "220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n"},
      {smtp, "220 mx\r\n" + ehlo + "250 ok\r\n25"},
      {smtp, "554 no\r\n221 bye\r\n"},
  };
}

// Runs a scenario with the server's text cut at `cuts`; returns the client's output and
// one line per event.
std::pair<std::string, std::vector<std::string>> run(const Scenario& scenario,
                                                     const std::vector<std::size_t>& cuts) {
  ClientSession client(scenario.config, Instant{0});
  std::string sent;
  std::vector<std::string> events;
  bool submitted = false;
  auto collect = [&] {
    auto out = client.pending_output();
    sent.append(out.data(), out.size());
    client.consume_output(out.size());
    while (auto event = client.poll_event()) {
      events.push_back(std::to_string(event->index()));
      if (std::holds_alternative<ReadyEvent>(*event) && !submitted) {
        submitted = true;
        Envelope e;
        e.sender = *parse_reverse_path("<s@x.org>", {});
        for (const char* r : {"<a@y.org>", "<b@y.org>", "<c@y.org>"}) {
          e.recipients.push_back(Rcpt{*parse_forward_path(r, {}), {}});
        }
        (void)client.submit(std::move(e), Instant{0});
      } else if (std::holds_alternative<ReadyEvent>(*event)) {
        client.quit(Instant{0});
      } else if (std::holds_alternative<BodyWantedEvent>(*event)) {
        (void)client.send_body(std::string_view("Subject: x\n\n.body\n"), Instant{0});
        (void)client.end_body(Instant{0});
      } else if (const auto* r = std::get_if<RecipientEvent>(&*event)) {
        events.back() += " " + std::to_string(r->index) + " " + std::to_string(int(r->outcome)) +
                         " " + std::to_string(r->reply.code);
      } else if (std::holds_alternative<ClientStartTlsEvent>(*event)) {
        (void)client.on_tls_established(Instant{0});
      }
    }
  };
  collect();
  std::string unconsumed;  // what the client has not taken yet: it is fed again
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : scenario.server.size();
    if (to > from) unconsumed += scenario.server.substr(from, to - from);
    from = std::max(from, to);
    while (true) {
      const std::size_t before = sent.size() + events.size();
      unconsumed.erase(0, client.feed(unconsumed, Instant{0}));
      collect();
      if (sent.size() + events.size() == before) break;
    }
  }
  return {sent, events};
}

RC_GTEST_PROP(ClientSessionProps, AnySplitOfTheServersBytesGivesTheSameResult, ()) {
  const auto all = scenarios();
  const Scenario& scenario = all[*rc::gen::inRange<std::size_t>(0, all.size())];
  auto cuts = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::inRange<std::size_t>(0, scenario.server.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  const auto whole = run(scenario, {});
  const auto split = run(scenario, cuts);
  RC_ASSERT(split.first == whole.first);
  RC_ASSERT(split.second == whole.second);
}

}  // namespace
}  // namespace tern::protocol::smtp
