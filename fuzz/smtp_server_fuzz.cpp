// Fuzz target: the SMTP server machine driven by the fuzzer — which bytes arrive in which
// chunks, when time passes, which decisions the application makes (valid or not), TLS
// handshakes, EOF, partial writes and shutdown.
// Invariants: the output is always a sequence of well-formed replies; at most one question
// is open at a time; a refused decide() changes neither output nor events; nothing is
// consumed or sent once the session is closed.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/smtp/reply.hpp"
#include "protocol/smtp/server_session.hpp"
#include "protocol/smtp/tests/server_harness.hpp"

using namespace tern::protocol;
using namespace tern::protocol::smtp;
using tern::fuzz::check;

namespace {

Reply some_reply(FuzzedDataProvider& in) {
  const auto code = in.ConsumeIntegralInRange<std::uint16_t>(200, 599);
  Reply reply{code, std::nullopt, {in.ConsumeRandomLengthString(20)}};
  if (in.ConsumeBool()) {
    reply.enhanced = EnhancedStatus{static_cast<std::uint16_t>(code / 100), 1, 1};
  }
  return reply;
}

ServerDecision some_decision(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0: return Accept{};
    case 1: return Accept{some_reply(in)};
    case 2: return Reject{some_reply(in)};
    case 3: return Challenge{in.ConsumeRandomLengthString(16)};
    case 4: return Authenticated{};
    case 5: {
      PerRecipient each;
      const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 4);
      for (std::size_t i = 0; i < n; ++i) each.replies.push_back(some_reply(in));
      return each;
    }
    default: return Reject{Reply{550, EnhancedStatus{5, 7, 1}, {"no"}}};
  }
}

ServerConfig some_config(FuzzedDataProvider& in) {
  ServerConfig c;
  c.hostname = "mx.fuzz";
  c.mode = in.ConsumeBool() ? ServerMode::lmtp : ServerMode::smtp;
  c.tls_available = in.ConsumeBool();
  c.tls_active = in.ConsumeBool();
  c.auth_mechanisms = {"PLAIN", "LOGIN"};
  c.auth_required = in.ConsumeBool();
  c.auth_requires_tls = in.ConsumeBool();
  c.message_bytes_max = in.ConsumeIntegralInRange<std::uint64_t>(0, 300);
  c.recipients_max = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  c.normalize_bare_lf = in.ConsumeBool();
  c.normalize_bare_cr = in.ConsumeBool();
  c.allow_bare_lf_in_commands = in.ConsumeBool();
  c.extensions.vrfy = in.ConsumeBool();
  c.extensions.chunking = in.ConsumeBool();
  c.errors_max = in.ConsumeIntegralInRange<std::uint32_t>(1, 20);
  c.output_backlog_bytes_max = in.ConsumeIntegralInRange<std::size_t>(1, 4096);
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Instant now{0};
  ServerSession session(some_config(in), now);
  std::string sent;        // everything the machine asked us to send
  std::string unconsumed;  // input the machine has not taken yet
  std::optional<Ticket> open;
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange(0, 7)) {
      case 0:
      case 1: {
        unconsumed += in.ConsumeRandomLengthString(64);
        const std::size_t used = session.feed(unconsumed, now);
        check(used <= unconsumed.size());
        unconsumed.erase(0, used);
        break;
      }
      case 2:
        now = now + Duration::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 400));
        session.on_timeout(now);
        break;
      case 3:
        if (open) {
          const std::size_t before_out = session.pending_output().size();
          const auto error = session.decide(*open, some_decision(in), now);
          if (error) {
            check(session.pending_output().size() == before_out);
          } else {
            open.reset();
          }
        }
        break;
      case 4: (void)session.on_tls_established(now); break;
      case 5: session.feed_eof(now); break;
      case 6: {
        auto out = session.pending_output();
        const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, out.size());
        sent.append(out.data(), n);
        session.consume_output(n);
        break;
      }
      default: session.shutdown(now); break;
    }
    while (auto event = session.poll_event()) {
      if (auto ticket = testing::ticket_of(*event)) {
        check(!open.has_value());  // one question at a time
        open = ticket;
      }
    }
    if (session.is_closed()) check(session.feed(std::string_view("NOOP\r\n"), now) == 0);
  }
  auto out = session.pending_output();
  sent.append(out.data(), out.size());
  ReplyParser parser;
  std::string_view rest = sent;
  while (!rest.empty()) {
    const std::size_t used = parser.feed(rest);
    check(!parser.failed());
    rest.remove_prefix(used);
    while (parser.poll()) {
    }
    if (used == 0) break;
  }
  check(rest.empty());
  return 0;
}
