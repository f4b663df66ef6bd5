// Tests of the simulated Io's fault injection (SimFaults): each fault always (rate
// 1'000'000) and never (0), seen from an engine-like user of runtime::Io; the counters match
// what happened; a seed still replays exactly; heal() stops the faults.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"

namespace tern::adapters::sim {
namespace {

using runtime::ConnectionFacts;
using runtime::ConnId;
using runtime::DnsAnswer;
using runtime::Duration;
using runtime::Endpoint;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;

using Counts = std::map<std::string, std::uint64_t>;

const Endpoint kServer{"192.0.2.1", 25};
const Endpoint kClient{"198.51.100.7", 40000};
const Endpoint kRemote{"203.0.113.5", 25};
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kStart = 1'000 * kMs;
constexpr std::uint32_t kAlways = 1'000'000;

std::span<const char> as_span(const std::string& s) {
  return {s.data(), s.size()};
}

std::string code_name(IoErrc code) {
  switch (code) {
    case IoErrc::eof: return "<eof>";
    case IoErrc::reset: return "<reset>";
    case IoErrc::timeout: return "<timeout>";
    default: return "<err " + std::to_string(static_cast<int>(code)) + ">";
  }
}

// The engine's side of one accepted connection: reads everything, records what it saw.
struct Reader {
  Reader(SimIo& io, ConnId conn) : io(io), conn(conn) {}
  void read_all() {
    io.read(conn, [this](IoResult<std::span<const char>> got) {
      if (!got) {
        seen.push_back(code_name(got.error().code));
        return;
      }
      seen.emplace_back(got->data(), got->size());
      read_all();
    });
  }
  std::string bytes() const {
    std::string out;
    for (const auto& s : seen)
      if (s.empty() || s[0] != '<') out += s;
    return out;
  }
  SimIo& io;
  ConnId conn;
  std::vector<std::string> seen;
};

// An engine that listens on kServer and remembers the last connection it accepted.
struct World {
  explicit World(std::uint64_t seed, SimOptions options = {}) : io(seed, options) {
    auto listener = io.listen(kServer, [this](ConnId c, ConnectionFacts) { conn = c; });
    EXPECT_TRUE(listener.has_value());
  }
  PeerId connect() {
    const PeerId peer = *io.connect_peer(kServer, kClient);
    io.run_until_idle();
    return peer;
  }
  // An engine write; the status lands in `statuses` ("ok" or "<reset>").
  void write(const std::string& text) {
    auto data = std::make_shared<std::string>(text);
    io.write(conn, as_span(*data), [this, data](IoStatus s) {
      statuses.push_back(s.ok() ? "ok" : code_name(s.error->code));
    });
  }
  SimIo io;
  ConnId conn = 0;
  std::vector<std::string> statuses;
};

// ---- Isolation and determinism.

TEST(SimFaultsTest, FaultsDoNotChangeTheEngineRandomStream) {
  SimIo io(1);
  SimFaults all;
  all.latency_jitter_us = 100;
  all.random_chunking = true;
  all.reset_per_million = kAlways;
  all.dns_fail_per_million = kAlways;
  io.set_faults(all);
  std::optional<IoResult<DnsAnswer>> answer;
  io.dns_query("example.org", runtime::DnsType::mx, Duration::seconds(5),
               [&](IoResult<DnsAnswer> a) { answer = std::move(a); });
  io.run_until_idle();
  EXPECT_EQ(io.random_u64(), 0x8c95f75afa4feca4ULL);  // as pinned in sim_io_test
  EXPECT_EQ(io.random_u64(), 0x91831ff1b165dcc8ULL);
}

TEST(SimFaultsTest, NoFaultsSetMeansNoCountsAndTheSameTrace) {
  auto run = [](bool set_empty) {
    World w(5);
    if (set_empty) w.io.set_faults(SimFaults{});
    const PeerId peer = w.connect();
    Reader reader(w.io, w.conn);
    reader.read_all();
    w.io.peer_send(peer, "hello");
    w.io.run_until_idle();
    w.write("reply");
    w.io.peer_close(peer);
    w.io.run_until_idle();
    EXPECT_EQ(reader.seen, (std::vector<std::string>{"hello", "<eof>"}));
    EXPECT_EQ(w.io.peer_take(peer), "reply");
    EXPECT_TRUE(w.io.fault_counts().empty());
    return w.io.trace_hash();
  };
  EXPECT_EQ(run(false), run(true));
}

// A busy world with every fault at 20%: returns the transcript, the counts and the hash.
struct Outcome {
  std::vector<std::string> transcript;
  Counts counts;
  std::uint64_t hash = 0;
};

Outcome swarm(std::uint64_t seed) {
  World w(seed, SimOptions{Duration::milliseconds(1), Duration::milliseconds(2), 16});
  SimFaults f;
  f.latency_jitter_us = 700;
  f.random_chunking = true;
  f.reset_per_million = 50'000;
  f.half_close_per_million = 50'000;
  f.stall_per_million = 200'000;
  f.connect_refused_per_million = 200'000;
  f.connect_timeout_per_million = 200'000;
  f.fsync_fail_per_million = 200'000;
  f.disk_full_per_million = 200'000;
  f.dns_fail_per_million = 200'000;
  f.dns_timeout_per_million = 200'000;
  f.wall_drift_ppm = 250;
  w.io.set_faults(f);
  Outcome out;
  std::vector<std::unique_ptr<Reader>> readers;
  for (int c = 0; c < 8; ++c) {
    const PeerId peer = w.connect();
    readers.push_back(std::make_unique<Reader>(w.io, w.conn));
    readers.back()->read_all();
    w.io.peer_on_bytes(peer, [&out, c](std::string_view b) {
      out.transcript.push_back("peer" + std::to_string(c) + ":" + std::string(b));
    });
    for (int i = 0; i < 5; ++i) w.io.peer_send(peer, "line " + std::to_string(i) + " of many\r\n");
    w.write("greeting from the engine " + std::to_string(c));
    w.io.peer_close(peer);
  }
  for (int q = 0; q < 10; ++q) {
    w.io.dns_query("q" + std::to_string(q) + ".example", runtime::DnsType::a, Duration::seconds(3),
                   [&out, &w](IoResult<DnsAnswer> a) {
                     out.transcript.push_back(std::to_string(w.io.now().ns) + " dns " +
                                              (a ? "ok" : code_name(a.error().code)));
                   });
    w.io.connect(kRemote, Duration::seconds(30), [&out](IoResult<ConnId> c, ConnectionFacts) {
      out.transcript.push_back(c ? "connected" : "connect " + code_name(c.error().code));
    });
    auto writer = w.io.spool_create("m" + std::to_string(q));
    const IoStatus appended = w.io.spool_append(*writer, as_span(std::string("body")));
    out.transcript.push_back(appended.ok() ? "append ok" : "append failed");
    w.io.spool_commit(*writer, "env", [&out](IoStatus s) {
      out.transcript.push_back(s.ok() ? "commit ok" : "commit failed");
    });
  }
  w.io.serve(kRemote, [](PeerId) {});
  w.io.run_until_idle();
  for (const auto& r : readers)
    out.transcript.insert(out.transcript.end(), r->seen.begin(), r->seen.end());
  out.transcript.insert(out.transcript.end(), w.statuses.begin(), w.statuses.end());
  out.transcript.push_back("wall " + std::to_string(w.io.wall_unix_seconds()));
  out.counts = w.io.fault_counts();
  out.hash = w.io.trace_hash();
  return out;
}

TEST(SimFaultsTest, SameSeedGivesTheSameTraceAndCountsTwice) {
  const Outcome first = swarm(42);
  const Outcome second = swarm(42);
  EXPECT_EQ(first.transcript, second.transcript);
  EXPECT_EQ(first.counts, second.counts);
  EXPECT_EQ(first.hash, second.hash);
  EXPECT_FALSE(first.counts.empty());
  const Outcome other = swarm(43);
  EXPECT_NE(first.hash, other.hash);
}

// ---- Network: jitter and chunking.

TEST(SimFaultsTest, JitterDelaysDeliveriesWithinItsBoundAndKeepsTheOrder) {
  for (const std::uint32_t jitter_us : {0u, 1u, 500u}) {
    World w(9);
    SimFaults f;
    f.latency_jitter_us = jitter_us;
    w.io.set_faults(f);
    const PeerId peer = w.connect();
    Reader reader(w.io, w.conn);
    reader.read_all();
    std::string sent;
    for (int i = 0; i < 50; ++i) {
      const std::string piece = std::to_string(i) + ",";
      sent += piece;
      w.io.peer_send(peer, piece);
    }
    w.io.peer_close(peer);
    w.io.run_until_idle();
    EXPECT_EQ(reader.bytes(), sent);
    EXPECT_EQ(reader.seen.back(), "<eof>");  // the close never overtakes the bytes
    const std::int64_t took = w.io.now().ns - kStart;
    EXPECT_GE(took, kMs);
    EXPECT_LE(took, kMs + static_cast<std::int64_t>(jitter_us) * 1000);
    const auto counts = w.io.fault_counts();
    if (jitter_us == 0) {
      EXPECT_EQ(took, kMs);
      EXPECT_TRUE(counts.empty());
    } else {
      // 51 deliveries (50 sends and the close); each draws 0..N µs, and only >0 counts.
      ASSERT_EQ(counts.count("net.jitter"), 1u);
      EXPECT_LE(counts.at("net.jitter"), 51u);
      EXPECT_GE(counts.at("net.jitter"), jitter_us == 1 ? 10u : 45u);
    }
  }
}

std::vector<std::string> chunked_reads(std::uint64_t seed, bool chunking, const std::string& sent) {
  World w(seed, SimOptions{Duration::milliseconds(1), Duration::milliseconds(2), 7});
  SimFaults f;
  f.random_chunking = chunking;
  w.io.set_faults(f);
  const PeerId peer = w.connect();
  w.io.peer_send(peer, sent);
  w.io.peer_close(peer);
  w.io.run_until_idle();
  Reader reader(w.io, w.conn);
  reader.read_all();
  w.io.run_until_idle();
  return reader.seen;
}

TEST(SimFaultsTest, RandomChunkingDeliversEveryByteInOrderInPiecesUpToTheMax) {
  std::string sent;
  for (int i = 0; i < 200; ++i) sent += static_cast<char>('a' + i % 26);
  const auto plain = chunked_reads(3, false, sent);
  ASSERT_EQ(plain.size(), 30u);  // 28 reads of 7, one of 4, eof
  EXPECT_EQ(plain[28], sent.substr(196));
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const auto seen = chunked_reads(seed, true, sent);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back(), "<eof>");
    std::string joined;
    std::size_t short_reads = 0;
    for (std::size_t i = 0; i + 1 < seen.size(); ++i) {
      EXPECT_GE(seen[i].size(), 1u);
      EXPECT_LE(seen[i].size(), 7u);
      if (seen[i].size() < 7 && i + 2 < seen.size()) ++short_reads;
      joined += seen[i];
    }
    EXPECT_EQ(joined, sent) << "seed " << seed;
    EXPECT_GT(short_reads, 5u) << "seed " << seed;  // uniform 1..7: about 6 in 7 are short
  }
}

