// Fuzz target imap_server: the IMAP ServerSession (protocol/imap/server_session.hpp) driven
// by fuzzed client bytes, chunking, decisions (including misuse), time steps, TLS
// handshakes and end of input. Invariants: feed never consumes more than it was given, and
// nothing once closed or while a decision is pending; misuse of decide() returns an error;
// the output is always a sequence of well-formed responses (the ResponseParser accepts all
// of it and ends between responses); ClosedEvent is the last event.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/imap/framing.hpp"
#include "protocol/imap/server_session.hpp"

using namespace tern::protocol;
using namespace tern::protocol::imap;

namespace {

using tern::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  ServerConfig config;
  config.tls_available = fdp.ConsumeBool();
  config.tls_active = fdp.ConsumeBool();
  config.plaintext_without_tls = fdp.ConsumeBool();
  config.sasl_ir = fdp.ConsumeBool();
  config.login_command = fdp.ConsumeBool();
  config.auth_mechanisms = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"};
  config.sasl.cram_md5_challenge = "<1.2@h>";
  config.limits.line_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(4, 512);
  config.limits.literal_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(0, 64);
  config.bad_commands_max = fdp.ConsumeIntegralInRange<std::uint32_t>(1, 20);
  config.output_backlog_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(1, 4096);

  Instant now{0};
  ServerSession session(config, now);
  Limits roomy;
  roomy.line_bytes_max = roomy.literal_bytes_max = std::size_t{1} << 30;
  roomy.capabilities_max = 1 << 16;
  ResponseParser parser(roomy);
  // Feeds the parser all of `bytes`, polling as it goes; false if it stopped early.
  auto parse = [&](std::span<const char> bytes) {
    while (!bytes.empty()) {
      const std::size_t n = parser.feed(bytes);
      while (parser.poll()) {
      }
      if (n == 0) return false;
      bytes = bytes.subspan(n);
    }
    return true;
  };
  std::optional<Ticket> ticket;
  bool closed = false;
  auto drain = [&] {
    const auto out = session.pending_output();
    const std::size_t n = fdp.ConsumeBool() ? out.size() : out.size() / 2;  // partial writes
    check(parse(out.subspan(0, n)));
    check(!parser.failed());
    session.consume_output(n);
    while (auto e = session.poll_event()) {
      check(!closed);
      if (const auto* v = std::get_if<VerifyEvent>(&*e)) ticket = v->ticket;
      if (std::holds_alternative<ClosedEvent>(*e)) closed = true;
    }
  };
  while (fdp.remaining_bytes() > 0) {
    const int op = fdp.ConsumeIntegralInRange<int>(0, 9);
    if (op <= 4) {
      const std::string chunk = fdp.ConsumeRandomLengthString(128);
      const bool blocked = session.is_closed() || ticket.has_value();
      const std::size_t used = session.feed(chunk, now);
      check(used <= chunk.size());
      if (blocked) check(used == 0);
    } else if (op == 5 && ticket) {
      const int d = fdp.ConsumeIntegralInRange<int>(0, 3);
      check(session.decide(*ticket + 1, Verified{true}, now) == server_errc::no_pending_decision);
      ServerDecision decision = d == 0   ? ServerDecision{Verified{true}}
                                : d == 1 ? ServerDecision{Verified{false}}
                                : d == 2 ? ServerDecision{Unavailable{}}
                                         : ServerDecision{Secret{"pass"}};
      if (!session.decide(*ticket, decision, now)) {
        ticket.reset();
      } else {
        check(session.decide(*ticket, Unavailable{}, now) == std::error_code{});
        ticket.reset();
      }
    } else if (op == 6) {
      now = now + Duration::minutes(fdp.ConsumeIntegralInRange<int>(0, 40));
      if (auto deadline = session.poll_timeout(); deadline && *deadline <= now)
        session.on_timeout(now);
    } else if (op == 7) {
      (void)session.on_tls_established(now);
    } else if (op == 8) {
      session.feed_eof(now);
    } else {
      session.shutdown(now);
    }
    drain();
  }
  while (!session.pending_output().empty()) {
    const auto out = session.pending_output();
    check(parse(out));
    session.consume_output(out.size());
  }
  check(!parser.failed() && parser.idle());  // whole responses only
  return 0;
}
