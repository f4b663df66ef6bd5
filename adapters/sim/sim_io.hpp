// adapters/sim/sim_io.hpp — a simulated Io: virtual time, an in-memory network and an
// in-memory disk, all driven by one 64-bit seed. The engine's tests run on it (no sockets,
// no files, no real time); the simulation issue grows it into a fault-injecting world.
//
// Contract:
// - Determinism: given the same seed and the same calls, the same callbacks run in the
//   same order at the same virtual instants. Events are ordered by (time, sequence); the
//   PRNG is our own (splitmix64/xoshiro256**), no <random> distributions, no floats.
// - Virtual time only moves inside run_*: it jumps to the next event. now() starts at
//   Instant{0} + 1s; wall_unix_seconds() is a fixed epoch (2026-01-01) plus virtual time.
// - Network: the test plays the far end of every connection through PeerId handles. A peer
//   can connect to a listener the engine opened (connect_peer), or the engine can connect
//   to an endpoint the test serves (serve). Bytes cross after `latency` (default 1 ms) in
//   the order written; read() hands the engine what arrived, at most `read_chunk_max`
//   bytes per callback. TLS is simulated: start_tls_* on the engine side and
//   peer_start_tls on the peer side both complete once both have asked; plaintext the
//   engine had not read when it asked is dropped (as a real handshake would choke on it).
// - Disk: the spool is the production spool log (runtime/spool/log_spool.hpp, small
//   segments) on SimDisk (sim_disk.hpp), whose syncs complete after `fsync_latency`;
//   maildir_deliver completes after `fsync_latency` too. crash() forgets every connection,
//   timer and posted task and the spool log's memory (their callbacks never run); the disk
//   keeps what was synced, and of the rest each write survives whole, is lost or is torn,
//   as the seed's "crash" stream draws. The crashed engine's destructors may still use or
//   close() its connections: those calls are ignored, as a dead process does nothing.
//   spool_envelopes()/spool_body() read the disk's durable image through recover(): what a
//   restart would find now. Faults: fail_next_fsyncs(n) (the next n file syncs and
//   Maildir deliveries fail with io_error), set_disk_capacity(bytes) (a write that would
//   grow the files past it fails with no_space).
// - Details the engine may rely on: post() runs after every event already queued for the
//   current instant; a timer whose deadline has passed runs at the current instant; a
//   connect() to an endpoint nobody serves fails with refused after `latency`, one to a
//   blackholed endpoint (or with a timeout below `latency`) with timeout after `timeout`.
//   close(conn) reaches the peer after `latency`, after the bytes written before it; writes
//   in flight still reach the peer but their callbacks do not run. The disk capacity counts
//   the bytes of the spool's files (Maildir files are not counted). Maildir file names are "<wall
//   seconds>.S<sequence>.sim". Misuse by the engine (an unknown or closed connection, a second
//   outstanding read or write) asserts.
// - DNS: the test sets records by (name, type); dns_query answers after `latency`. A name
//   with no record of any type is NXDOMAIN; a known name without the type asked is NODATA
//   (an empty answer). dns_fail(name, type, code) makes that question fail with dns_failed
//   (after `latency`) or time out (after the query's timeout). Names compare lowercased.
// - Faults (set_faults, see SimFaults): drawn per event from their own PRNG stream
//   ("faults"), so that they never change the engine's random numbers; with no faults set
//   (the default, or after heal()) nothing is drawn and the world behaves exactly as above.
//   They stay inside the Io contract: a write still sends every byte or fails, reads keep
//   the order of bytes, a spool commit or envelope update is still all-or-nothing.
//   fault_counts() counts only faults drawn from SimFaults, never the scripted ones
//   (fail_next_fsyncs, set_disk_capacity, dns_fail, blackhole, crash itself).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/io.hpp"

namespace tern::runtime::spool {
class LogSpool;
}

namespace tern::adapters::sim {

class Prng {
 public:
  explicit Prng(std::uint64_t seed);
  std::uint64_t next();
  std::uint64_t below(std::uint64_t bound);  // uniform in [0, bound), bound > 0
  // An independent stream per subsystem, derived from this stream's state and the FNV-1a
  // hash of the name; this stream does not advance, so adding a stream perturbs no other.
  Prng child(std::string_view stream_name);