TEST(SimFaultsTest, RandomChunkingSplitsWhatThePeerCallbackGets) {
  World w(11);
  SimFaults f;
  f.random_chunking = true;
  w.io.set_faults(f);
  const PeerId peer = w.connect();
  std::vector<std::string> pieces;
  w.io.peer_on_bytes(peer, [&](std::string_view b) { pieces.emplace_back(b); });
  const std::string text(300, 'x');
  w.write(text);
  w.io.run_until_idle();
  std::string joined;
  for (const auto& p : pieces) joined += p;
  EXPECT_EQ(joined, text);
  EXPECT_GT(pieces.size(), 1u);
  EXPECT_EQ(w.statuses, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(w.io.fault_counts(), (Counts{{"net.chunk", 1}}));
}

// ---- Network: reset, half-close, stall.

TEST(SimFaultsTest, ResetOnAnEngineWriteBreaksBothEnds) {
  for (const std::uint32_t rate : {kAlways, 0u}) {
    World w(13);
    const PeerId peer = w.connect();
    Reader reader(w.io, w.conn);
    reader.read_all();
    SimFaults f;
    f.reset_per_million = rate;
    w.io.set_faults(f);
    w.write("250 hello there\r\n");
    w.io.run_until_idle();
    const std::string got = w.io.peer_take(peer);
    if (rate == 0) {
      EXPECT_EQ(got, "250 hello there\r\n");
      EXPECT_EQ(w.statuses, (std::vector<std::string>{"ok"}));
      EXPECT_TRUE(reader.seen.empty());
      EXPECT_FALSE(w.io.peer_closed_by_engine(peer));
      EXPECT_TRUE(w.io.fault_counts().empty());
      continue;
    }
    EXPECT_LT(got.size(), 17u);  // a strict prefix at most
    EXPECT_EQ(got, std::string("250 hello there\r\n").substr(0, got.size()));
    EXPECT_EQ(w.statuses, (std::vector<std::string>{"<reset>"}));
    EXPECT_EQ(reader.seen, (std::vector<std::string>{"<reset>"}));  // the pending read fails
    EXPECT_TRUE(w.io.peer_closed_by_engine(peer));
    EXPECT_EQ(w.io.now().ns, kStart + kMs);
    // Later operations fail the same way; the peer's bytes go nowhere.
    w.io.peer_send(peer, "late");
    w.write("more");
    reader.read_all();
    w.io.run_until_idle();
    EXPECT_EQ(w.statuses, (std::vector<std::string>{"<reset>", "<reset>"}));
    EXPECT_EQ(reader.seen, (std::vector<std::string>{"<reset>", "<reset>"}));
    EXPECT_EQ(w.io.peer_take(peer), "");
    w.io.close(w.conn);  // the engine still closes it, as it would a real socket
    w.io.run_until_idle();
    EXPECT_EQ(w.io.fault_counts(), (Counts{{"net.reset", 1}}));
  }
}

TEST(SimFaultsTest, ResetOnAPeerWriteDeliversAPrefixThenReset) {
  World w(17);
  const PeerId peer = w.connect();
  Reader reader(w.io, w.conn);
  reader.read_all();
  w.io.peer_send(peer, "first\r\n");
  w.io.run_until_idle();
  SimFaults f;
  f.reset_per_million = kAlways;
  w.io.set_faults(f);
  w.io.peer_send(peer, "MAIL FROM:<a@b>\r\n");
  w.io.run_until_idle();
  ASSERT_GE(reader.seen.size(), 2u);
  EXPECT_EQ(reader.seen.front(), "first\r\n");
  EXPECT_EQ(reader.seen.back(), "<reset>");
  const std::string got = reader.bytes().substr(7);
  EXPECT_LT(got.size(), 17u);
  EXPECT_EQ(got, std::string("MAIL FROM:<a@b>\r\n").substr(0, got.size()));
  EXPECT_TRUE(w.io.peer_closed_by_engine(peer));
  EXPECT_EQ(w.io.fault_counts(), (Counts{{"net.reset", 1}}));
}

TEST(SimFaultsTest, HalfCloseAfterAPeerWriteGivesEofButTheEngineCanStillWrite) {
  for (const std::uint32_t rate : {kAlways, 0u}) {
    World w(19);
    const PeerId peer = w.connect();
    Reader reader(w.io, w.conn);
    reader.read_all();
    SimFaults f;
    f.half_close_per_million = rate;
    w.io.set_faults(f);
    w.io.peer_send(peer, "QUIT\r\n");
    w.io.peer_send(peer, "dropped when half-closed\r\n");
    w.io.run_until_idle();
    w.write("221 bye\r\n");
    w.io.run_until_idle();
    EXPECT_EQ(w.io.peer_take(peer), "221 bye\r\n");
    EXPECT_EQ(w.statuses, (std::vector<std::string>{"ok"}));
    if (rate == kAlways) {
      EXPECT_EQ(reader.seen, (std::vector<std::string>{"QUIT\r\n", "<eof>"}));
      EXPECT_EQ(w.io.fault_counts(), (Counts{{"net.half_close", 1}}));
    } else {
      EXPECT_EQ(reader.seen,
                (std::vector<std::string>{"QUIT\r\n", "dropped when half-closed\r\n"}));
      EXPECT_TRUE(w.io.fault_counts().empty());
    }
  }
}

struct StallRun {
  std::string engine_got;
  std::vector<std::string> reader_seen;
  std::string peer_got;
  std::vector<std::string> statuses;
  bool peer_saw_close = false;
  Counts counts;
};

// 30 messages each way, one at a time, then both ends close.
StallRun run_stall(std::uint64_t seed, std::uint32_t rate, bool heal_first) {
  World w(seed);
  SimFaults f;
  f.stall_per_million = rate;
  w.io.set_faults(f);
  const PeerId peer = w.connect();
  if (heal_first) w.io.heal();
  Reader reader(w.io, w.conn);
  reader.read_all();
  for (int i = 0; i < 30; ++i) {
    w.io.peer_send(peer, "p" + std::to_string(i) + ";");
    w.io.run_until_idle();
    w.write("e" + std::to_string(i) + ";");
    w.io.run_until_idle();
  }
  w.io.peer_close(peer);
  w.io.run_until_idle();
  StallRun out{reader.bytes(), reader.seen, w.io.peer_take(peer), w.statuses, false, {}};
  w.io.close(w.conn);
  w.io.run_until_idle();
  out.peer_saw_close = w.io.peer_closed_by_engine(peer);
  out.counts = w.io.fault_counts();
  return out;
}

std::string numbered(char tag, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += tag + std::to_string(i) + ";";
  return out;
}

TEST(SimFaultsTest, StallSwallowsEverythingAfterARandomPointUntilClosed) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const StallRun run = run_stall(seed, kAlways, false);
    // Deliveries alternate peer, engine: a stall after k of them leaves ceil(k/2) of the
    // peer's messages and floor(k/2) of the engine's, k in 0..23.
    int k = -1;
    for (int d = 0; d < 24; ++d) {
      if (run.engine_got == numbered('p', (d + 1) / 2) && run.peer_got == numbered('e', d / 2))
        k = d;
    }
    EXPECT_NE(k, -1) << "seed " << seed << ": " << run.engine_got << " / " << run.peer_got;
    EXPECT_EQ(run.reader_seen.size(), static_cast<std::size_t>((k + 1) / 2));  // no eof, ever
    EXPECT_EQ(run.statuses, std::vector<std::string>(30, "ok"));  // writes still complete
    EXPECT_TRUE(run.peer_saw_close);                              // the engine's close gets through
    EXPECT_EQ(run.counts, (Counts{{"net.stall", 1}})) << "seed " << seed;
  }
}

