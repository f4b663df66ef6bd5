// Fuzz target: the SMTP/LMTP client machine against fuzzed server bytes, chunking, time
// steps, TLS handshakes and EOF, with the application submitting a message whenever the
// session is ready and streaming its body whenever it is wanted.
// Invariants: within a transaction every recipient gets at most one RecipientEvent, and
// all of them have one when MessageDoneEvent comes; SessionFailedEvent comes at most once
// and is followed only by the end of the session; misuse is refused, never crashes.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/check.hpp"
#include "protocol/smtp/client_session.hpp"

using namespace tern::protocol;
using namespace tern::protocol::smtp;
using tern::fuzz::check;

namespace {

ClientConfig some_config(FuzzedDataProvider& in) {
  ClientConfig c;
  c.mode = in.ConsumeBool() ? ClientMode::lmtp : ClientMode::smtp;
  c.starttls = static_cast<StartTlsPolicy>(in.ConsumeIntegralInRange(0, 2));
  c.tls_active = in.ConsumeBool();
  if (in.ConsumeBool()) {
    ClientAuth auth;
    auth.credentials.username = "user";
    auth.credentials.password = "pass";
    c.auth = auth;
  }
  c.auth_requires_tls = in.ConsumeBool();
  c.use_pipelining = in.ConsumeBool();
  c.use_chunking = in.ConsumeBool();
  c.replies.line_bytes_max = in.ConsumeIntegralInRange<std::size_t>(16, 1024);
  c.replies.lines_max = in.ConsumeIntegralInRange<std::size_t>(1, 50);
  return c;
}

Envelope some_envelope(FuzzedDataProvider& in) {
  Envelope e;
  e.sender = *parse_reverse_path("<s@example.org>", {});
  const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  for (std::size_t i = 0; i < n; ++i) {
    e.recipients.push_back(
        Rcpt{*parse_forward_path("<r" + std::to_string(i) + "@example.com>", {}), {}});
  }
  if (in.ConsumeBool()) e.params.body = BodyType::binary_mime;
  e.probe_only = in.ConsumeBool();  // MAIL and RCPT only: the directory probe
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Instant now{0};
  ClientSession client(some_config(in), now);
  std::vector<bool> decided;  // the current transaction's recipients
  bool in_transaction = false;
  bool failed = false;
  std::string server_bytes;
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange(0, 5)) {
      case 0:
      case 1: {
        server_bytes += in.ConsumeRandomLengthString(80);
        const std::size_t used = client.feed(server_bytes, now);
        check(used <= server_bytes.size());
        server_bytes.erase(0, used);
        break;
      }
      case 2:
        now = now + Duration::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 700));
        client.on_timeout(now);
        break;
      case 3: (void)client.on_tls_established(now); break;
      case 4: client.feed_eof(now); break;
      default: client.consume_output(in.ConsumeIntegralInRange<std::size_t>(0, 4096)); break;
    }
    while (auto event = client.poll_event()) {
      if (std::holds_alternative<ReadyEvent>(*event)) {
        check(!in_transaction && !failed);
        auto envelope = some_envelope(in);
        decided.assign(envelope.recipients.size(), false);
        in_transaction = !client.submit(std::move(envelope), now);
      } else if (std::holds_alternative<BodyWantedEvent>(*event)) {
        check(in_transaction);
        check(!client.send_body(in.ConsumeRandomLengthString(40), now));
        check(!client.end_body(now));
        check(client.end_body(now) == client_errc::body_not_wanted);
      } else if (const auto* r = std::get_if<RecipientEvent>(&*event)) {
        check(in_transaction && r->index < decided.size() && !decided[r->index]);
        decided[r->index] = true;
      } else if (std::holds_alternative<MessageDoneEvent>(*event)) {
        check(in_transaction);
        for (bool d : decided) check(d);
        in_transaction = false;
      } else if (std::holds_alternative<SessionFailedEvent>(*event)) {
        check(!failed && !in_transaction);
        failed = true;
      }
    }
    if (client.is_closed()) check(client.feed(std::string_view("250 OK\r\n"), now) == 0);
  }
  return 0;
}