 private:
  std::uint64_t state_[4];
};

using PeerId = std::uint64_t;

struct SimOptions {
  runtime::Duration latency = runtime::Duration::milliseconds(1);
  runtime::Duration fsync_latency = runtime::Duration::milliseconds(2);
  std::size_t read_chunk_max = 64 * 1024;
};

// Rates are per million draws (0 = never, 1'000'000 or more = always). Each names its fault
// point in fault_counts(); a point is counted when the fault takes effect.
struct SimFaults {
  // ---- Network: every connection, whoever opened it (connect_peer, serve).
  // "net.jitter": each delivery of bytes or of a close takes 0..N µs more than `latency`;
  // each direction keeps its order.
  std::uint32_t latency_jitter_us = 0;
  // "net.chunk": an engine read gets 1..min(arrived, read_chunk_max) bytes at random, and
  // peer_on_bytes gets a delivery in random pieces. Every byte still arrives, in order.
  bool random_chunking = false;
  // "net.reset": per write (engine write or peer_send), a random strict prefix arrives and
  // the connection breaks: the engine's pending and later reads, writes and handshakes fail
  // with IoErrc::reset, its unread bytes are lost, peer_closed_by_engine() turns true and
  // later peer_send calls are dropped. The engine still close()s the connection.
  std::uint32_t reset_per_million = 0;
  // "net.half_close": per peer_send (not reset), the peer then closes its sending half
  // (peer_close): the engine reads eof after the bytes and may still write.
  std::uint32_t half_close_per_million = 0;
  // "net.stall" (counted when the stall begins): per new connection, after a random number
  // (0..23) of deliveries nothing more arrives either way, not even the peer's close, while
  // engine writes still complete, a TLS handshake never does; only the engine's close()
  // still reaches the peer.
  std::uint32_t stall_per_million = 0;
  // "net.connect_refused" (after `latency`) and "net.connect_timeout" (after the connect's
  // timeout): per engine connect() to an endpoint that is served.
  std::uint32_t connect_refused_per_million = 0;
  std::uint32_t connect_timeout_per_million = 0;
  // ---- Disk.
  // "disk.fsync_fail": per sync of a spool file (a log segment's fdatasync answers every
  // record written before it began) and per Maildir delivery: io_error, nothing becomes
  // durable.
  std::uint32_t fsync_fail_per_million = 0;
  // "disk.full": per write to a spool file (a record, zeros ahead of it, a spilled body):
  // no_space.
  std::uint32_t disk_full_per_million = 0;
  // "crash.torn_write": per Maildir delivery in flight at crash(): a strict prefix of the
  // file stays in <account>/tmp (maildir_tmp), never in new/.
  std::uint32_t torn_write_per_million = 0;
  // ---- DNS: per query, instead of the answer.
  std::uint32_t dns_fail_per_million = 0;     // "dns.fail": dns_failed after `latency`
  std::uint32_t dns_timeout_per_million = 0;  // "dns.timeout": after the query's timeout
  // ---- Clocks: wall_unix_seconds runs fast (+) or slow (-) against now() from set_faults
  // on (clamped to ±1'000'000: it may stop, never run backwards). Not counted. A later
  // set_faults or heal() keeps the offset reached: the wall clock never jumps.
  std::int32_t wall_drift_ppm = 0;
};

class SimIo final : public runtime::Io {
 public:
  explicit SimIo(std::uint64_t seed, SimOptions options = {});
  ~SimIo() override;
  SimIo(const SimIo&) = delete;
  SimIo& operator=(const SimIo&) = delete;

  // ---- Driving the world.
  bool run_one();                        // one event; false when none is left
  void run_until_idle();                 // until no event is left
  void run_for(runtime::Duration span);  // events up to now() + span
  // Runs events until done() holds (true) or no event is left before now() + limit (false,
  // now() is then now() + limit). run_until_idle aborts after 50 million events: a world
  // with a periodic timer never idles, so such a test must use run_for or run_until.
  bool run_until(const std::function<bool()>& done, runtime::Duration limit);
  std::uint64_t events_run() const;
  std::uint64_t trace_hash() const;  // FNV-1a over (time, kind) of every event run so far

  // ---- The test's side of the network.
  // A client at `from` connects to a listener of the engine; nullopt when nobody listens.
  std::optional<PeerId> connect_peer(const runtime::Endpoint& to, const runtime::Endpoint& from);
  // connect() by the engine to `at` reaches `on_connection` (with the new peer) from now on.
  void serve(const runtime::Endpoint& at, std::function<void(PeerId)> on_connection);
  void stop_serving(const runtime::Endpoint& at);  // connect() is then refused
  void blackhole(const runtime::Endpoint& at);     // connect() then times out (until serve)
  void peer_send(PeerId peer, std::string_view bytes);
  std::string peer_take(PeerId peer);  // every byte the engine wrote since the last take
  // Instead of peer_take: called with the engine's bytes as they arrive.
  void peer_on_bytes(PeerId peer, std::function<void(std::string_view)> on_bytes);
  void peer_close(PeerId peer);  // the engine reads eof
  bool peer_closed_by_engine(PeerId peer) const;
  void peer_start_tls(PeerId peer);
  bool peer_tls_active(PeerId peer) const;
  void peer_fail_tls(PeerId peer);  // the next handshake fails: the engine gets tls_failed