TEST(SimFaultsTest, AHandshakeOnAStalledConnectionNeverCompletes) {
  for (const std::uint32_t rate : {kAlways, 0u}) {
    World w(47);
    SimFaults f;
    f.stall_per_million = rate;
    w.io.set_faults(f);
    const PeerId peer = w.connect();
    for (int i = 0; i < 24; ++i) w.io.peer_send(peer, "x");  // past any stall point
    w.io.run_until_idle();
    int handshakes = 0;
    w.io.start_tls_client(w.conn, runtime::TlsClientOptions{"mx.example", false},
                          [&](IoResult<runtime::TlsFacts> r) { handshakes += r ? 1 : 100; });
    w.io.peer_start_tls(peer);
    w.io.run_until_idle();
    EXPECT_EQ(handshakes, rate == 0 ? 1 : 0);
    EXPECT_EQ(w.io.peer_tls_active(peer), rate == 0);
    w.io.close(w.conn);
    w.io.run_until_idle();
    EXPECT_EQ(handshakes, rate == 0 ? 1 : 0);  // closing silences it
    EXPECT_TRUE(w.io.peer_closed_by_engine(peer));
  }
}

TEST(SimFaultsTest, NoStallAtRateZeroOrAfterHeal) {
  for (const bool heal_first : {false, true}) {
    const StallRun run = run_stall(1, heal_first ? kAlways : 0u, heal_first);
    EXPECT_EQ(run.engine_got, numbered('p', 30));
    EXPECT_EQ(run.peer_got, numbered('e', 30));
    EXPECT_EQ(run.reader_seen.back(), "<eof>");
    EXPECT_TRUE(run.counts.empty());
  }
}

