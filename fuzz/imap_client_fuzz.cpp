// Fuzz target imap_client: the IMAP ClientSession (protocol/imap/client_session.hpp) driven
// by fuzzed server bytes, chunking, time steps, end of input and TLS handshakes.
// Invariants: at most one OutcomeEvent, always one of the three kinds with a reason that
// fits it; once closed, exactly one outcome (a request was made) and ClientClosedEvent was
// the last event, and the machine consumes nothing more; the output is a sequence of CRLF
// lines; misuse (a second request) is refused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/imap/client_session.hpp"

using namespace tern::protocol;
using namespace tern::protocol::imap;

namespace {

using tern::fuzz::check;

struct Watch {
  std::size_t outcomes = 0;
  bool closed = false;
  std::string output;

  void drain(ClientSession& s) {
    const auto out = s.pending_output();
    output.append(out.data(), out.size());
    s.consume_output(out.size());
    while (auto e = s.poll_event()) {
      check(!closed);  // nothing after ClientClosedEvent
      if (const auto* o = std::get_if<OutcomeEvent>(&*e)) {
        ++outcomes;
        const bool accepted = o->outcome == Outcome::accepted,
                   ok = o->reason == OutcomeReason::success;
        check(o->outcome == Outcome::accepted || o->outcome == Outcome::rejected ||
              o->outcome == Outcome::temporary_failure);
        check(accepted == ok);
        if (o->outcome == Outcome::rejected) {
          check(o->reason == OutcomeReason::credentials ||
                o->reason == OutcomeReason::invalid_credentials);
        }
      }
      if (std::holds_alternative<ClientClosedEvent>(*e)) closed = true;
    }
    check(outcomes <= 1);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  ClientConfig config;
  config.tls_active = fdp.ConsumeBool();
  config.starttls = static_cast<TlsPolicy>(fdp.ConsumeIntegralInRange<int>(0, 2));
  config.sasl_ir = fdp.ConsumeBool();
  config.plaintext_without_tls = fdp.ConsumeBool();
  config.preauth_accepts = fdp.ConsumeBool();
  config.logout = fdp.ConsumeBool();
  config.limits.line_bytes_max = fdp.ConsumeIntegralInRange<std::size_t>(8, 512);
  AuthRequest request;
  const int mech = fdp.ConsumeIntegralInRange<int>(0, 3);
  request.mechanisms = mech == 0   ? std::vector<std::string>{"PLAIN", "LOGIN"}
                       : mech == 1 ? std::vector<std::string>{"LOGIN"}
                       : mech == 2 ? std::vector<std::string>{"CRAM-MD5"}
                                   : std::vector<std::string>{};
  request.credentials.username = fdp.ConsumeBool() ? "user" : "us er\"";
  request.credentials.password = fdp.ConsumeBool() ? "pass" : "p\xc3\xa4ss {3}";

  Instant now{0};
  ClientSession session(config, now);
  Watch watch;
  const bool early = fdp.ConsumeBool();
  if (early) check(!session.authenticate(request, now));
  bool requested = early;
  while (fdp.remaining_bytes() > 0) {
    const int op = fdp.ConsumeIntegralInRange<int>(0, 9);
    if (op <= 5) {
      const std::string chunk = fdp.ConsumeRandomLengthString(128);
      const bool was_closed = session.is_closed();
      const std::size_t used = session.feed(chunk, now);
      check(used <= chunk.size());
      if (was_closed) check(used == 0);
    } else if (op == 6) {
      now = now + Duration::seconds(fdp.ConsumeIntegralInRange<int>(0, 120));
      if (auto deadline = session.poll_timeout(); deadline && *deadline <= now)
        session.on_timeout(now);
    } else if (op == 7) {
      (void)session.on_tls_established(now);
    } else if (op == 8) {
      if (!requested) {
        const auto error = session.authenticate(request, now);
        check(!error || (session.is_closed() && error == client_errc::closed));
        requested = !error;
      } else {
        check(session.authenticate(request, now) == client_errc::already_requested ||
              session.is_closed());
      }
    } else {
      session.feed_eof(now);
    }
    watch.drain(session);
  }
  session.feed_eof(now);
  watch.drain(session);
  check(session.is_closed() && watch.closed);
  if (requested) check(watch.outcomes == 1);
  // The output is whole CRLF lines (a literal's bytes are part of a LOGIN line).
  check(watch.output.empty() || watch.output.ends_with("\r\n"));
  return 0;
}
