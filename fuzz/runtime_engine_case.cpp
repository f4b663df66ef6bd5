#include "fuzz/runtime_engine_case.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "adapters/sim/sim_io.hpp"
#include "config/engine_settings.hpp"
#include "config/loader.hpp"
#include "config/route_model.hpp"
#include "protocol/mail/dsn.hpp"
#include "protocol/smtp/chars.hpp"
#include "runtime/server.hpp"
#include "runtime/spool_format.hpp"

namespace tern::fuzz {

const std::string_view kEngineToml = R"toml(
[server]
hostname = "mx.example.org"

[server.listener.smtp]
bind = ["127.0.0.1:25"]
protocol = "smtp"

[server.listener.submission]
bind = ["127.0.0.1:587"]
protocol = "smtp"

[server.listener.lmtp]
bind = ["127.0.0.1:24"]
protocol = "lmtp"

[session.auth]
require = [{ if = "listener == 'submission'", then = true }, { else = false }]

[session.auth.errors]
wait = "10ms"

[directory.local]
type = "memory"
principals = [
  { name = "ann", secret = "{PLAIN}secret", email = ["ann@example.org"] },
  { name = "bob", secret = "{PLAIN}secret", email = ["bob@example.org", "info@example.org"] },
]
)toml";

namespace {

namespace sim = adapters::sim;
using runtime::Duration;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "runtime_engine: %s\n", why.c_str());
  std::abort();
}

// Loaded once: the TOML, the route model and the engine config do not depend on the Io.
const config::EngineConfig& engine_config() {
  static const config::EngineConfig engine = [] {
    auto loaded = config::load_string(kEngineToml, "runtime_engine.toml");
    for (const auto& d : loaded.diagnostics) {
      if (d.severity == config::Diagnostic::Severity::error) die(config::to_string(d));
    }
    auto model = config::build_route_model(loaded.config);
    if (!model.ok()) die("the route model does not build");
    auto built = config::build_engine_config(loaded.config, model.model);
    if (!built.ok()) die("the engine config does not build");
    return built.engine;
  }();
  return engine;
}

// As ternd's build_runtime_settings: the identity "" stands for the self-signed certificate
// (no certificate.<id> is configured) and every directory is built on this Io.
std::shared_ptr<const runtime::EngineSettings> make_settings(runtime::Io& io) {
  const auto& engine = engine_config();
  auto settings = engine.settings;
  settings.tls_identities[""] = *io.load_tls_identity("CERT", "KEY");
  for (const auto& model : engine.directories) {
    std::shared_ptr<runtime::directory::Directory> built;
    if (auto error = config::build_directory(model, settings.hostname, io, built); !error.empty())
      die(error);
    settings.directories[model.name] = std::move(built);
  }
  return std::make_shared<const runtime::EngineSettings>(std::move(settings));
}

// TERN_ENGINE_TRACE=1: the conversation on stderr, to read what a finding did.
bool trace() {
  static const bool on = [] {
    const char* value = std::getenv("TERN_ENGINE_TRACE");
    return value != nullptr && std::string_view(value) == "1";
  }();
  return on;
}

void send(sim::SimIo& io, sim::PeerId peer, const std::string& bytes) {
  if (trace()) std::fprintf(stderr, "C: %s\n", bytes.c_str());
  io.peer_send(peer, bytes);
}