// ---- Network: connect.

std::vector<std::string> connect_once(const SimFaults& f, int* served) {
  SimIo io(23);
  io.serve(kRemote, [served](PeerId) { ++*served; });
  io.set_faults(f);
  std::vector<std::string> log;
  io.connect(kRemote, Duration::seconds(10), [&](IoResult<ConnId> c, ConnectionFacts facts) {
    log.push_back(std::to_string((io.now().ns - kStart) / kMs) + "ms " +
                  (c ? std::string("connected") : code_name(c.error().code)) + " " +
                  facts.remote.text());
  });
  io.run_until_idle();
  const auto counts = io.fault_counts();
  for (const auto& [name, n] : counts) log.push_back(name + "=" + std::to_string(n));
  return log;
}

TEST(SimFaultsTest, ConnectRefusedAfterLatencyAndTimeoutAfterTheTimeout) {
  int served = 0;
  SimFaults refused;
  refused.connect_refused_per_million = kAlways;
  EXPECT_EQ(connect_once(refused, &served),
            (std::vector<std::string>{"1ms <err 4> 203.0.113.5:25", "net.connect_refused=1"}));
  SimFaults timeout;
  timeout.connect_timeout_per_million = kAlways;
  EXPECT_EQ(
      connect_once(timeout, &served),
      (std::vector<std::string>{"10000ms <timeout> 203.0.113.5:25", "net.connect_timeout=1"}));
  EXPECT_EQ(served, 0);
  EXPECT_EQ(connect_once(SimFaults{}, &served),
            (std::vector<std::string>{"1ms connected 203.0.113.5:25"}));
  EXPECT_EQ(served, 1);
}

