// Tests of the simulated Io: the engine's tests trust it, so each behaviour the contract in
// adapters/sim/sim_io.hpp promises is pinned here with exact values and instants.
#include "adapters/sim/sim_io.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tern::adapters::sim {
namespace {

using runtime::ConnectionFacts;
using runtime::ConnId;
using runtime::Duration;
using runtime::Endpoint;
using runtime::Instant;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;
using runtime::TlsFacts;

const Endpoint kServer{"192.0.2.1", 25};
const Endpoint kClient{"198.51.100.7", 40000};
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kStart = 1'000 * kMs;  // now() at construction: 1 s

std::span<const char> as_span(const std::string& s) {
  return {s.data(), s.size()};
}

// A minimal engine: accepts connections, records everything it reads, echoes it back and
// closes at eof. It talks to the world only through runtime::Io, as the real engine does.
struct EchoEngine {
  explicit EchoEngine(runtime::Io& io) : io(io) {
    auto listener = io.listen(kServer, [this](ConnId conn, ConnectionFacts facts) {
      accepted.push_back(conn);
      facts_seen.push_back(facts);
      read_next(conn);
    });
    EXPECT_TRUE(listener.has_value());
  }
  void read_next(ConnId conn) {
    io.read(conn, [this, conn](IoResult<std::span<const char>> got) {
      if (!got) {
        log.push_back("err:" + std::to_string(static_cast<int>(got.error().code)));
        io.close(conn);
        return;
      }
      auto data = std::make_shared<std::string>(got->data(), got->size());
      log.push_back("read:" + *data);
      io.write(conn, as_span(*data), [this, conn, data](IoStatus status) {
        log.push_back(status.ok() ? "wrote" : "write failed");
        read_next(conn);
      });
    });
  }
  runtime::Io& io;
  std::vector<ConnId> accepted;
  std::vector<ConnectionFacts> facts_seen;
  std::vector<std::string> log;
};

// ---- Prng.

TEST(PrngTest, SeedOneFirstValuesArePinned) {
  Prng prng(1);
  EXPECT_EQ(prng.next(), 0xb3f2af6d0fc710c5ULL);
  EXPECT_EQ(prng.next(), 0x853b559647364ceaULL);
  EXPECT_EQ(prng.next(), 0x92f89756082a4514ULL);
  EXPECT_EQ(prng.next(), 0x642e1c7bc266a3a7ULL);
}

TEST(PrngTest, ChildStreamsArePinnedAndDoNotAdvanceTheParent) {
  Prng parent(1);
  Prng engine = parent.child("engine");
  EXPECT_EQ(engine.next(), 0x8c95f75afa4feca4ULL);
  EXPECT_EQ(engine.next(), 0x91831ff1b165dcc8ULL);
  Prng net = parent.child("net");
  EXPECT_EQ(net.next(), 0xccbd9b764dc612a4ULL);
  EXPECT_EQ(parent.next(), 0xb3f2af6d0fc710c5ULL);  // unchanged by child()
}

TEST(PrngTest, BelowIsPinnedAndInRange) {
  Prng prng(1);
  const std::vector<std::uint64_t> want{7, 2, 0, 3, 1, 2, 6, 9};
  for (const auto w : want) EXPECT_EQ(prng.below(10), w);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(prng.below(3), 3u);
  EXPECT_EQ(prng.below(1), 0u);
}

TEST(SimIoTest, RandomU64ComesFromTheEngineStream) {
  SimIo io(1);
  EXPECT_EQ(io.random_u64(), 0x8c95f75afa4feca4ULL);
  EXPECT_EQ(io.random_u64(), 0x91831ff1b165dcc8ULL);
}

// ---- Determinism.

std::vector<std::string> scenario(std::uint64_t seed, std::uint64_t* hash) {
  SimIo io(seed);
  std::vector<std::string> trace;
  for (int i = 0; i < 20; ++i) {
    const auto delay = static_cast<std::int64_t>(io.random_u64() % 50);
    io.start_timer(io.now() + Duration::milliseconds(delay), [&io, &trace, i] {
      trace.push_back(std::to_string(io.now().ns) + " timer " + std::to_string(i));
      if (i % 3 == 0)
        io.post([&io, &trace, i] {
          trace.push_back(std::to_string(io.now().ns) + " post " + std::to_string(i));
        });
    });
  }
  EchoEngine engine(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.peer_on_bytes(peer, [&io, &trace](std::string_view b) {
    trace.push_back(std::to_string(io.now().ns) + " peer " + std::string(b));
  });
  io.peer_send(peer, "hello " + std::to_string(io.random_u64() % 1000));
  io.run_until_idle();
  *hash = io.trace_hash();
  return trace;
}

TEST(SimIoTest, SameSeedGivesTheSameTraceTwice) {
  std::uint64_t h1 = 0;
  std::uint64_t h2 = 0;
  std::uint64_t h3 = 0;
  const auto first = scenario(42, &h1);
  const auto second = scenario(42, &h2);
  EXPECT_EQ(first, second);
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(first.size(), 28u);  // 20 timers, 7 posts, 1 echo
  const auto other = scenario(43, &h3);
  EXPECT_NE(first, other);
  EXPECT_NE(h1, h3);
}

// ---- Time, timers, post.

TEST(SimIoTest, ClockStartsAtOneSecondAndWallClockAtTheFixedEpoch) {
  SimIo io(1);
  EXPECT_EQ(io.now().ns, kStart);
  EXPECT_EQ(io.wall_unix_seconds(), 1767225601);
  io.run_for(Duration::milliseconds(2500));
  EXPECT_EQ(io.now().ns, kStart + 2500 * kMs);
  EXPECT_EQ(io.wall_unix_seconds(), 1767225603);
  EXPECT_FALSE(io.run_one());
}

TEST(SimIoTest, TimersRunInDeadlineThenStartOrderAndCancelledOnesNever) {
  SimIo io(1);
  std::vector<std::string> order;
  const Instant t0 = io.now();
  io.start_timer(t0 + Duration::milliseconds(5), [&] { order.push_back("a5"); });
  io.start_timer(t0 + Duration::milliseconds(3), [&] { order.push_back("b3"); });
  const auto c = io.start_timer(t0 + Duration::milliseconds(3), [&] { order.push_back("c3"); });
  io.start_timer(t0 + Duration::milliseconds(3), [&] { order.push_back("d3"); });
  io.start_timer(t0 + Duration::milliseconds(-1), [&] { order.push_back("past"); });
  io.cancel_timer(c);
  io.cancel_timer(c);  // twice is harmless
  io.run_until_idle();
  EXPECT_EQ(order, (std::vector<std::string>{"past", "b3", "d3", "a5"}));
  EXPECT_EQ(io.now().ns, kStart + 5 * kMs);
  EXPECT_EQ(io.events_run(), 4u);
}

TEST(SimIoTest, PostRunsAfterWorkAlreadyQueuedForNow) {
  SimIo io(1);
  std::vector<std::string> order;
  io.start_timer(io.now(), [&] {
    order.push_back("timer");
    io.post([&] { order.push_back("post from timer"); });
  });
  io.post([&] { order.push_back("post"); });
  io.start_timer(io.now(), [&] { order.push_back("timer2"); });
  io.run_until_idle();
  EXPECT_EQ(order, (std::vector<std::string>{"timer", "post", "timer2", "post from timer"}));
  EXPECT_EQ(io.now().ns, kStart);
}

TEST(SimIoTest, RunForStopsAtTheDeadlineInclusive) {
  SimIo io(1);
  int ran = 0;
  io.start_timer(io.now() + Duration::milliseconds(10), [&] { ++ran; });
  io.start_timer(io.now() + Duration::milliseconds(11), [&] { ++ran; });
  io.run_for(Duration::milliseconds(10));
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(io.now().ns, kStart + 10 * kMs);
  EXPECT_FALSE(io.run_until([&] { return ran == 2; }, Duration::nanoseconds(999'999)));
  EXPECT_EQ(io.now().ns, kStart + 11 * kMs - 1);
  EXPECT_TRUE(io.run_until([&] { return ran == 2; }, Duration::nanoseconds(1)));
  EXPECT_EQ(io.now().ns, kStart + 11 * kMs);
}

// ---- Network.

TEST(SimIoTest, EchoConversationEngineToPeer) {
  SimIo io(7);
  EchoEngine engine(io);
  EXPECT_FALSE(io.connect_peer(Endpoint{"192.0.2.1", 26}, kClient).has_value());
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  ASSERT_EQ(engine.accepted.size(), 1u);
  EXPECT_EQ(engine.facts_seen[0].local, kServer);
  EXPECT_EQ(engine.facts_seen[0].remote, kClient);
  EXPECT_EQ(io.now().ns, kStart);  // accept is posted, not delayed

  io.peer_send(peer, "EHLO x\r\n");
  io.run_for(Duration::nanoseconds(kMs - 1));
  EXPECT_TRUE(engine.log.empty());  // bytes take `latency`
  io.run_for(Duration::nanoseconds(1));
  EXPECT_EQ(engine.log, (std::vector<std::string>{"read:EHLO x\r\n"}));
  EXPECT_EQ(io.peer_take(peer), "");
  io.run_for(Duration::milliseconds(1));  // the echo crosses back
  EXPECT_EQ(io.peer_take(peer), "EHLO x\r\n");
  EXPECT_EQ(io.peer_take(peer), "");
  EXPECT_EQ(engine.log.back(), "wrote");

  io.peer_send(peer, "QUIT\r\n");
  io.peer_close(peer);
  io.run_until_idle();
  EXPECT_EQ(io.peer_take(peer), "QUIT\r\n");
  EXPECT_EQ(engine.log, (std::vector<std::string>{"read:EHLO x\r\n", "wrote", "read:QUIT\r\n",
                                                  "wrote", "err:1"}));
  EXPECT_TRUE(io.peer_closed_by_engine(peer));
}

struct Reader {
  Reader(SimIo& io, ConnId conn) : io(io), conn(conn) {}
  void read_all() {
    io.read(conn, [this](IoResult<std::span<const char>> got) {
      if (!got) {
        seen.push_back(got.error().code == IoErrc::eof ? "<eof>" : "<err>");
        return;
      }
      seen.emplace_back(got->data(), got->size());
      read_all();
    });
  }
  SimIo& io;
  ConnId conn;
  std::vector<std::string> seen;
};

struct Accepted {
  explicit Accepted(SimIo& io) {
    auto listener = io.listen(kServer, [this](ConnId c, ConnectionFacts) { conn = c; });
    EXPECT_TRUE(listener.has_value());
  }
  ConnId conn = 0;
};

std::vector<std::string> read_with_chunk_max(std::size_t chunk_max, const std::string& sent) {
  SimIo io(1, SimOptions{Duration::milliseconds(1), Duration::milliseconds(2), chunk_max});
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  io.peer_send(peer, sent);
  io.peer_close(peer);
  io.run_until_idle();  // everything arrived before the engine asks
  Reader reader(io, accepted.conn);
  reader.read_all();
  io.run_until_idle();
  return reader.seen;
}

TEST(SimIoTest, ReadHandsAtMostReadChunkMaxThenEofAfterTheBytes) {
  EXPECT_EQ(read_with_chunk_max(3, "abc"), (std::vector<std::string>{"abc", "<eof>"}));
  EXPECT_EQ(read_with_chunk_max(3, "abcd"), (std::vector<std::string>{"abc", "d", "<eof>"}));
  EXPECT_EQ(read_with_chunk_max(std::size_t{64} * 1024, "abcd"),
            (std::vector<std::string>{"abcd", "<eof>"}));
  EXPECT_EQ(read_with_chunk_max(1, "ab"), (std::vector<std::string>{"a", "b", "<eof>"}));
}

TEST(SimIoTest, PendingReadGetsBytesInOrderAsTheyArrive) {
  SimIo io(1);
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  Reader reader(io, accepted.conn);
  reader.read_all();
  io.peer_send(peer, "one");
  io.run_for(Duration::milliseconds(1));
  io.peer_send(peer, "two");
  io.peer_close(peer);
  io.run_until_idle();
  EXPECT_EQ(reader.seen, (std::vector<std::string>{"one", "two", "<eof>"}));
}

TEST(SimIoTest, EngineCloseReachesThePeerAndSilencesCallbacks) {
  SimIo io(1);
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  int callbacks = 0;
  io.read(accepted.conn, [&](auto) { ++callbacks; });
  const std::string bye = "221 bye\r\n";
  io.write(accepted.conn, as_span(bye), [&](IoStatus) { ++callbacks; });
  io.close(accepted.conn);
  io.peer_send(peer, "late");
  EXPECT_FALSE(io.peer_closed_by_engine(peer));
  io.run_until_idle();
  EXPECT_EQ(callbacks, 0);
  EXPECT_EQ(io.peer_take(peer), "221 bye\r\n");  // bytes in flight still arrive
  EXPECT_TRUE(io.peer_closed_by_engine(peer));
  EXPECT_EQ(io.now().ns, kStart + kMs);
}

TEST(SimIoTest, PeerOnBytesGetsWhatWasBufferedThenTheRest) {
  SimIo io(1);
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  const std::string a = "first ";
  const std::string b = "second";
  io.write(accepted.conn, as_span(a),
           [&](IoStatus) { io.write(accepted.conn, as_span(b), [](IoStatus) {}); });
  io.run_for(Duration::milliseconds(1));
  std::string got;
  io.peer_on_bytes(peer, [&](std::string_view bytes) { got += bytes; });
  EXPECT_EQ(got, "first ");
  io.run_until_idle();
  EXPECT_EQ(got, "first second");
  EXPECT_EQ(io.peer_take(peer), "");
}

TEST(SimIoTest, ListenTwiceOnOneEndpointIsRefusedAndStopListeningWorks) {
  SimIo io(1);
  auto first = io.listen(kServer, [](ConnId, ConnectionFacts) {});
  ASSERT_TRUE(first.has_value());
  auto second = io.listen(kServer, [](ConnId, ConnectionFacts) {});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, IoErrc::invalid);
  io.stop_listening(*first);
  EXPECT_FALSE(io.connect_peer(kServer, kClient).has_value());
  auto wildcard = io.listen(Endpoint{"0.0.0.0", 25}, [](ConnId, ConnectionFacts) {});
  ASSERT_TRUE(wildcard.has_value());
  EXPECT_TRUE(io.connect_peer(kServer, kClient).has_value());
  EXPECT_FALSE(io.connect_peer(Endpoint{"::1", 25}, kClient).has_value());
}

// ---- TLS.

TEST(SimIoTest, TlsHandshakeCompletesOnlyWhenBothAskAndDropsUnreadPlaintext) {
  SimIo io(1);
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  auto identity = io.load_tls_identity("-----BEGIN CERTIFICATE-----", "-----BEGIN KEY-----");
  ASSERT_TRUE(identity.has_value());

  io.peer_send(peer, "pipelined junk");
  io.run_until_idle();  // arrived, unread
  std::optional<IoResult<TlsFacts>> result;
  io.start_tls_server(accepted.conn, *identity, [&](IoResult<TlsFacts> r) { result = r; });
  io.peer_send(peer, "more plaintext");  // in flight while the engine handshakes
  io.run_until_idle();
  EXPECT_FALSE(result.has_value());  // the peer has not asked
  EXPECT_FALSE(io.peer_tls_active(peer));

  io.peer_start_tls(peer);
  io.peer_send(peer, "secret");
  io.run_for(Duration::nanoseconds(kMs - 1));
  EXPECT_FALSE(result.has_value());
  io.run_for(Duration::nanoseconds(1));
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ((*result)->version, "TLSv1.3");
  EXPECT_EQ((*result)->cipher, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ((*result)->cipher_bits, 256);
  EXPECT_FALSE((*result)->peer_verified);
  EXPECT_TRUE(io.peer_tls_active(peer));

  Reader reader(io, accepted.conn);
  reader.read_all();
  io.peer_close(peer);
  io.run_until_idle();
  EXPECT_EQ(reader.seen, (std::vector<std::string>{"secret", "<eof>"}));
}

TEST(SimIoTest, TlsDataSentByThePeerBeforeTheEngineAsksIsKept) {
  SimIo io(1);
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  auto identity = io.load_tls_identity("c", "k");
  io.peer_send(peer, "plain");
  io.peer_start_tls(peer);
  io.peer_send(peer, "EHLO secure");
  io.run_until_idle();
  bool ok = false;
  io.start_tls_server(accepted.conn, *identity, [&](IoResult<TlsFacts> r) { ok = r.has_value(); });
  io.run_until_idle();
  EXPECT_TRUE(ok);
  Reader reader(io, accepted.conn);
  reader.read_all();
  io.run_until_idle();
  EXPECT_EQ(reader.seen, (std::vector<std::string>{"EHLO secure"}));
}

TEST(SimIoTest, TlsIdentityNeedsNonEmptyPemAndFailuresAreReported) {
  SimIo io(1);
  auto empty_cert = io.load_tls_identity("", "key");
  ASSERT_FALSE(empty_cert.has_value());
  EXPECT_EQ(empty_cert.error().code, IoErrc::invalid);
  EXPECT_FALSE(io.load_tls_identity("cert", "").has_value());

  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  auto identity = io.load_tls_identity("c", "k");
  std::optional<IoErrc> code;
  io.peer_fail_tls(peer);
  io.peer_start_tls(peer);
  io.start_tls_server(accepted.conn, *identity, [&](IoResult<TlsFacts> r) {
    if (!r) code = r.error().code;
  });
  io.run_until_idle();
  EXPECT_EQ(code, IoErrc::tls_failed);
  EXPECT_FALSE(io.peer_tls_active(peer));
}

TEST(SimIoTest, TlsHandshakeFailsWhenThePeerClosesInstead) {
  SimIo io(1);
  Accepted accepted(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_until_idle();
  std::optional<IoErrc> code;
  io.start_tls_server(accepted.conn, *io.load_tls_identity("c", "k"), [&](IoResult<TlsFacts> r) {
    if (!r) code = r.error().code;
  });
  io.peer_close(peer);
  io.run_until_idle();
  EXPECT_EQ(code, IoErrc::tls_failed);
}

// ---- Outbound connections.

TEST(SimIoTest, ConnectToUnservedEndpointIsRefusedAfterLatency) {
  SimIo io(1);
  std::optional<IoErrc> code;
  Instant when{};
  ConnectionFacts facts;
  io.connect(kServer, Duration::seconds(30), [&](IoResult<ConnId> r, ConnectionFacts f) {
    if (!r) code = r.error().code;
    when = io.now();
    facts = f;
  });
  io.run_until_idle();
  EXPECT_EQ(code, IoErrc::refused);
  EXPECT_EQ(when.ns, kStart + kMs);
  EXPECT_EQ(facts.remote, kServer);
}

TEST(SimIoTest, ConnectToServedEndpointTalksToThePeer) {
  SimIo io(1);
  std::vector<PeerId> peers;
  io.serve(kServer, [&](PeerId p) {
    peers.push_back(p);
    io.peer_send(p, "220 hi\r\n");
  });
  std::optional<ConnId> conn;
  ConnectionFacts facts;
  io.connect(kServer, Duration::seconds(30), [&](IoResult<ConnId> r, ConnectionFacts f) {
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(peers.size(), 1u);  // the test's side learns of the peer first
    conn = *r;
    facts = f;
  });
  io.run_until_idle();
  ASSERT_TRUE(conn.has_value());
  EXPECT_EQ(facts.remote, kServer);
  EXPECT_EQ(facts.local, (Endpoint{"192.0.2.10", 49152}));
  Reader reader(io, *conn);
  reader.read_all();
  io.run_until_idle();
  EXPECT_EQ(reader.seen, (std::vector<std::string>{"220 hi\r\n"}));

  std::optional<TlsFacts> tls;
  io.peer_start_tls(peers[0]);
  io.start_tls_client(*conn, runtime::TlsClientOptions{"mx.example", true},
                      [&](IoResult<TlsFacts> r) { tls = *r; });
  io.run_until_idle();
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->peer_verified);

  io.stop_serving(kServer);
  std::optional<IoErrc> code;
  io.connect(kServer, Duration::seconds(30), [&](IoResult<ConnId> r, ConnectionFacts) {
    if (!r) code = r.error().code;
  });
  io.run_until_idle();
  EXPECT_EQ(code, IoErrc::refused);
}

TEST(SimIoTest, ConnectTimesOutOnABlackholeOrATimeoutBelowLatency) {
  SimIo io(1);
  io.blackhole(kServer);
  std::vector<std::pair<IoErrc, std::int64_t>> seen;
  auto record = [&](IoResult<ConnId> r, ConnectionFacts) {
    seen.emplace_back(r ? IoErrc{} : r.error().code, io.now().ns - kStart);
  };
  io.connect(kServer, Duration::seconds(5), record);
  io.connect(Endpoint{"192.0.2.9", 25}, Duration::nanoseconds(kMs - 1), record);
  io.run_until_idle();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<IoErrc, std::int64_t>{IoErrc::timeout, kMs - 1}));
  EXPECT_EQ(seen[1], (std::pair<IoErrc, std::int64_t>{IoErrc::timeout, 5'000 * kMs}));
}

// ---- Spool.

struct Disk {
  explicit Disk(SimIo& io) : io(io) {}
  // Creates, appends and commits; the status once the commit completed.
  std::optional<IoStatus> store(const std::string& id, const std::string& body,
                                const std::string& envelope) {
    auto writer = io.spool_create(id);
    if (!writer) return IoStatus{writer.error()};
    const IoStatus appended = io.spool_append(*writer, as_span(body));
    if (!appended.ok()) return appended;
    std::optional<IoStatus> done;
    io.spool_commit(*writer, envelope, [&](IoStatus s) { done = s; });
    io.run_until_idle();
    return done;
  }
  SimIo& io;
};

TEST(SimIoTest, SpoolCommitUpdateListRemove) {
  SimIo io(1);
  Disk disk(io);
  auto writer = io.spool_create("B2");
  ASSERT_TRUE(writer.has_value());
  EXPECT_TRUE(io.spool_append(*writer, as_span(std::string("Subject: x\r\n"))).ok());
  EXPECT_TRUE(io.spool_append(*writer, as_span(std::string("\r\nbody\r\n"))).ok());
  std::optional<IoStatus> committed;
  io.spool_commit(*writer, "env-b", [&](IoStatus s) { committed = s; });
  io.run_for(Duration::nanoseconds(2 * kMs - 1));
  EXPECT_FALSE(committed.has_value());
  EXPECT_FALSE(io.spool_read_body("B2").has_value());  // not durable yet
  io.run_for(Duration::nanoseconds(1));
  ASSERT_TRUE(committed.has_value());
  EXPECT_TRUE(committed->ok());
  EXPECT_EQ(*io.spool_read_body("B2"), "Subject: x\r\n\r\nbody\r\n");
  ASSERT_TRUE(disk.store("A1", "a-body", "env-a").value().ok());

  auto listed = io.spool_list();
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "A1");
  EXPECT_EQ((*listed)[0].envelope, "env-a");
  EXPECT_EQ((*listed)[1].id, "B2");

  std::optional<IoStatus> updated;
  io.spool_update_envelope("A1", "env-a2", [&](IoStatus s) { updated = s; });
  EXPECT_EQ(io.spool_envelopes().at("A1"), "env-a");
  io.run_until_idle();
  EXPECT_TRUE(updated->ok());
  EXPECT_EQ(io.spool_envelopes(),
            (std::map<std::string, std::string>{{"A1", "env-a2"}, {"B2", "env-b"}}));

  std::optional<IoStatus> removed;
  io.spool_remove("B2", [&](IoStatus s) { removed = s; });
  io.run_until_idle();
  EXPECT_TRUE(removed->ok());
  EXPECT_FALSE(io.spool_body("B2").has_value());
  EXPECT_EQ(io.spool_read_body("B2").error().code, IoErrc::not_found);
  io.spool_remove("B2", [&](IoStatus s) { removed = s; });
  io.spool_update_envelope("B2", "x", [&](IoStatus s) { updated = s; });
  io.run_until_idle();
  EXPECT_EQ(removed->error->code, IoErrc::not_found);
  EXPECT_EQ(updated->error->code, IoErrc::not_found);
}

TEST(SimIoTest, SpoolIdsAreCheckedAndNeverReused) {
  SimIo io(1);
  Disk disk(io);
  const std::string id64(64, 'a');
  EXPECT_TRUE(io.spool_create(id64).has_value());
  EXPECT_EQ(io.spool_create(id64).error().code, IoErrc::invalid);  // a writer has it open
  EXPECT_EQ(io.spool_create(std::string(65, 'a')).error().code, IoErrc::invalid);
  EXPECT_EQ(io.spool_create("").error().code, IoErrc::invalid);
  EXPECT_EQ(io.spool_create("a-b").error().code, IoErrc::invalid);
  EXPECT_EQ(io.spool_create("a/b").error().code, IoErrc::invalid);
  EXPECT_TRUE(io.spool_create("Zz09").has_value());
  ASSERT_TRUE(disk.store("done", "b", "e").value().ok());
  EXPECT_EQ(io.spool_create("done").error().code, IoErrc::invalid);
}

TEST(SimIoTest, DiscardedWriterLeavesNothing) {
  SimIo io(1);
  auto writer = io.spool_create("gone");
  EXPECT_TRUE(io.spool_append(*writer, as_span(std::string("x"))).ok());
  io.spool_discard(*writer);
  EXPECT_EQ(io.spool_append(*writer, as_span(std::string("x"))).error->code, IoErrc::invalid);
  EXPECT_TRUE(io.spool_create("gone").has_value());
  EXPECT_TRUE(io.spool_envelopes().empty());
}

TEST(SimIoTest, FsyncFailureLeavesNothingAndThenHeals) {
  SimIo io(1);
  Disk disk(io);
  io.fail_next_fsyncs(1);
  const auto failed = disk.store("m1", "body", "env");
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->error->code, IoErrc::io_error);
  EXPECT_TRUE(io.spool_envelopes().empty());
  EXPECT_FALSE(io.spool_read_body("m1").has_value());
  EXPECT_TRUE(disk.store("m1", "body", "env").value().ok());  // the id is free again

  io.fail_next_fsyncs(2);
  std::optional<IoStatus> updated;
  io.spool_update_envelope("m1", "env2", [&](IoStatus s) { updated = s; });
  std::optional<IoResult<std::string>> delivered;
  io.maildir_deliver("alice", "Return-Path: <>\r\n", "m1",
                     [&](IoResult<std::string> r) { delivered = r; });
  io.run_until_idle();
  EXPECT_EQ(updated->error->code, IoErrc::io_error);
  EXPECT_EQ(io.spool_envelopes().at("m1"), "env");
  EXPECT_EQ(delivered->error().code, IoErrc::io_error);
  EXPECT_TRUE(io.maildir("alice").empty());
}

// The capacity bounds the bytes of the spool's files: a commit whose record would grow them
// past it fails with no_space and leaves nothing; exact numbers are SimDisk's own test.
TEST(SimIoTest, DiskFullAtCapacityPlusOne) {
  SimIo io(1);
  Disk disk(io);
  io.set_disk_capacity(100);  // a new segment cannot get its record written
  EXPECT_EQ(disk.store("a", std::string(200, 'x'), "env").value().error->code, IoErrc::no_space);
  EXPECT_TRUE(io.spool_envelopes().empty());
  io.set_disk_capacity(1 << 20);
  ASSERT_TRUE(disk.store("a", "12345", "env").value().ok());
  EXPECT_EQ(io.spool_envelopes().size(), 1u);
}

// ---- Crash.

TEST(SimIoTest, CrashLosesVolatileStateAndKeepsDurableState) {
  SimIo io(1);
  Disk disk(io);
  ASSERT_TRUE(disk.store("kept", "kept body", "kept env").value().ok());
  auto open_writer = io.spool_create("open");
  EXPECT_TRUE(io.spool_append(*open_writer, as_span(std::string("partial"))).ok());
  auto inflight = io.spool_create("inflight");
  EXPECT_TRUE(io.spool_append(*inflight, as_span(std::string("almost"))).ok());
  int callbacks = 0;
  io.spool_commit(*inflight, "env", [&](IoStatus) { ++callbacks; });
  io.spool_update_envelope("kept", "new env", [&](IoStatus) { ++callbacks; });

  auto engine = std::make_unique<EchoEngine>(io);
  const PeerId peer = *io.connect_peer(kServer, kClient);
  io.run_for(Duration::milliseconds(1));  // accepted; the commit is still in flight
  ASSERT_EQ(engine->accepted.size(), 1u);
  io.start_timer(io.now() + Duration::seconds(1), [&] { ++callbacks; });
  io.post([&] { ++callbacks; });
  io.peer_send(peer, "lost");

  io.crash();
  engine.reset();
  EXPECT_TRUE(io.peer_closed_by_engine(peer));
  io.run_until_idle();
  EXPECT_EQ(callbacks, 0);
  EXPECT_EQ(io.spool_envelopes(), (std::map<std::string, std::string>{{"kept", "kept env"}}));
  EXPECT_EQ(*io.spool_body("kept"), "kept body");
  EXPECT_FALSE(io.connect_peer(kServer, kClient).has_value());  // listeners are gone

  // The engine is rebuilt on the same world; the ids of lost writes are free again.
  EchoEngine rebuilt(io);
  auto listed = io.spool_list();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "kept");
  EXPECT_TRUE(disk.store("inflight", "again", "env").value().ok());
  EXPECT_TRUE(io.spool_create("open").has_value());
  const PeerId again = *io.connect_peer(kServer, kClient);
  io.peer_send(again, "hi");
  io.run_until_idle();
  EXPECT_EQ(io.peer_take(again), "hi");
}

// ---- Maildir.

TEST(SimIoTest, MaildirDeliveryWritesPrefixThenBody) {
  SimIo io(1);
  Disk disk(io);
  ASSERT_TRUE(disk.store("m1", "Subject: hi\r\n\r\nbody\r\n", "env").value().ok());
  std::optional<IoResult<std::string>> delivered;
  io.maildir_deliver("alice", "Delivered-To: alice\r\n", "m1",
                     [&](IoResult<std::string> r) { delivered = r; });
  io.run_for(Duration::nanoseconds(2 * kMs - 1));
  EXPECT_FALSE(delivered.has_value());
  EXPECT_TRUE(io.maildir("alice").empty());
  io.run_for(Duration::nanoseconds(1));
  ASSERT_TRUE(delivered.has_value());
  ASSERT_TRUE(delivered->has_value());
  EXPECT_EQ(**delivered, "1767225601.S1.sim");
  EXPECT_EQ(io.maildir("alice"),
            (std::map<std::string, std::string>{
                {"1767225601.S1.sim", "Delivered-To: alice\r\nSubject: hi\r\n\r\nbody\r\n"}}));
  io.maildir_deliver("alice", "", "m1", [&](IoResult<std::string> r) { delivered = r; });
  io.run_until_idle();
  EXPECT_EQ(**delivered, "1767225601.S2.sim");
  EXPECT_EQ(io.maildir("alice").size(), 2u);
  EXPECT_TRUE(io.maildir("bob").empty());

  io.maildir_deliver("alice", "x", "nosuch", [&](IoResult<std::string> r) { delivered = r; });
  io.run_until_idle();
  EXPECT_EQ(delivered->error().code, IoErrc::not_found);
}

}  // namespace
}  // namespace tern::adapters::sim