bool is_queue_id(std::string_view text) {
  if (text.size() != 16) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// Reads the engine's replies as they reach the client and checks each acknowledgement at
// that moment.
class Acks {
 public:
  explicit Acks(sim::SimIo& io) : io_(io) {}

  void on_bytes(std::string_view bytes) {
    if (trace()) std::fprintf(stderr, "S: %.*s", static_cast<int>(bytes.size()), bytes.data());
    pending_.append(bytes);
    std::size_t start = 0;
    for (auto eol = pending_.find('\n'); eol != std::string::npos;
         eol = pending_.find('\n', start)) {
      on_line(std::string_view(pending_).substr(start, eol - start));
      start = eol + 1;
    }
    pending_.erase(0, start);
  }

  const std::vector<std::string>& ids() const { return ids_; }
  std::string violation;

 private:
  // "250 2.0.0 Ok: queued as ID" (SMTP) or "250 2.1.5 Ok: queued as ID" (LMTP, once per
  // recipient): the code and enhanced code are the engine's, never the client's text.
  void on_line(std::string_view line) {
    static constexpr std::string_view kQueued = "Ok: queued as ";
    if (line.size() < 10 + kQueued.size() + 16 || line.substr(0, 5) != "250 2" || line[5] != '.')
      return;
    const auto at = line.find(' ', 6);
    if (at == std::string_view::npos || line.substr(at + 1, kQueued.size()) != kQueued) return;
    const auto id = std::string(line.substr(at + 1 + kQueued.size(), 16));
    if (!is_queue_id(id) || !seen_.insert(id).second) return;
    ids_.push_back(id);
    if (io_.spool_envelopes().count(id) == 0 && io_.spool_removed().count(id) == 0 &&
        violation.empty()) {
      violation = "ack: " + id + " was acknowledged before it was durable";
    }
  }

  sim::SimIo& io_;
  std::string pending_;
  std::set<std::string> seen_;
  std::vector<std::string> ids_;
};

// The client's side of the conversation, step by step (the op table in the header).
void drive(sim::SimIo& io, sim::PeerId peer, FuzzedDataProvider& in) {
  constexpr auto kStep = Duration::milliseconds(50);
  while (in.remaining_bytes() > 0) {
    const auto op = in.ConsumeIntegral<std::uint8_t>();
    if (op < 0xF0) {
      send(io, peer, in.ConsumeBytesAsString(static_cast<std::size_t>(op) + 1));
      io.run_for(kStep);
      continue;
    }
    switch (op) {
      case 0xF0: io.fail_next_fsyncs(1); break;
      case 0xF1:
        io.set_disk_capacity(std::uint64_t{in.ConsumeIntegral<std::uint8_t>()} * 64);
        break;
      case 0xF2:
        io.run_for(Duration::milliseconds(10 * std::int64_t{in.ConsumeIntegral<std::uint16_t>()}));
        break;
      case 0xF3: io.peer_start_tls(peer); break;
      case 0xF4: io.set_disk_capacity(~std::uint64_t{0}); break;
      case 0xF5: return;
      default:
        send(io, peer, in.ConsumeRemainingBytesAsString());
        io.run_for(kStep);
        break;
    }
  }
}

struct Removed {
  runtime::SpoolEnvelope envelope;
  std::string body;
};

// Every message that reached the spool and left it, with its last durable envelope.
std::map<std::string, Removed> removed_messages(sim::SimIo& io, std::string& violation) {
  std::map<std::string, Removed> out;
  for (auto& [id, pair] : io.spool_removed()) {
    auto parsed = runtime::parse_envelope(pair.first);
    if (!parsed) {
      if (violation.empty())
        violation = "end: removed message " + id + " has an unreadable envelope";
      continue;
    }
    out[id] = Removed{std::move(*parsed), std::move(pair.second)};
  }
  return out;
}

// A Maildir copy of message `id` for `address`: our Received field names the id and the
// queue's prefix names the recipient, both in the header section (a DSN about the message
// names the id only in its body, so it does not count).
bool delivered_copy(sim::SimIo& io, const std::string& id, const std::string& address) {
  const std::string delivered_to = "Delivered-To: " + address + "\r\n";
  for (const auto& account : io.maildir_accounts()) {
    for (const auto& [name, content] : io.maildir(account)) {
      const auto header_end = content.find("\r\n\r\n");
      if (content.find(id) < header_end && content.find(delivered_to) < header_end) return true;
    }
  }
  return false;
}

// The "end" invariant for one acknowledged message that left the spool, judged by what the
// world can see: the queue does not write a finished message's envelope again before its
// removal (the removal is the record), so the last durable envelope may still say pending.
void check_end(sim::SimIo& io, const std::string& id, const Removed& message,
               const std::vector<const std::string*>& dsn_bodies, EngineCaseResult& result) {
  const auto& env = message.envelope;
  for (const auto& rcpt : env.recipients) {
    if (delivered_copy(io, id, rcpt.address)) {
      ++result.delivered;
      continue;
    }
    bool reported = false;
    for (const auto* body : dsn_bodies) {
      reported = reported || (body->find(id) != std::string::npos &&
                              body->find(rcpt.address) != std::string::npos);
    }
    // RFC 3461 §6.1 / RFC 3464: no DSN to the null reverse-path (a double bounce is
    // dropped), and none when NOTIFY leaves FAILURE out: such a failure leaves no trace.
    const bool silent = env.sender.empty() ||
                        !protocol::mail::notify_wants(rcpt.params, protocol::mail::Action::failed);
    const std::string who = id + " <" + rcpt.address + ">";
    if (rcpt.state == runtime::RecipientState::delivered) {
      if (result.violation.empty())
        result.violation = "end: " + who + " is marked delivered but no Maildir has a copy";
    } else if (reported || silent) {
      ++result.failed;
    } else if (result.violation.empty()) {
      result.violation =
          "end: " + who +
          " left the spool neither delivered (no Maildir copy) nor reported in a DSN";
    }
  }
}

void check_end_state(sim::SimIo& io, const Acks& acks, EngineCaseResult& result) {
  const auto spool = io.spool_envelopes();
  const auto removed = removed_messages(io, result.violation);
  std::vector<std::string> dsn_storage;
  std::vector<const std::string*> dsn_bodies;
  for (const auto& [id, text] : spool) {
    auto parsed = runtime::parse_envelope(text);
    if (parsed && parsed->sender.empty()) dsn_storage.push_back(io.spool_body(id).value_or(""));
  }
  for (const auto& s : dsn_storage) dsn_bodies.push_back(&s);
  for (const auto& [id, message] : removed) {
    if (message.envelope.sender.empty()) dsn_bodies.push_back(&message.body);
  }
  result.dsns = dsn_bodies.size();
  for (const auto& id : acks.ids()) {
    if (spool.count(id) != 0) continue;  // still queued: a later attempt decides
    const auto found = removed.find(id);
    if (found == removed.end()) {
      if (result.violation.empty())
        result.violation = "end: " + id + " was acknowledged and is neither queued nor removed";
      continue;
    }
    check_end(io, id, found->second, dsn_bodies, result);
  }
}

}  // namespace