// ---- DNS.

TEST(SimFaultsTest, DnsFailsAfterLatencyOrTimesOutAfterTheQueryTimeout) {
  for (const int mode : {0, 1, 2}) {
    SimIo io(29);
    io.dns_addresses("mx.example", {"192.0.2.9"});
    SimFaults f;
    f.dns_fail_per_million = mode == 1 ? kAlways : 0;
    f.dns_timeout_per_million = mode == 2 ? kAlways : 0;
    io.set_faults(f);
    std::optional<IoResult<DnsAnswer>> answer;
    io.dns_query("mx.example", runtime::DnsType::a, Duration::seconds(4),
                 [&](IoResult<DnsAnswer> a) { answer = std::move(a); });
    io.run_until_idle();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(io.dns_queries(), 1u);
    if (mode == 0) {
      ASSERT_TRUE(answer->has_value());
      EXPECT_EQ((*answer)->rdata.size(), 1u);
      EXPECT_EQ(io.now().ns, kStart + kMs);
      EXPECT_TRUE(io.fault_counts().empty());
    } else if (mode == 1) {
      EXPECT_EQ(answer->error().code, IoErrc::dns_failed);
      EXPECT_EQ(io.now().ns, kStart + kMs);
      EXPECT_EQ(io.fault_counts(), (Counts{{"dns.fail", 1}}));
    } else {
      EXPECT_EQ(answer->error().code, IoErrc::timeout);
      EXPECT_EQ(io.now().ns, kStart + 4'000 * kMs);
      EXPECT_EQ(io.fault_counts(), (Counts{{"dns.timeout", 1}}));
    }
  }
}

// ---- Disk.

// Writes one message and waits for the commit.
IoStatus store(SimIo& io, const std::string& id, const std::string& body) {
  auto writer = io.spool_create(id);
  EXPECT_TRUE(writer.has_value());
  const IoStatus appended = io.spool_append(*writer, as_span(body));
  if (!appended.ok()) return appended;
  std::optional<IoStatus> committed;
  io.spool_commit(*writer, "env", [&](IoStatus s) { committed = s; });
  io.run_until_idle();
  EXPECT_TRUE(committed.has_value());
  return committed.value_or(IoStatus::failure(IoErrc::invalid, "no callback"));
}

TEST(SimFaultsTest, FsyncFailureHitsCommitUpdateRemoveAndMaildirAndChangesNothing) {
  SimIo io(31);
  ASSERT_TRUE(store(io, "kept", "body").ok());
  SimFaults f;
  f.fsync_fail_per_million = kAlways;
  io.set_faults(f);
  EXPECT_EQ(store(io, "new", "body").error->code, IoErrc::io_error);
  std::vector<IoStatus> statuses;
  io.spool_update_envelope("kept", "env2", [&](IoStatus s) { statuses.push_back(s); });
  io.spool_remove("kept", [&](IoStatus s) { statuses.push_back(s); });
  std::optional<IoResult<std::string>> delivered;
  io.maildir_deliver("alice", "", "kept", [&](IoResult<std::string> r) { delivered = r; });
  io.run_until_idle();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].error->code, IoErrc::io_error);
  EXPECT_EQ(statuses[1].error->code, IoErrc::io_error);
  EXPECT_EQ(delivered->error().code, IoErrc::io_error);
  EXPECT_EQ(io.spool_envelopes(), (std::map<std::string, std::string>{{"kept", "env"}}));
  EXPECT_TRUE(io.maildir("alice").empty());
  // At least the commit's, the one the update and the removal share (group commit: the
  // removal rides on the update's) and the Maildir file's; after each failure the spool
  // tries to cut the records back (roll_back) and to cancel the commit, which fail too.
  const auto failed_syncs = io.fault_counts().at("disk.fsync_fail");
  EXPECT_GE(failed_syncs, 3u);

  // Scripted failures are not counted; after heal() everything succeeds.
  io.heal();
  io.fail_next_fsyncs(1);
  EXPECT_EQ(store(io, "new", "body").error->code, IoErrc::io_error);
  EXPECT_TRUE(store(io, "new", "body").ok());
  io.spool_remove("kept", [&](IoStatus s) { statuses.push_back(s); });
  io.run_until_idle();
  EXPECT_TRUE(statuses.back().ok());
  EXPECT_EQ(io.spool_envelopes(), (std::map<std::string, std::string>{{"new", "env"}}));
  EXPECT_EQ(io.fault_counts(), (Counts{{"disk.fsync_fail", failed_syncs}}));
}

