#include "adapters/sim/sim_io.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>

#include "adapters/sim/sim_disk.hpp"
#include "protocol/dns/rdata.hpp"
#include "runtime/spool/log_spool.hpp"
#include "runtime/spool/recovery.hpp"

namespace tern::adapters::sim {

using runtime::ConnectionFacts;
using runtime::ConnId;
using runtime::Duration;
using runtime::Endpoint;
using runtime::Instant;
using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;
using runtime::ListenerId;
using runtime::SpoolWriterId;
using runtime::TimerId;
using runtime::TlsFacts;
using runtime::TlsIdentityId;

namespace {

constexpr std::int64_t kEpochUnixSeconds = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::uint64_t kIdleEventsMax = 50'000'000;
constexpr std::uint16_t kEphemeralFirst = 49152;
constexpr std::int64_t kMillion = 1'000'000;
constexpr std::uint64_t kStallPointMax = 24;  // a stall begins after 0..23 deliveries
constexpr std::int64_t kNsPerSecond = 1'000'000'000;

bool listener_matches(const Endpoint& bind, const Endpoint& to) {
  if (bind.port != to.port) return false;
  if (bind.ip == to.ip) return true;
  const bool v6 = to.ip.find(':') != std::string::npos;
  return (!v6 && bind.ip == "0.0.0.0") || (v6 && bind.ip == "::");
}

std::uint64_t fnv_fold(std::uint64_t h, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    h ^= (value >> (8 * i)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

// One connection seen from both ends: the engine's ConnId and the test's PeerId.
struct Link {
  PeerId peer = 0;
  ConnId conn = 0;
  ConnectionFacts facts;
  bool engine_open = true;  // the engine may still use `conn`
  // Engine side.
  std::string inbox;     // arrived, not yet read
  std::string tls_held;  // sent by the peer after its handshake, before the engine asked
  bool eof_arrived = false;
  runtime::Io::ReadHandler read_handler;
  bool write_pending = false;
  bool engine_tls_asked = false;
  bool tls_client = false;
  bool tls_verify = false;
  bool handshake_scheduled = false;
  bool tls_fail = false;
  bool tls_active = false;
  runtime::Io::TlsHandler tls_handler;
  // Peer side.
  std::string to_peer;
  std::function<void(std::string_view)> on_bytes;
  bool peer_closed = false;
  bool closed_by_engine = false;
  bool peer_tls_asked = false;
  // Faults (all inert unless SimFaults asked for them).
  bool reset = false;    // broken: both ends have seen it, nothing crosses any more
  bool stalled = false;  // nothing crosses any more, silently
  std::optional<std::uint64_t> stall_after;  // deliveries left to run before the stall
  std::uint64_t deliveries = 0;
  // Latest arrival scheduled in each direction: jitter never reorders a byte stream.
  std::int64_t last_to_peer_ns = 0;
  std::int64_t last_to_engine_ns = 0;
};

struct SimIo::World {
  World(std::uint64_t seed, SimOptions o)
      : options(o),
        root(seed),
        engine_random(root.child("engine")),
        fault_random(root.child("faults")),
        crash_random(root.child("crash")) {
    options.read_chunk_max = std::max<std::size_t>(1, options.read_chunk_max);
  }

  using Key = std::pair<std::int64_t, std::uint64_t>;  // (time, sequence)
  struct Event {
    const char* kind;
    std::function<void()> fn;
  };
  struct Listener {
    Endpoint bind;
    AcceptHandler on_accept;
  };
  struct Message {
    std::string body;
    std::string envelope;
  };

  SimOptions options;
  Prng root;
  Prng engine_random;
  Prng fault_random;  // its own stream: faults never shift the engine's random numbers
  Prng crash_random;  // what a crash keeps of the unsynced writes
  SimFaults faults;
  std::map<std::string, std::uint64_t> fault_counts;
  // The wall clock is affine in now(): wall_ns = wall_anchor + (now - mono_anchor) scaled by
  // the drift, re-anchored at each set_faults so that it never jumps.
  std::int64_t mono_anchor_ns = 0;
  std::int64_t wall_anchor_ns = 0;
  Instant now{Duration::seconds(1).ns};
  std::uint64_t seq = 0;
  std::map<Key, Event> queue;
  std::uint64_t trace = 0xcbf29ce484222325ULL;
  std::uint64_t events_run = 0;
  bool running = false;

  std::map<TimerId, Key> timers;
  std::uint64_t next_id = 1;          // one counter for every handle: a mixed-up id finds nothing
  std::uint64_t crash_watermark = 0;  // ids below it may have died in a crash

  std::map<ListenerId, Listener> listeners;
  std::map<std::string, std::function<void(PeerId)>> served;
  std::set<std::string> blackholed;
  std::map<PeerId, Link> links;
  std::map<ConnId, PeerId> conns;
  std::uint16_t next_local_port = kEphemeralFirst;
  std::set<TlsIdentityId> identities;

  struct DnsEntry {
    std::vector<std::string> rdata;
    bool secure = false;
    std::optional<IoErrc> failure;
  };
  // name (lowercased) -> type -> entry; a name present with no type is NODATA for all.
  std::map<std::string, std::map<std::uint16_t, DnsEntry>> dns;
  std::uint64_t dns_queries = 0;

  // The disk outlives a crash; the spool log is the process's and dies with it.
  SimDisk disk;
  std::shared_ptr<runtime::spool::FileOps> files;
  std::unique_ptr<runtime::spool::LogSpool> spool;
  std::uint64_t spool_generation = 0;  // LogSpools made: writer ids never repeat across crashes
  // The durable image read back by recover(), made again when the disk's changes.
  std::uint64_t recovered_at = std::numeric_limits<std::uint64_t>::max();
  runtime::spool::Recovery recovered;
  std::map<std::string, Message> removed;  // the test's record: what each removal took away
  std::map<std::string, std::map<std::string, std::string>> maildirs;
  std::uint64_t maildir_seq = 0;
  struct Delivery {
    std::string account;
    std::string content;
  };
  std::map<std::uint64_t, Delivery> deliveries_in_flight;  // what a crash may tear
  std::uint64_t next_delivery = 0;
  std::map<std::string, std::map<std::string, std::string>> maildir_tmps;
  std::uint64_t torn_seq = 0;
  int fsync_failures = 0;

  // ---- Events.
  Key schedule(Instant at, const char* kind, std::function<void()> fn) {
    const Key key{std::max(at, now).ns, ++seq};
    queue.emplace(key, Event{kind, std::move(fn)});
    return key;
  }
  void post(const char* kind, std::function<void()> fn) { schedule(now, kind, std::move(fn)); }
  Instant after(Duration d) const { return now + d; }

  // ---- Faults.
  bool draw(std::uint32_t per_million) {
    if (per_million == 0) return false;  // no draw: a run without faults consumes nothing
    return fault_random.below(kMillion) < per_million;
  }
  void fired(const char* point) { ++fault_counts[point]; }
  // When a delivery sent now arrives: `latency`, plus jitter, never before the previous one.
  Instant arrival(std::int64_t& last_ns) {
    std::int64_t at = after(options.latency).ns;
    if (faults.latency_jitter_us > 0) {
      const auto jitter =
          static_cast<std::int64_t>(fault_random.below(faults.latency_jitter_us + 1ULL));
      if (jitter > 0) fired("net.jitter");
      at += jitter * 1000;
    }
    last_ns = std::max(at, last_ns);
    return Instant{last_ns};
  }
  std::int64_t wall_ns() const {
    const std::int64_t elapsed = now.ns - mono_anchor_ns;
    const std::int64_t ppm = faults.wall_drift_ppm;
    // Split so that no product overflows for any clamped drift and any virtual time.
    return wall_anchor_ns + elapsed + (elapsed / kMillion) * ppm +
           (elapsed % kMillion) * ppm / kMillion;
  }
  std::int64_t wall_seconds() const { return kEpochUnixSeconds + wall_ns() / kNsPerSecond; }
  void set_faults(const SimFaults& next);

  bool run_one() {
    if (queue.empty()) return false;
    auto it = queue.begin();
    const Key key = it->first;
    Event event = std::move(it->second);
    queue.erase(it);
    now.ns = std::max(now.ns, key.first);
    trace = fnv_fold(trace, static_cast<std::uint64_t>(key.first));
    for (const char* p = event.kind; *p != '\0'; ++p) {
      trace = (trace ^ static_cast<unsigned char>(*p)) * 0x100000001b3ULL;
    }
    ++events_run;
    event.fn();
    return true;
  }

  // ---- Network helpers.
  Link* find_link(PeerId peer) {
    auto it = links.find(peer);
    return it == links.end() ? nullptr : &it->second;
  }
  Link* engine_link(ConnId conn) {
    auto it = conns.find(conn);
    // A connection that died in a crash: the dead engine's destructors may still write
    // (a QUIT) or close; a dead process does nothing, so neither does this.
    if (it == conns.end() && conn < crash_watermark) return nullptr;
    Link* link = it == conns.end() ? nullptr : find_link(it->second);
    if (link == nullptr || !link->engine_open) {
      assert(false && "SimIo: operation on a closed or unknown connection");
      return nullptr;
    }
    return link;
  }
  Link& new_link(const ConnectionFacts& facts) {
    const PeerId peer = next_id++;
    Link& link = links[peer];
    link.peer = peer;
    link.conn = next_id++;
    link.facts = facts;
    conns[link.conn] = peer;
    if (draw(faults.stall_per_million)) link.stall_after = fault_random.below(kStallPointMax);
    return link;
  }
  void drop_engine_side(Link& link) {
    link.engine_open = false;
    link.read_handler = nullptr;
    link.tls_handler = nullptr;
    conns.erase(link.conn);
  }
  Endpoint local_endpoint_for(const Endpoint& remote) {
    const bool v6 = remote.ip.find(':') != std::string::npos;
    const std::uint16_t port = next_local_port;
    next_local_port = next_local_port == 65535 ? kEphemeralFirst : next_local_port + 1;
    return Endpoint{v6 ? "2001:db8::10" : "192.0.2.10", port};
  }

  void deliver_to_peer(PeerId peer, const std::string& bytes) {
    Link* link = find_link(peer);
    if (link == nullptr || link->closed_by_engine) return;
    if (link->on_bytes && faults.random_chunking && bytes.size() > 1) {
      deliver_in_pieces(peer, bytes);
    } else if (link->on_bytes) {
      auto on_bytes = link->on_bytes;  // the callback may replace itself
      on_bytes(bytes);
    } else {
      link->to_peer += bytes;
    }
  }

  void deliver_in_pieces(PeerId peer, const std::string& bytes) {
    for (std::size_t at = 0; at < bytes.size();) {
      Link* link = find_link(peer);
      if (link == nullptr || link->closed_by_engine) return;
      if (!link->on_bytes) {  // the callback took itself away: the rest waits for peer_take
        link->to_peer += bytes.substr(at);
        return;
      }
      const std::size_t left = std::min(bytes.size() - at, options.read_chunk_max);
      const std::size_t n = 1 + static_cast<std::size_t>(fault_random.below(left));
      if (at == 0 && n < bytes.size()) fired("net.chunk");
      auto on_bytes = link->on_bytes;
      on_bytes(std::string_view(bytes).substr(at, n));
      at += n;
    }
  }

  // A stalled connection swallows this delivery; counting deliveries finds the stall point.
  bool swallowed_by_stall(Link& link) {
    if (link.stalled) return true;
    if (!link.stall_after) return false;
    if (link.deliveries < *link.stall_after) {
      ++link.deliveries;
      return false;
    }
    link.stalled = true;
    fired("net.stall");
    return true;
  }

  // A reset: unread bytes are lost, the engine's pending operations fail, the peer sees
  // the connection closed.
  void break_link(PeerId peer) {
    Link* link = find_link(peer);
    if (link == nullptr || link->reset) return;
    fired("net.reset");
    link->reset = true;
    link->closed_by_engine = true;
    link->inbox.clear();
    link->tls_held.clear();
    if (link->engine_open && link->tls_handler) {
      auto handler = std::move(link->tls_handler);
      link->tls_handler = nullptr;
      handler(io_failure(IoErrc::reset, "handshake: Connection reset by peer (simulated)"));
    }
    pump_read(peer);
  }

  // The engine's bytes reach the peer; returns whether the connection is broken.
  bool to_peer(PeerId peer, const std::string& bytes, bool reset) {
    Link* link = find_link(peer);
    if (link == nullptr) return false;
    if (link->reset) return true;
    if (swallowed_by_stall(*link)) return false;  // sent, as far as the engine can tell
    if (!reset) {
      deliver_to_peer(peer, bytes);
      return false;
    }
    if (!bytes.empty()) deliver_to_peer(peer, bytes.substr(0, fault_random.below(bytes.size())));
    break_link(peer);
    return true;
  }

  void to_engine(PeerId peer, const std::string& bytes, bool tls, bool reset) {
    Link* link = find_link(peer);
    if (link == nullptr || link->reset || swallowed_by_stall(*link)) return;
    if (!reset) {
      arrive_at_engine(peer, bytes, tls);
      return;
    }
    const std::size_t kept = bytes.empty() ? 0 : fault_random.below(bytes.size());
    if (kept > 0) arrive_at_engine(peer, bytes.substr(0, kept), tls);
    break_link(peer);
  }

  void arrive_at_engine(PeerId peer, const std::string& bytes, bool tls) {
    Link* link = find_link(peer);
    if (link == nullptr || !link->engine_open) return;
    if (!tls) {
      // Plaintext after the engine began its handshake would choke a real TLS stack.
      if (link->engine_tls_asked) return;
      link->inbox += bytes;
    } else if (link->engine_tls_asked) {
      link->inbox += bytes;
    } else {
      link->tls_held += bytes;
    }
    pump_read(peer);
  }

  void fin_at_engine(PeerId peer) {
    Link* link = find_link(peer);
    if (link == nullptr || !link->engine_open || link->reset || link->stalled) return;
    link->eof_arrived = true;
    if (link->tls_handler && !link->handshake_scheduled) {
      auto handler = std::move(link->tls_handler);
      link->tls_handler = nullptr;
      handler(io_failure(IoErrc::tls_failed, "handshake: peer closed the connection"));
      return;
    }
    pump_read(peer);
  }

  void pump_read(PeerId peer) {
    Link* link = find_link(peer);
    if (link == nullptr || !link->engine_open || !link->read_handler) return;
    if (link->reset) {
      auto handler = std::move(link->read_handler);
      link->read_handler = nullptr;
      handler(io_failure(IoErrc::reset, "read: Connection reset by peer (simulated)"));
    } else if (!link->inbox.empty()) {
      std::size_t n = std::min(link->inbox.size(), options.read_chunk_max);
      if (faults.random_chunking && n > 1) {
        const std::size_t whole = n;
        n = 1 + static_cast<std::size_t>(fault_random.below(whole));
        if (n < whole) fired("net.chunk");
      }
      std::string chunk = link->inbox.substr(0, n);
      link->inbox.erase(0, n);
      auto handler = std::move(link->read_handler);
      link->read_handler = nullptr;
      handler(std::span<const char>(chunk.data(), chunk.size()));
    } else if (link->eof_arrived) {
      auto handler = std::move(link->read_handler);
      link->read_handler = nullptr;
      handler(io_failure(IoErrc::eof, "read: end of stream"));
    }
  }

  void maybe_handshake(Link& link) {
    if (!link.engine_tls_asked || !link.peer_tls_asked || link.handshake_scheduled) return;
    link.handshake_scheduled = true;
    const PeerId peer = link.peer;
    schedule(after(options.latency), "tls.done", [this, peer] { finish_handshake(peer); });
  }

  void finish_handshake(PeerId peer) {
    Link* link = find_link(peer);
    if (link == nullptr || !link->engine_open || !link->tls_handler) return;
    if (link->stalled) return;  // no handshake gets through: it hangs until the engine closes
    auto handler = std::move(link->tls_handler);
    link->tls_handler = nullptr;
    if (link->tls_fail) {
      link->tls_fail = false;
      handler(io_failure(IoErrc::tls_failed, "handshake: failed (simulated)"));
      return;
    }
    link->tls_active = true;
    handler(
        TlsFacts{"TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, link->tls_client && link->tls_verify});
  }

  void start_tls(ConnId conn, TlsHandler on_done, bool client, bool verify) {
    Link* link = engine_link(conn);
    if (link == nullptr) return;
    assert(!link->engine_tls_asked && "SimIo: a second TLS handshake on one connection");
    if (link->engine_tls_asked) return;
    link->engine_tls_asked = true;
    link->tls_client = client;
    link->tls_verify = verify;
    link->tls_handler = std::move(on_done);
    link->inbox = std::move(link->tls_held);  // unread plaintext is dropped
    link->tls_held.clear();
    if (link->reset) {
      const PeerId peer = link->peer;
      post("tls.failed", [this, peer] {
        Link* l = find_link(peer);
        if (l == nullptr || !l->engine_open || !l->tls_handler) return;
        auto handler = std::move(l->tls_handler);
        l->tls_handler = nullptr;
        handler(io_failure(IoErrc::reset, "handshake: Connection reset by peer (simulated)"));
      });
      return;
    }
    if (link->eof_arrived && !link->peer_tls_asked) {
      const PeerId peer = link->peer;
      post("tls.failed", [this, peer] {
        Link* l = find_link(peer);
        if (l == nullptr || !l->engine_open || !l->tls_handler) return;
        auto handler = std::move(l->tls_handler);
        l->tls_handler = nullptr;
        handler(io_failure(IoErrc::tls_failed, "handshake: peer closed the connection"));
      });
      return;
    }
    maybe_handshake(*link);
  }

  void connect_arrived(const Endpoint& remote, ConnectHandler on_done) {
    auto it = served.find(remote.text());
    if (it == served.end()) {
      ConnectionFacts facts;  // named: see connect()
      facts.remote = remote;
      on_done(io_failure(IoErrc::refused, "connect " + remote.text() + ": Connection refused"),
              facts);
      return;
    }
    Link& link = new_link(ConnectionFacts{local_endpoint_for(remote), remote});
    const PeerId peer = link.peer;
    auto on_connection = it->second;  // the callback may stop serving
    on_connection(peer);
    Link* after_test = find_link(peer);
    if (after_test == nullptr || !after_test->engine_open) return;
    on_done(after_test->conn, after_test->facts);
  }

  // ---- Disk helpers.
  bool take_fsync_failure() {
    if (fsync_failures <= 0) return false;
    --fsync_failures;
    return true;
  }
  // An fsync's fate is drawn when it starts; an injected failure counts when it happens.
  enum class Fsync { ok, scripted_failure, injected_failure };
  Fsync next_fsync(bool scriptable) {
    if (scriptable && take_fsync_failure()) return Fsync::scripted_failure;
    return draw(faults.fsync_fail_per_million) ? Fsync::injected_failure : Fsync::ok;
  }
  bool fsync_failed(Fsync fsync) {
    if (fsync == Fsync::injected_failure) fired("disk.fsync_fail");
    return fsync != Fsync::ok;
  }
  void post_status(StatusHandler on_done, IoStatus status) {
    post("disk.status",
         [on_done = std::move(on_done), status = std::move(status)] { on_done(status); });
  }
  void after_fsync(const char* kind, std::function<void()> fn) {
    schedule(after(options.fsync_latency), kind, std::move(fn));
  }

  class Files;
  const runtime::spool::Recovery& durable_spool();
  std::optional<std::string> durable_body(const std::string& id);
  void crash();
};

// ---- The spool's files: SimDisk with the disk faults (SimFaults, fail_next_fsyncs).
namespace {
constexpr std::string_view kSpoolDir = "/spool";
}

class SimIo::World::Files final : public runtime::spool::FileOps {
 public:
  explicit Files(World& w) : w_(w) {}
  IoStatus make_dir(const std::string& path, bool& created) override {
    return disk().make_dir(path, created);
  }
  IoStatus sync_dir(const std::string& path) override { return disk().sync_dir(path); }
  runtime::IoResult<std::vector<std::string>> list_dir(const std::string& path) override {
    return disk().list_dir(path);
  }
  IoStatus remove(const std::string& path) override { return disk().remove(path); }
  IoStatus rename(const std::string& from, const std::string& to) override {
    return disk().rename(from, to);
  }
  runtime::IoResult<runtime::spool::File> open_file(const std::string& path,
                                                    runtime::spool::OpenMode mode) override {
    return disk().open(path, mode);
  }
  void close(runtime::spool::File file) override { disk().close(file); }
  runtime::IoResult<std::uint64_t> size(runtime::spool::File file) override {
    return disk().size(file);
  }
  IoStatus write_at(runtime::spool::File file, std::uint64_t offset,
                    std::initializer_list<std::string_view> parts) override;
  runtime::IoResult<std::string> read_at(runtime::spool::File file, std::uint64_t offset,
                                         std::uint64_t bytes) override {
    return disk().read_at(file, offset, bytes);
  }
  IoStatus truncate(runtime::spool::File file, std::uint64_t size) override {
    return disk().truncate(file, size);
  }
  IoStatus sync(runtime::spool::File file) override;
  void sync_async(runtime::spool::File file, bool may_block,
                  std::function<void(IoStatus)> done) override;
  void background(std::function<void()> work, std::function<void()> done) override;

 private:
  SimDisk& disk() { return w_.disk; }
  World& w_;
};

IoStatus SimIo::World::Files::write_at(runtime::spool::File file, std::uint64_t offset,
                                       std::initializer_list<std::string_view> parts) {
  if (w_.draw(w_.faults.disk_full_per_million)) {
    w_.fired("disk.full");
    return IoStatus::failure(IoErrc::no_space, "write: No space left on device (simulated)");
  }
  return disk().write_at(file, offset, parts);
}

IoStatus SimIo::World::Files::sync(runtime::spool::File file) {
  if (w_.fsync_failed(w_.next_fsync(true)))
    return IoStatus::failure(IoErrc::io_error, "fsync: Input/output error (simulated)");
  return disk().sync_apply(file, disk().sync_mark());
}

// The sync covers what was written before it began, and takes fsync_latency.
void SimIo::World::Files::sync_async(runtime::spool::File file, bool /*may_block*/,
                                     std::function<void(IoStatus)> done) {
  const Fsync fsync = w_.next_fsync(true);
  const std::uint64_t mark = disk().sync_mark();
  w_.after_fsync("disk.sync", [this, file, fsync, mark, done = std::move(done)] {
    if (w_.fsync_failed(fsync)) {
      done(IoStatus::failure(IoErrc::io_error, "fdatasync: Input/output error (simulated)"));
      return;
    }
    done(disk().sync_apply(file, mark));
  });
}

void SimIo::World::Files::background(std::function<void()> work, std::function<void()> done) {
  w_.after_fsync("disk.background", [work = std::move(work), done = std::move(done)] {
    work();
    done();
  });
}

// The spool a restart would find now: recover() over the durable image.
const runtime::spool::Recovery& SimIo::World::durable_spool() {
  if (recovered_at == disk.durable_generation()) return recovered;
  const std::string log = std::string(kSpoolDir) + "/log";
  runtime::spool::RecoveryInput input;
  for (const auto& name : disk.durable_names(log)) {
    std::uint64_t number = 0;
    if (!runtime::spool::parse_segment_name(name, number)) continue;
    if (auto bytes = disk.durable_file(log + "/" + name)) input.segments[number] = *bytes;
  }
  for (const auto& name : disk.durable_names(std::string(kSpoolDir) + "/body"))
    input.bodies.insert(name);
  recovered = runtime::spool::recover(input);
  recovered_at = disk.durable_generation();
  return recovered;
}

std::optional<std::string> SimIo::World::durable_body(const std::string& id) {
  const auto& live = durable_spool().live;
  const auto it = live.find(id);
  if (it == live.end()) return std::nullopt;
  if (it->second.external_body) {
    auto bytes = disk.durable_file(std::string(kSpoolDir) + "/body/" + id);
    return bytes ? std::optional<std::string>(std::string(*bytes)) : std::nullopt;
  }
  const auto& place = it->second.body_place;
  auto bytes = disk.durable_file(std::string(kSpoolDir) + "/log/" +
                                 runtime::spool::segment_name(place.segment));
  if (!bytes || place.offset + place.bytes > bytes->size()) return std::nullopt;
  return std::string(bytes->substr(place.offset, place.bytes));
}

void SimIo::World::crash() {
  // The engine of the crashed "process" is destroyed by the test afterwards, and its
  // destructors close what they believe is open: those ids are remembered as dead.
  crash_watermark = next_id;
  for (auto& [id, delivery] : deliveries_in_flight) {
    if (!draw(faults.torn_write_per_million)) continue;
    fired("crash.torn_write");
    const std::string& content = delivery.content;
    const std::size_t kept = content.empty() ? 0 : fault_random.below(content.size());
    std::string name = std::to_string(wall_seconds()) + ".T" + std::to_string(++torn_seq) + ".sim";
    maildir_tmps[delivery.account][name] = content.substr(0, kept);
  }
  deliveries_in_flight.clear();
  queue.clear();
  timers.clear();
  listeners.clear();
  for (auto& [peer, link] : links) {
    if (link.engine_open) drop_engine_side(link);
    link.closed_by_engine = true;
  }
  conns.clear();
  identities.clear();
  spool.reset();  // the process's log dies; the disk keeps what it keeps
  disk.crash(crash_random);
}

// ---- SimIo: driving the world.

SimIo::SimIo(std::uint64_t seed, SimOptions options) : world_(new World(seed, options)) {
  world_->files = std::make_shared<World::Files>(*world_);
}
SimIo::~SimIo() {
  // Pending events and the spool log hold the spool's files (FileOps), which use the disk:
  // they go first.
  world_->queue.clear();
  world_->spool.reset();
  delete world_;
}

namespace {
// run_* inside a callback would re-enter the engine: the contract forbids it.
struct RunGuard {
  explicit RunGuard(bool& flag) : flag_(flag) {
    assert(!flag_ && "SimIo: run_* called from inside a callback");
    flag_ = true;
  }
  ~RunGuard() { flag_ = false; }
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;
  bool& flag_;
};
}  // namespace

bool SimIo::run_one() {
  RunGuard guard(world_->running);
  return world_->run_one();
}

void SimIo::run_until_idle() {
  RunGuard guard(world_->running);
  for (std::uint64_t n = 0; world_->run_one(); ++n) {
    if (n >= kIdleEventsMax) {
      std::fprintf(stderr, "SimIo::run_until_idle: still busy after %llu events\n",
                   static_cast<unsigned long long>(kIdleEventsMax));
      std::abort();
    }
  }
}

void SimIo::run_for(Duration span) {
  RunGuard guard(world_->running);
  const Instant deadline = world_->now + span;
  while (!world_->queue.empty() && world_->queue.begin()->first.first <= deadline.ns) {
    world_->run_one();
  }
  world_->now = std::max(world_->now, deadline);
}

bool SimIo::run_until(const std::function<bool()>& done, Duration limit) {
  RunGuard guard(world_->running);
  const Instant deadline = world_->now + limit;
  while (!done()) {
    if (world_->queue.empty() || world_->queue.begin()->first.first > deadline.ns) {
      world_->now = std::max(world_->now, deadline);
      return done();
    }
    world_->run_one();
  }
  return true;
}

std::uint64_t SimIo::events_run() const {
  return world_->events_run;
}
std::uint64_t SimIo::trace_hash() const {
  return world_->trace;
}

// ---- The test's side of the network.

std::optional<PeerId> SimIo::connect_peer(const Endpoint& to, const Endpoint& from) {
  World& w = *world_;
  auto it = std::find_if(w.listeners.begin(), w.listeners.end(), [&](const auto& entry) {
    return listener_matches(entry.second.bind, to);
  });
  if (it == w.listeners.end()) return std::nullopt;
  const ListenerId listener = it->first;
  Link& link = w.new_link(ConnectionFacts{to, from});
  const PeerId peer = link.peer;
  w.post("net.accept", [&w, listener, peer] {
    Link* l = w.find_link(peer);
    if (l == nullptr || !l->engine_open) return;
    auto found = w.listeners.find(listener);
    if (found == w.listeners.end()) {  // stopped listening meanwhile: the peer is refused
      w.drop_engine_side(*l);
      l->closed_by_engine = true;
      return;
    }
    auto on_accept = found->second.on_accept;  // the handler may stop the listener
    on_accept(l->conn, l->facts);
  });
  return peer;
}

void SimIo::serve(const Endpoint& at, std::function<void(PeerId)> on_connection) {
  world_->blackholed.erase(at.text());
  world_->served[at.text()] = std::move(on_connection);
}

void SimIo::stop_serving(const Endpoint& at) {
  world_->served.erase(at.text());
}

void SimIo::blackhole(const Endpoint& at) {
  world_->served.erase(at.text());
  world_->blackholed.insert(at.text());
}

void SimIo::peer_send(PeerId peer, std::string_view bytes) {
  World& w = *world_;
  Link* link = w.find_link(peer);
  if (link == nullptr || link->peer_closed || !link->engine_open || link->reset) return;
  const bool tls = link->peer_tls_asked;
  const bool reset = w.draw(w.faults.reset_per_million);
  w.schedule(
      w.arrival(link->last_to_engine_ns), reset ? "net.reset" : "net.to_engine",
      [&w, peer, data = std::string(bytes), tls, reset] { w.to_engine(peer, data, tls, reset); });
  if (!reset && w.draw(w.faults.half_close_per_million)) {
    w.fired("net.half_close");
    peer_close(peer);
  }
}

std::string SimIo::peer_take(PeerId peer) {
  Link* link = world_->find_link(peer);
  if (link == nullptr) return {};
  return std::exchange(link->to_peer, std::string());
}

void SimIo::peer_on_bytes(PeerId peer, std::function<void(std::string_view)> on_bytes) {
  Link* link = world_->find_link(peer);
  if (link == nullptr) return;
  link->on_bytes = std::move(on_bytes);
  if (link->on_bytes && !link->to_peer.empty()) {  // what arrived before is not lost
    const std::string pending = std::exchange(link->to_peer, std::string());
    auto callback = link->on_bytes;
    callback(pending);
  }
}

void SimIo::peer_close(PeerId peer) {
  World& w = *world_;
  Link* link = w.find_link(peer);
  if (link == nullptr || link->peer_closed) return;
  link->peer_closed = true;
  if (!link->engine_open) return;
  w.schedule(w.arrival(link->last_to_engine_ns), "net.fin_to_engine",
             [&w, peer] { w.fin_at_engine(peer); });
}

bool SimIo::peer_closed_by_engine(PeerId peer) const {
  auto it = world_->links.find(peer);
  return it != world_->links.end() && it->second.closed_by_engine;
}

void SimIo::peer_start_tls(PeerId peer) {
  Link* link = world_->find_link(peer);
  if (link == nullptr || link->peer_tls_asked) return;
  link->peer_tls_asked = true;
  world_->maybe_handshake(*link);
}

bool SimIo::peer_tls_active(PeerId peer) const {
  auto it = world_->links.find(peer);
  return it != world_->links.end() && it->second.tls_active;
}

void SimIo::peer_fail_tls(PeerId peer) {
  Link* link = world_->find_link(peer);
  if (link != nullptr) link->tls_fail = true;
}

// ---- The disk, test side.

void SimIo::crash() {
  world_->crash();
}
void SimIo::fail_next_fsyncs(int count) {
  world_->fsync_failures = std::max(0, count);
}
void SimIo::set_disk_capacity(std::uint64_t bytes) {
  world_->disk.set_capacity(bytes);
}

std::map<std::string, std::string> SimIo::spool_envelopes() const {
  std::map<std::string, std::string> out;
  for (const auto& [id, message] : world_->durable_spool().live) out[id] = message.envelope;
  return out;
}

std::optional<std::string> SimIo::spool_body(std::string_view id) const {
  return world_->durable_body(std::string(id));
}

std::size_t SimIo::spool_open_writers() const {
  return world_->spool ? world_->spool->open_writers() : 0;
}

std::map<std::string, std::pair<std::string, std::string>> SimIo::spool_removed() const {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto& [id, message] : world_->removed) out[id] = {message.envelope, message.body};
  return out;
}

std::vector<std::string> SimIo::maildir_accounts() const {
  std::vector<std::string> out;
  for (const auto& [account, files] : world_->maildirs) out.push_back(account);
  return out;
}

std::map<std::string, std::string> SimIo::maildir(std::string_view account) const {
  auto it = world_->maildirs.find(std::string(account));
  return it == world_->maildirs.end() ? std::map<std::string, std::string>{} : it->second;
}

std::map<std::string, std::string> SimIo::maildir_tmp(std::string_view account) const {
  auto it = world_->maildir_tmps.find(std::string(account));
  return it == world_->maildir_tmps.end() ? std::map<std::string, std::string>{} : it->second;
}

// ---- Faults.

void SimIo::World::set_faults(const SimFaults& next) {
  // Re-anchor the wall clock where it stands, so a new drift bends it without a jump.
  wall_anchor_ns = wall_ns();
  mono_anchor_ns = now.ns;
  faults = next;
  faults.wall_drift_ppm = std::clamp<std::int32_t>(next.wall_drift_ppm, -kMillion, kMillion);
  if (faults.stall_per_million == 0) {  // heal: stalls not yet reached are called off
    for (auto& [peer, link] : links) {
      if (!link.stalled) link.stall_after.reset();
    }
  }
}

void SimIo::set_faults(const SimFaults& faults) {
  world_->set_faults(faults);
}

void SimIo::heal() {
  world_->set_faults(SimFaults{});
}

std::map<std::string, std::uint64_t> SimIo::fault_counts() const {
  return world_->fault_counts;
}

// ---- DNS, test side.

namespace {
std::string dns_key(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}
}  // namespace

void SimIo::dns_set(std::string_view name, runtime::DnsType type, std::vector<std::string> rdata,
                    bool secure) {
  auto& entry = world_->dns[dns_key(name)][static_cast<std::uint16_t>(type)];
  entry = World::DnsEntry{std::move(rdata), secure, std::nullopt};
}

void SimIo::dns_mx(std::string_view name, const std::vector<std::pair<int, std::string>>& records) {
  std::vector<std::string> rdata;
  for (const auto& [preference, exchange] : records) {
    auto wire = protocol::dns::encode_mx({static_cast<std::uint16_t>(preference), exchange});
    assert(wire && "SimIo::dns_mx: bad exchange name");
    rdata.push_back(*wire);
  }
  dns_set(name, runtime::DnsType::mx, std::move(rdata));
}

void SimIo::dns_addresses(std::string_view name, const std::vector<std::string>& ips) {
  std::vector<std::string> v4, v6;
  for (const std::string& ip : ips) {
    if (ip.find(':') == std::string::npos) {
      auto wire = protocol::dns::encode_a(ip);
      assert(wire && "SimIo::dns_addresses: bad IPv4");
      v4.push_back(*wire);
    } else {
      auto wire = protocol::dns::encode_aaaa(ip);
      assert(wire && "SimIo::dns_addresses: bad IPv6");
      v6.push_back(*wire);
    }
  }
  dns_set(name, runtime::DnsType::a, std::move(v4));
  dns_set(name, runtime::DnsType::aaaa, std::move(v6));
}

void SimIo::dns_fail(std::string_view name, runtime::DnsType type, IoErrc code) {
  world_->dns[dns_key(name)][static_cast<std::uint16_t>(type)].failure = code;
}

void SimIo::dns_clear(std::string_view name) {
  world_->dns.erase(dns_key(name));
}

std::uint64_t SimIo::dns_queries() const {
  return world_->dns_queries;
}

void SimIo::dns_query(std::string name, runtime::DnsType type, Duration timeout,
                      DnsHandler on_done) {
  World& w = *world_;
  ++w.dns_queries;
  if (w.draw(w.faults.dns_fail_per_million)) {
    w.schedule(w.after(w.options.latency), "dns.answer",
               [&w, name = std::move(name), on_done = std::move(on_done)] {
                 w.fired("dns.fail");
                 on_done(io_failure(IoErrc::dns_failed, "DNS " + name + ": SERVFAIL (simulated)"));
               });
    return;
  }
  if (w.draw(w.faults.dns_timeout_per_million)) {
    w.schedule(w.after(std::max(timeout, Duration{})), "dns.answer",
               [&w, name = std::move(name), on_done = std::move(on_done)] {
                 w.fired("dns.timeout");
                 on_done(io_failure(IoErrc::timeout, "DNS " + name + ": timed out (simulated)"));
               });
    return;
  }
  runtime::IoResult<runtime::DnsAnswer> result{runtime::DnsAnswer{}};
  Duration wait = w.options.latency;
  auto by_name = w.dns.find(dns_key(name));
  if (by_name == w.dns.end()) {
    result->nxdomain = true;
  } else if (auto it = by_name->second.find(static_cast<std::uint16_t>(type));
             it != by_name->second.end()) {
    if (it->second.failure == IoErrc::timeout) {
      wait = std::max(timeout, Duration{});
      result = io_failure(IoErrc::timeout, "DNS " + name + ": timed out");
    } else if (it->second.failure) {
      result = io_failure(*it->second.failure, "DNS " + name + ": SERVFAIL");
    } else {
      result->rdata = it->second.rdata;
      result->secure = it->second.secure;
    }
  }
  w.schedule(w.after(wait), "dns.answer",
             [on_done = std::move(on_done), result = std::move(result)]() mutable {
               on_done(std::move(result));
             });
}

// ---- runtime::Io: time and randomness.

Instant SimIo::now() const {
  return world_->now;
}

std::int64_t SimIo::wall_unix_seconds() const {
  return world_->wall_seconds();
}

TimerId SimIo::start_timer(Instant deadline, std::function<void()> on_expiry) {
  World& w = *world_;
  const TimerId id = w.next_id++;
  w.timers[id] = w.schedule(deadline, "timer", [&w, id, fn = std::move(on_expiry)] {
    w.timers.erase(id);
    fn();
  });
  return id;
}

void SimIo::cancel_timer(TimerId timer) {
  auto it = world_->timers.find(timer);
  if (it == world_->timers.end()) return;  // already ran or cancelled: nothing to do
  world_->queue.erase(it->second);
  world_->timers.erase(it);
}

void SimIo::post(std::function<void()> task) {
  world_->post("post", std::move(task));
}

std::uint64_t SimIo::random_u64() {
  return world_->engine_random.next();
}

runtime::IoResult<TlsIdentityId> SimIo::load_tls_identity(std::string_view certificate_pem,
                                                          std::string_view private_key_pem) {
  if (certificate_pem.empty() || private_key_pem.empty()) {
    return io_failure(IoErrc::invalid, "tls identity: empty certificate or key");
  }
  const TlsIdentityId id = world_->next_id++;
  world_->identities.insert(id);
  return id;
}

// ---- runtime::Io: network.

runtime::IoResult<ListenerId> SimIo::listen(const Endpoint& bind, AcceptHandler on_accept) {
  World& w = *world_;
  if (bind.ip.empty() || bind.port == 0) {
    return io_failure(IoErrc::invalid, "listen " + bind.text() + ": invalid address");
  }
  for (const auto& [id, listener] : w.listeners) {
    if (listener.bind == bind) {
      return io_failure(IoErrc::invalid, "listen " + bind.text() + ": Address already in use");
    }
  }
  const ListenerId id = w.next_id++;
  w.listeners[id] = World::Listener{bind, std::move(on_accept)};
  return id;
}

void SimIo::stop_listening(ListenerId listener) {
  world_->listeners.erase(listener);
}

void SimIo::connect(const Endpoint& remote, Duration timeout, ConnectHandler on_done) {
  World& w = *world_;
  const bool blackholed = w.blackholed.count(remote.text()) != 0;
  if (blackholed || timeout < w.options.latency) {
    const Duration wait = std::max(timeout, Duration{});
    w.schedule(w.after(wait), "net.connect_timeout", [remote, on_done = std::move(on_done)] {
      // A named variable: GCC 12 -O3 warns (falsely) about the temporary's string.
      ConnectionFacts facts;
      facts.remote = remote;
      on_done(io_failure(IoErrc::timeout, "connect " + remote.text() + ": timed out"), facts);
    });
    return;
  }
  if (w.draw(w.faults.connect_refused_per_million)) {
    w.schedule(w.after(w.options.latency), "net.connect_refused",
               [&w, remote, on_done = std::move(on_done)] {
                 w.fired("net.connect_refused");
                 ConnectionFacts facts;
                 facts.remote = remote;
                 on_done(io_failure(IoErrc::refused, "connect " + remote.text() +
                                                         ": Connection refused (simulated)"),
                         facts);
               });
    return;
  }
  if (w.draw(w.faults.connect_timeout_per_million)) {
    w.schedule(w.after(timeout), "net.connect_timeout", [&w, remote, on_done = std::move(on_done)] {
      w.fired("net.connect_timeout");
      ConnectionFacts facts;
      facts.remote = remote;
      on_done(io_failure(IoErrc::timeout, "connect " + remote.text() + ": timed out (simulated)"),
              facts);
    });
    return;
  }
  w.schedule(w.after(w.options.latency), "net.connect",
             [&w, remote, on_done = std::move(on_done)]() mutable {
               w.connect_arrived(remote, std::move(on_done));
             });
}

void SimIo::read(ConnId conn, ReadHandler on_data) {
  World& w = *world_;
  Link* link = w.engine_link(conn);
  if (link == nullptr) return;
  assert(!link->read_handler && "SimIo: a second outstanding read");
  link->read_handler = std::move(on_data);
  if (!link->inbox.empty() || link->eof_arrived || link->reset) {
    const PeerId peer = link->peer;
    w.post("net.read", [&w, peer] { w.pump_read(peer); });
  }
}

void SimIo::write(ConnId conn, std::span<const char> bytes, StatusHandler on_done) {
  World& w = *world_;
  Link* link = w.engine_link(conn);
  if (link == nullptr) return;
  assert(!link->write_pending && "SimIo: a second outstanding write");
  link->write_pending = true;
  const PeerId peer = link->peer;
  if (link->reset) {
    w.post("net.write_failed", [&w, peer, conn, on_done = std::move(on_done)] {
      Link* l = w.find_link(peer);
      if (l == nullptr || !l->engine_open || l->conn != conn) return;
      l->write_pending = false;
      on_done(IoStatus::failure(IoErrc::reset, "write: Connection reset by peer (simulated)"));
    });
    return;
  }
  const bool reset = w.draw(w.faults.reset_per_million);
  w.schedule(w.arrival(link->last_to_peer_ns), reset ? "net.reset" : "net.to_peer",
             [&w, peer, conn, data = std::string(bytes.data(), bytes.size()), reset,
              on_done = std::move(on_done)] {
               const bool broken = w.to_peer(peer, data, reset);
               Link* l = w.find_link(peer);
               if (l == nullptr || !l->engine_open || l->conn != conn) return;
               l->write_pending = false;
               on_done(broken ? IoStatus::failure(IoErrc::reset,
                                                  "write: Connection reset by peer (simulated)")
                              : IoStatus::success());
             });
}

void SimIo::start_tls_server(ConnId conn, TlsIdentityId identity, TlsHandler on_done) {
  World& w = *world_;
  if (w.identities.count(identity) == 0) {
    if (w.engine_link(conn) == nullptr) return;
    w.post("tls.failed", [on_done = std::move(on_done)] {
      on_done(io_failure(IoErrc::invalid, "tls: unknown identity"));
    });
    return;
  }
  w.start_tls(conn, std::move(on_done), false, false);
}

void SimIo::start_tls_client(ConnId conn, const runtime::TlsClientOptions& options,
                             TlsHandler on_done) {
  world_->start_tls(conn, std::move(on_done), true, options.verify);
}

void SimIo::close(ConnId conn) {
  World& w = *world_;
  if (conn < w.crash_watermark && w.conns.count(conn) == 0) return;  // died in a crash
  Link* link = w.engine_link(conn);
  if (link == nullptr) return;
  w.drop_engine_side(*link);
  const PeerId peer = link->peer;
  w.schedule(w.arrival(link->last_to_peer_ns), "net.fin_to_peer", [&w, peer] {
    Link* l = w.find_link(peer);
    if (l != nullptr) l->closed_by_engine = true;
  });
}

// ---- runtime::Io: spool.

runtime::spool::LogSpool& SimIo::spool() {
  World& w = *world_;
  if (!w.spool) {
    runtime::spool::LogSpoolOptions options;
    options.dir = std::string(kSpoolDir);
    // Small segments and bodies, so that a run rotates, relocates, deletes segments and
    // keeps bodies in files as a long production run does.
    options.segment_bytes = 128 * 1024;
    options.inline_body_max = 16 * 1024;
    options.first_writer_id = (++w.spool_generation) << 40;
    w.spool = std::make_unique<runtime::spool::LogSpool>(*this, w.files, std::move(options));
  }
  return *w.spool;
}

runtime::IoResult<SpoolWriterId> SimIo::spool_create(std::string_view id) {
  return spool().create(id);
}

IoStatus SimIo::spool_append(SpoolWriterId writer, std::span<const char> bytes) {
  return spool().append(writer, bytes);
}

void SimIo::spool_commit(SpoolWriterId writer, std::string envelope, StatusHandler on_done) {
  spool().commit(writer, std::move(envelope), std::move(on_done));
}

void SimIo::spool_discard(SpoolWriterId writer) {
  if (world_->spool) world_->spool->discard(writer);  // a dead engine's writer is gone anyway
}

void SimIo::spool_update_envelope(std::string_view id, std::string envelope,
                                  StatusHandler on_done) {
  spool().update_envelope(id, std::move(envelope), std::move(on_done));
}

runtime::IoResult<std::vector<runtime::SpoolEntry>> SimIo::spool_list() {
  return spool().list();
}

runtime::IoResult<std::string> SimIo::spool_read_body(std::string_view id) {
  return spool().read_body(id);
}

// The test's record of what each removal took away (a real disk keeps nothing).
void SimIo::spool_remove(std::string_view id, StatusHandler on_done) {
  World& w = *world_;
  auto body = spool().read_body(id);
  auto envelope = spool().read_envelope(id);
  World::Message taken{body ? *body : std::string(), envelope ? *envelope : std::string()};
  spool().remove(id, [&w, key = std::string(id), taken = std::move(taken),
                      on_done = std::move(on_done)](IoStatus status) mutable {
    if (status.ok()) w.removed[key] = std::move(taken);
    on_done(status);
  });
}

void SimIo::maildir_deliver(std::string_view account, std::string prefix, std::string_view spool_id,
                            DeliverHandler on_done) {
  World& w = *world_;
  auto body = spool().read_body(spool_id);
  if (account.empty() || !body) {
    const IoErrc code = account.empty() ? IoErrc::invalid : IoErrc::not_found;
    w.post("disk.deliver_failed", [code, on_done = std::move(on_done)] {
      on_done(io_failure(code, "deliver: no such account or message"));
    });
    return;
  }
  const World::Fsync fsync = w.next_fsync(true);
  const std::uint64_t delivery = ++w.next_delivery;
  w.deliveries_in_flight[delivery] =
      World::Delivery{std::string(account), std::move(prefix) + *body};
  w.after_fsync("disk.deliver", [this, &w, fsync, delivery, on_done = std::move(on_done)] {
    auto node = w.deliveries_in_flight.extract(delivery);
    if (node.empty()) return;  // cannot happen: a crash drops this event with the entry
    if (w.fsync_failed(fsync)) {
      on_done(io_failure(IoErrc::io_error, "fsync: Input/output error (simulated)"));
      return;
    }
    std::string name =
        std::to_string(wall_unix_seconds()) + ".S" + std::to_string(++w.maildir_seq) + ".sim";
    w.maildirs[node.mapped().account][name] = std::move(node.mapped().content);
    on_done(std::move(name));
  });
}

}  // namespace tern::adapters::sim