EngineCaseResult run_engine_case(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  EngineCaseResult result;
  sim::SimIo io(in.ConsumeIntegral<std::uint32_t>());
  runtime::NullLog log;
  auto settings = make_settings(io);
  static constexpr std::uint16_t kPorts[] = {25, 587, 24};
  const std::uint16_t port = kPorts[in.ConsumeIntegral<std::uint8_t>() % 3];
  {
    runtime::Server server(io, log, settings);
    if (!server.start().ok()) die("the server does not start");
    auto peer = io.connect_peer(runtime::Endpoint{"127.0.0.1", port},
                                runtime::Endpoint{"192.0.2.1", 40000});
    if (!peer) die("no listener on the port");
    Acks acks(io);
    io.peer_on_bytes(*peer, [&acks](std::string_view bytes) { acks.on_bytes(bytes); });
    drive(io, *peer, in);
    io.peer_close(*peer);
    io.run_for(Duration::minutes(20));
    acks.on_bytes("\n");
    result.violation = acks.violation;
    result.acknowledged = acks.ids().size();
    check_end_state(io, acks, result);
    if (server.sessions() != 0 && result.violation.empty())
      result.violation =
          "sessions: " + std::to_string(server.sessions()) + " left after 20 minutes";
  }
  return result;
}

}  // namespace tern::fuzz