// "disk.full" is drawn per write to a file: a small body is held in memory while it
// arrives (no write), its commit record is the write that fails; a large body fails at the
// append that spills it to a file.
// A commit whose fdatasync failed may still reach the disk; the spool cuts the segment back
// (or writes a remove record) before it reports the failure, so no crash can bring back a
// message whose client was told it was refused, whatever the crash keeps; and an envelope
// update that failed leaves the message at its last durable envelope.
TEST(SimFaultsTest, AFailedCommitNeverComesBackAfterACrash) {
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    SimIo io(seed);
    ASSERT_TRUE(store(io, "kept", "body").ok());
    io.fail_next_fsyncs(1);
    ASSERT_FALSE(store(io, "refused", "body").ok());
    io.fail_next_fsyncs(1);
    std::optional<IoStatus> updated;
    io.spool_update_envelope("kept", "env 2", [&](IoStatus s) { updated = s; });
    io.run_until_idle();
    ASSERT_FALSE(updated->ok());
    EXPECT_EQ(*io.spool_body("kept"), "body");
    io.crash();
    auto list = io.spool_list();
    ASSERT_TRUE(list.has_value());
    ASSERT_EQ(list->size(), 1u) << "seed " << seed;
    EXPECT_EQ(list->at(0).id, "kept");
    EXPECT_EQ(list->at(0).envelope, "env") << "seed " << seed;
    EXPECT_EQ(*io.spool_read_body("kept"), "body");
  }
}