  // ---- DNS, the test's side (see the contract).
  void dns_set(std::string_view name, runtime::DnsType type, std::vector<std::string> rdata,
               bool secure = false);
  void dns_mx(std::string_view name, const std::vector<std::pair<int, std::string>>& records);
  void dns_addresses(std::string_view name, const std::vector<std::string>& ips);  // A/AAAA
  void dns_fail(std::string_view name, runtime::DnsType type, runtime::IoErrc code);
  void dns_clear(std::string_view name);  // back to NXDOMAIN
  std::uint64_t dns_queries() const;

  // ---- The disk.
  void crash();  // see the contract
  void fail_next_fsyncs(int count);
  void set_disk_capacity(std::uint64_t bytes);
  std::map<std::string, std::string> spool_envelopes() const;  // durable: id -> envelope
  std::optional<std::string> spool_body(std::string_view id) const;
  std::size_t spool_open_writers() const;  // bodies being written (the asio spool's .tmp files)
  // Every message the engine removed from the spool: id -> (last durable envelope, body).
  // The test's record (a real disk keeps nothing): how fuzzers tell an end from a loss.
  std::map<std::string, std::pair<std::string, std::string>> spool_removed() const;
  std::vector<std::string> maildir_accounts() const;  // accounts with a durable file
  // Durable Maildir files of one account: file name under new/ -> content.
  std::map<std::string, std::string> maildir(std::string_view account) const;
  // Partial files left in an account's Maildir tmp/ by torn writes: name -> bytes.
  std::map<std::string, std::string> maildir_tmp(std::string_view account) const;

  // ---- Faults (see SimFaults and the contract).
  // From now on; crash() keeps them. A stall_per_million of 0 calls off the stalls drawn
  // for open connections that have not begun yet.
  void set_faults(const SimFaults& faults);
  // Faults stop: no new draws; a connection already stalled or reset stays so (its lost
  // bytes cannot come back), a stall not yet reached is called off.
  void heal();
  // How many times each fault point fired, e.g. {"net.reset": 3, "dns.timeout": 2}; points
  // that never fired are absent.
  std::map<std::string, std::uint64_t> fault_counts() const;

  // ---- runtime::Io.
  runtime::Instant now() const override;
  std::int64_t wall_unix_seconds() const override;
  runtime::TimerId start_timer(runtime::Instant deadline, std::function<void()> on_expiry) override;
  void cancel_timer(runtime::TimerId timer) override;
  void post(std::function<void()> task) override;
  std::uint64_t random_u64() override;
  runtime::IoResult<runtime::TlsIdentityId> load_tls_identity(
      std::string_view certificate_pem, std::string_view private_key_pem) override;
  runtime::IoResult<runtime::ListenerId> listen(const runtime::Endpoint& bind,
                                                AcceptHandler on_accept) override;
  void stop_listening(runtime::ListenerId listener) override;
  void connect(const runtime::Endpoint& remote, runtime::Duration timeout,
               ConnectHandler on_done) override;
  void read(runtime::ConnId conn, ReadHandler on_data) override;
  void write(runtime::ConnId conn, std::span<const char> bytes, StatusHandler on_done) override;
  void start_tls_server(runtime::ConnId conn, runtime::TlsIdentityId identity,
                        TlsHandler on_done) override;
  void start_tls_client(runtime::ConnId conn, const runtime::TlsClientOptions& options,
                        TlsHandler on_done) override;
  void close(runtime::ConnId conn) override;
  void dns_query(std::string name, runtime::DnsType type, runtime::Duration timeout,
                 DnsHandler on_done) override;
  runtime::IoResult<runtime::SpoolWriterId> spool_create(std::string_view id) override;
  runtime::IoStatus spool_append(runtime::SpoolWriterId writer,
                                 std::span<const char> bytes) override;
  void spool_commit(runtime::SpoolWriterId writer, std::string envelope,
                    StatusHandler on_done) override;
  void spool_discard(runtime::SpoolWriterId writer) override;
  void spool_update_envelope(std::string_view id, std::string envelope,
                             StatusHandler on_done) override;
  runtime::IoResult<std::vector<runtime::SpoolEntry>> spool_list() override;
  runtime::IoResult<std::string> spool_read_body(std::string_view id) override;
  void spool_remove(std::string_view id, StatusHandler on_done) override;
  void maildir_deliver(std::string_view account, std::string prefix, std::string_view spool_id,
                       DeliverHandler on_done) override;

 private:
  struct World;                       // everything, so that crash() can rebuild the volatile part
  runtime::spool::LogSpool& spool();  // the log of the running "process", made on first use
  World* world_;
};

}  // namespace tern::adapters::sim
