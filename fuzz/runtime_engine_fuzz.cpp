// The receiving engine on the simulated Io: a client sends fuzzed bytes in fuzzed chunks
// while the disk fails fsyncs or fills up at fuzzed moments. Invariants:
// - nothing crashes, asserts or leaks (ASan/UBSan);
// - every "250 2.0.0 Ok: queued as ID" the client receives names a message that is durable
//   at that moment: in the spool, or already delivered to the Maildir (the durability rule);
// - after the client leaves and the world runs to rest, no session is left behind.
#include <cstdint>
#include <memory>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "adapters/sim/sim_io.hpp"
#include "fuzz/check.hpp"
#include "runtime/directory/memory_adapter.hpp"
#include "runtime/server.hpp"

namespace {

using namespace tern;

std::shared_ptr<const runtime::EngineSettings> make_settings(runtime::Io& io) {
  runtime::directory::MemoryDirectoryInput input;
  input.principals.push_back({"ann", std::string("{PLAIN}secret"), {"ann@example.org"}});
  auto built = runtime::directory::MemoryDirectory::build(input);
  tern::fuzz::check(built.directory.has_value());
  runtime::EngineSettings s;
  s.hostname = "mx.example.org";
  runtime::ListenerSettings smtp;
  smtp.id = "smtp";
  smtp.binds = {runtime::Endpoint{"127.0.0.1", 25}};
  runtime::ListenerSettings lmtp = smtp;
  lmtp.id = "lmtp";
  lmtp.lmtp = true;
  lmtp.binds = {runtime::Endpoint{"127.0.0.1", 24}};
  s.listeners = {smtp, lmtp};
  s.directories["main"] =
      std::make_shared<runtime::directory::MemoryDirectoryAsync>(std::move(*built.directory), io);
  s.default_directory = "main";
  s.tls_identities[""] = *io.load_tls_identity("CERT", "KEY");
  s.auth_failure_delay = runtime::Duration::milliseconds(10);
  return std::make_shared<const runtime::EngineSettings>(std::move(s));
}

// Every queue id announced in a 250 must be durable when the client reads it.
void check_acknowledged(adapters::sim::SimIo& io, const std::string& received) {
  static constexpr std::string_view kQueued = "Ok: queued as ";
  for (auto at = received.find(kQueued); at != std::string::npos;
       at = received.find(kQueued, at + 1)) {
    const std::string id = received.substr(at + kQueued.size(), 16);
    const bool spooled = io.spool_envelopes().count(id) != 0;
    bool delivered = false;
    for (const auto& [name, content] : io.maildir("ann")) {
      delivered = delivered || content.find(" id " + id) != std::string::npos;
    }
    tern::fuzz::check(spooled || delivered);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  adapters::sim::SimIo io(in.ConsumeIntegral<std::uint64_t>());
  runtime::NullLog log;
  auto settings = make_settings(io);
  {
    runtime::Server server(io, log, settings);
    tern::fuzz::check(server.start().ok());
    const bool lmtp = in.ConsumeBool();
    auto peer =
        io.connect_peer(runtime::Endpoint{"127.0.0.1", static_cast<std::uint16_t>(lmtp ? 24 : 25)},
                        runtime::Endpoint{"192.0.2.1", 40000});
    tern::fuzz::check(peer.has_value());
    std::string received;
    while (in.remaining_bytes() > 0) {
      switch (in.ConsumeIntegralInRange<int>(0, 7)) {
        case 0: io.fail_next_fsyncs(1); break;
        case 1: io.set_disk_capacity(in.ConsumeIntegralInRange<std::uint64_t>(0, 4096)); break;
        case 2:
          io.run_for(runtime::Duration::milliseconds(in.ConsumeIntegralInRange<int>(0, 400000)));
          break;
        case 3: io.peer_start_tls(*peer); break;
        default: {
          const auto chunk = in.ConsumeRandomLengthString(256);
          io.peer_send(*peer, chunk);
          io.run_for(runtime::Duration::milliseconds(in.ConsumeIntegralInRange<int>(0, 50)));
        }
      }
      received += io.peer_take(*peer);
      check_acknowledged(io, received);
    }
    io.peer_close(*peer);
    io.run_for(runtime::Duration::minutes(20));
    received += io.peer_take(*peer);
    check_acknowledged(io, received);
    tern::fuzz::check(server.sessions() == 0);
  }
  return 0;
}