TEST(SimFaultsTest, DiskFullOnAppendAndCommit) {
  SimIo io(37);
  SimFaults f;
  f.disk_full_per_million = kAlways;
  io.set_faults(f);
  auto large = io.spool_create("big");
  ASSERT_TRUE(large.has_value());
  EXPECT_EQ(io.spool_append(*large, as_span(std::string(64 * 1024, 'b'))).error->code,
            IoErrc::no_space);
  io.spool_discard(*large);
  auto writer = io.spool_create("m1");
  ASSERT_TRUE(writer.has_value());
  EXPECT_TRUE(io.spool_append(*writer, as_span(std::string("abc"))).ok());
  std::optional<IoStatus> committed;
  io.spool_commit(*writer, "env", [&](IoStatus s) { committed = s; });
  io.run_until_idle();
  EXPECT_EQ(committed->error->code, IoErrc::no_space);
  EXPECT_EQ(io.now().ns, kStart);  // refused at once, no fsync
  EXPECT_EQ(io.spool_append(*writer, as_span(std::string("x"))).error->code, IoErrc::invalid);
  EXPECT_TRUE(io.spool_envelopes().empty());
  // The spill, then the commit's zeros ahead of its record (harmless) and its record.
  EXPECT_EQ(io.fault_counts(), (Counts{{"disk.full", 3}}));
  f.disk_full_per_million = 0;
  io.set_faults(f);
  EXPECT_TRUE(store(io, "m1", "abc").ok());  // the id is free again
  EXPECT_EQ(*io.spool_body("m1"), "abc");
  EXPECT_EQ(io.fault_counts(), (Counts{{"disk.full", 3}}));
}

TEST(SimFaultsTest, TornWriteAtCrashLeavesAPartialFileInTmpNeverInNew) {
  for (const std::uint32_t rate : {kAlways, 0u}) {
    SimIo io(41);
    const std::string body = "Subject: torn\r\n\r\n" + std::string(100, 'b');
    ASSERT_TRUE(store(io, "m1", body).ok());
    SimFaults f;
    f.torn_write_per_million = rate;
    io.set_faults(f);
    int callbacks = 0;
    io.maildir_deliver("alice", "Delivered-To: alice\r\n", "m1",
                       [&](IoResult<std::string>) { ++callbacks; });
    io.maildir_deliver("bob", "", "m1", [&](IoResult<std::string>) { ++callbacks; });
    io.run_for(Duration::milliseconds(1));  // both in flight (fsync takes 2 ms)
    io.crash();
    io.run_until_idle();
    EXPECT_EQ(callbacks, 0);
    EXPECT_TRUE(io.maildir("alice").empty());
    EXPECT_TRUE(io.maildir("bob").empty());
    const auto tmp = io.maildir_tmp("alice");
    if (rate == 0) {
      EXPECT_TRUE(tmp.empty());
      EXPECT_TRUE(io.maildir_tmp("bob").empty());
      EXPECT_TRUE(io.fault_counts().empty());
      continue;
    }
    ASSERT_EQ(tmp.size(), 1u);
    EXPECT_EQ(tmp.begin()->first, "1767225601.T1.sim");
    const std::string whole = "Delivered-To: alice\r\n" + body;
    EXPECT_LT(tmp.begin()->second.size(), whole.size());
    EXPECT_EQ(tmp.begin()->second, whole.substr(0, tmp.begin()->second.size()));
    ASSERT_EQ(io.maildir_tmp("bob").size(), 1u);
    EXPECT_EQ(io.maildir_tmp("bob").begin()->first, "1767225601.T2.sim");
    EXPECT_EQ(io.fault_counts(), (Counts{{"crash.torn_write", 2}}));
    // A finished delivery is never torn by a later crash.
    std::optional<IoResult<std::string>> done;
    io.maildir_deliver("carol", "", "m1", [&](IoResult<std::string> r) { done = r; });
    io.run_until_idle();
    io.crash();
    EXPECT_EQ(io.maildir("carol").size(), 1u);
    EXPECT_TRUE(io.maildir_tmp("carol").empty());
    EXPECT_EQ(io.fault_counts(), (Counts{{"crash.torn_write", 2}}));
  }
}

// ---- Clocks.

TEST(SimFaultsTest, WallDriftAfterOneVirtualHour) {
  for (const std::int32_t ppm : {1000, -1000, 0}) {
    SimIo drifted(1);
    SimIo plain(1);
    SimFaults f;
    f.wall_drift_ppm = ppm;
    drifted.set_faults(f);
    drifted.run_for(Duration::minutes(60));
    plain.run_for(Duration::minutes(60));
    EXPECT_EQ(plain.wall_unix_seconds(), 1767225601 + 3600);
    // 3600 s × 1000 ppm = 3.6 s: the wall clock reads 3604.6 s or 3597.4 s after the epoch.
    const std::int64_t want = ppm > 0 ? 3 : ppm < 0 ? -4 : 0;
    EXPECT_EQ(drifted.wall_unix_seconds() - plain.wall_unix_seconds(), want) << ppm;
    EXPECT_EQ(drifted.now().ns, plain.now().ns);  // the monotonic clock never drifts
    // heal() stops the drift and keeps the offset reached: no jump back.
    drifted.heal();
    drifted.run_for(Duration::minutes(60));
    plain.run_for(Duration::minutes(60));
    EXPECT_EQ(drifted.wall_unix_seconds() - plain.wall_unix_seconds(), want) << ppm;
  }
}

TEST(SimFaultsTest, WallDriftIsClampedAtMinusOneMillionPpm) {
  SimIo io(1);
  SimFaults f;
  f.wall_drift_ppm = -2'000'000;  // beyond -100%: the clock stops, it never runs backwards
  io.set_faults(f);
  io.run_for(Duration::minutes(10));
  EXPECT_EQ(io.wall_unix_seconds(), 1767225601);
}

// ---- heal().

TEST(SimFaultsTest, HealStopsEveryFault) {
  World w(43);
  SimFaults all;
  all.latency_jitter_us = 900;
  all.random_chunking = true;
  all.reset_per_million = kAlways;
  all.half_close_per_million = kAlways;
  all.stall_per_million = kAlways;
  all.connect_refused_per_million = kAlways;
  all.fsync_fail_per_million = kAlways;
  all.disk_full_per_million = kAlways;
  all.torn_write_per_million = kAlways;
  all.dns_fail_per_million = kAlways;
  all.wall_drift_ppm = 5000;
  w.io.set_faults(all);
  w.io.heal();
  const PeerId peer = w.connect();
  Reader reader(w.io, w.conn);
  reader.read_all();
  w.io.peer_send(peer, "EHLO x\r\n");
  w.io.run_until_idle();
  w.write("250 ok\r\n");
  w.io.run_until_idle();
  EXPECT_EQ(reader.seen, (std::vector<std::string>{"EHLO x\r\n"}));
  EXPECT_EQ(w.io.peer_take(peer), "250 ok\r\n");
  EXPECT_EQ(w.statuses, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(w.io.now().ns, kStart + 2 * kMs);  // exact latencies: no jitter
  EXPECT_TRUE(store(w.io, "m1", "body").ok());
  std::optional<IoResult<std::string>> delivered;
  w.io.maildir_deliver("alice", "", "m1", [&](IoResult<std::string> r) { delivered = r; });
  std::optional<IoResult<DnsAnswer>> answer;
  w.io.dns_query("x.example", runtime::DnsType::a, Duration::seconds(1),
                 [&](IoResult<DnsAnswer> a) { answer = std::move(a); });
  w.io.run_until_idle();
  EXPECT_TRUE(delivered->has_value());
  EXPECT_TRUE((*answer)->nxdomain);
  EXPECT_EQ(w.io.wall_unix_seconds(), 1767225601);
  EXPECT_TRUE(w.io.fault_counts().empty());
}

}  // namespace
}  // namespace tern::adapters::sim
