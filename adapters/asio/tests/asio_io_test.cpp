// Tests of the production Io on 127.0.0.1 and ::1 and in mkdtemp folders under /tmp.
#include "adapters/asio/asio_io.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runtime/spool/spool_log.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define TERN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TERN_ASAN 1
#endif
#endif

namespace {

using namespace std::chrono_literals;
using namespace std::string_view_literals;
using tern::adapters::asio::AsioIo;
using tern::adapters::asio::AsioIoOptions;
using tern::adapters::asio::generate_self_signed;
using tern::runtime::ConnectionFacts;
using tern::runtime::ConnId;
using tern::runtime::Duration;
using tern::runtime::Endpoint;
using tern::runtime::IoErrc;
using tern::runtime::IoResult;
using tern::runtime::IoStatus;
using tern::runtime::TlsFacts;
namespace fs = std::filesystem;

std::string file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void put_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class AsioIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tern-asio-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    io_ = std::make_unique<AsioIo>(context_, AsioIoOptions{root_ + "/spool", root_ + "/mail"});
  }
  void TearDown() override {
    io_.reset();
    fs::remove_all(root_);
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      if (context_.stopped()) context_.restart();
      context_.run_one_for(10ms);
    }
    return done();
  }
  void run_for(std::chrono::milliseconds span) {
    run_until([] { return false; }, span);
  }

  struct Pair {
    ConnId server = 0;
    ConnId client = 0;
    ConnectionFacts server_facts;
    ConnectionFacts client_facts;
    Endpoint listening;
  };
  Pair connect_pair(const std::string& ip) {
    auto pair = std::make_shared<Pair>();
    auto listener = io_->listen(Endpoint{ip, 0}, [pair](ConnId id, ConnectionFacts facts) {
      pair->server = id;
      pair->server_facts = facts;
    });
    EXPECT_TRUE(listener.has_value());
    if (!listener) return {};
    pair->listening = *io_->listener_endpoint(*listener);
    io_->connect(pair->listening, Duration::seconds(2),
                 [pair](IoResult<ConnId> result, ConnectionFacts facts) {
                   ASSERT_TRUE(result.has_value()) << result.error().detail;
                   pair->client = *result;
                   pair->client_facts = facts;
                 });
    EXPECT_TRUE(run_until([&] { return pair->server != 0 && pair->client != 0; }));
    io_->stop_listening(*listener);
    return *pair;
  }

  // Reads until `bytes` arrived or the stream failed; the error code or 0.
  std::pair<std::string, int> read_exact(ConnId conn, std::size_t bytes) {
    auto state = std::make_shared<std::pair<std::string, int>>();
    auto next = std::make_shared<std::function<void()>>();
    *next = [this, conn, bytes, state, weak = std::weak_ptr<std::function<void()>>(next)] {
      io_->read(conn, [state, bytes, weak](IoResult<std::span<const char>> r) {
        if (!r) {
          state->second = static_cast<int>(r.error().code);
          return;
        }
        state->first.append(r->data(), r->size());
        if (state->first.size() < bytes) {
          if (auto again = weak.lock()) (*again)();
        }
      });
    };
    (*next)();
    run_until([&] { return state->second != 0 || state->first.size() >= bytes; }, 10s);
    return *state;
  }

  IoStatus write_all(ConnId conn, const std::string& bytes) {
    std::optional<IoStatus> status;
    io_->write(conn, bytes, [&](IoStatus s) { status = s; });
    EXPECT_FALSE(status.has_value());  // never inside the call
    run_until([&] { return status.has_value(); }, 10s);
    return status.value_or(IoStatus::failure(IoErrc::io_error, "test: no callback"));
  }

  // Both sides of `pair` start TLS; returns {server facts, client facts}.
  std::pair<IoResult<TlsFacts>, IoResult<TlsFacts>> handshake(const Pair& pair, bool verify,
                                                              const std::string& name) {
    auto self = generate_self_signed(name);
    EXPECT_TRUE(self.has_value());
    auto identity = io_->load_tls_identity(self->certificate_pem, self->private_key_pem);
    EXPECT_TRUE(identity.has_value());
    std::optional<IoResult<TlsFacts>> server;
    std::optional<IoResult<TlsFacts>> client;
    io_->start_tls_server(pair.server, *identity, [&](IoResult<TlsFacts> r) { server = r; });
    io_->start_tls_client(pair.client, {name, verify}, [&](IoResult<TlsFacts> r) { client = r; });
    EXPECT_FALSE(server.has_value());
    EXPECT_FALSE(client.has_value());
    EXPECT_TRUE(run_until([&] { return server.has_value() && client.has_value(); }));
    return {*server, *client};
  }

  IoStatus run_status(const std::function<void(AsioIo::StatusHandler)>& start) {
    std::optional<IoStatus> status;
    start([&](IoStatus s) { status = s; });
    EXPECT_FALSE(status.has_value());
    run_until([&] { return status.has_value(); });
    return status.value_or(IoStatus::failure(IoErrc::io_error, "test: no callback"));
  }

  // A new AsioIo on the same folders, as after a restart.
  void reopen(const AsioIoOptions& options = {}) {
    io_.reset();
    AsioIoOptions fresh = options;
    if (fresh.spool_dir.empty()) fresh = AsioIoOptions{root_ + "/spool", root_ + "/mail"};
    io_ = std::make_unique<AsioIo>(context_, fresh);
  }

  std::vector<std::string> segment_names() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(root_ + "/spool/log")) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  IoStatus commit(const std::string& id, const std::string& body, const std::string& envelope) {
    auto writer = io_->spool_create(id);
    EXPECT_TRUE(writer.has_value());
    EXPECT_TRUE(io_->spool_append(*writer, body).ok());
    return run_status([&](auto done) { io_->spool_commit(*writer, envelope, done); });
  }

  // Where the valid records of a segment file end (the zeros after them are not records).
  static std::uint64_t records_end(const fs::path& segment) {
    return tern::runtime::spool_log::scan_segment(file_text(segment)).valid_bytes;
  }

  boost::asio::io_context context_;
  std::string root_;
  std::unique_ptr<AsioIo> io_;
};

// ---- Time, timers, post, randomness.

TEST_F(AsioIoTest, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  std::vector<int> fired;
  const auto t0 = io_->now();
  io_->start_timer(t0 + Duration::milliseconds(60), [&] { fired.push_back(3); });
  io_->start_timer(t0 + Duration::milliseconds(20), [&] { fired.push_back(1); });
  const auto cancelled =
      io_->start_timer(t0 + Duration::milliseconds(40), [&] { fired.push_back(2); });
  io_->start_timer(t0 + Duration::seconds(-1), [&] { fired.push_back(0); });  // already due
  EXPECT_TRUE(fired.empty());  // not inside start_timer
  io_->cancel_timer(cancelled);
  ASSERT_TRUE(run_until([&] { return fired.size() == 3; }));
  run_for(80ms);
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 3}));
  EXPECT_GE((io_->now() - t0).ns, Duration::milliseconds(60).ns);
}

TEST_F(AsioIoTest, PostRunsLaterInOrder) {
  std::vector<int> ran;
  io_->post([&] { ran.push_back(1); });
  io_->post([&] { ran.push_back(2); });
  EXPECT_TRUE(ran.empty());
  run_until([&] { return ran.size() == 2; });
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}

TEST_F(AsioIoTest, ClocksAndRandomness) {
  const auto wall = io_->wall_unix_seconds();
  EXPECT_GT(wall, 1'700'000'000);  // after November 2023
  EXPECT_LT(wall, 4'000'000'000);
  const auto a = io_->now();
  EXPECT_LE(a.ns, io_->now().ns);
  EXPECT_NE(io_->random_u64(), io_->random_u64());
}

// ---- Plain TCP.

class AsioIoNetTest : public AsioIoTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(AsioIoNetTest, ListenConnectEcho) {
  const Pair pair = connect_pair(GetParam());
  ASSERT_NE(pair.server, 0u);
  EXPECT_EQ(pair.client_facts.remote, pair.listening);
  EXPECT_EQ(pair.server_facts.local, pair.listening);
  EXPECT_EQ(pair.server_facts.remote, pair.client_facts.local);
  EXPECT_EQ(pair.server_facts.remote.ip, GetParam());
  EXPECT_EQ(io_->connection_count(), 2u);

  ASSERT_TRUE(write_all(pair.client, "EHLO client\r\n").ok());
  auto [got, error] = read_exact(pair.server, 13);
  EXPECT_EQ(got, "EHLO client\r\n");
  ASSERT_TRUE(write_all(pair.server, got).ok());
  EXPECT_EQ(read_exact(pair.client, 13).first, "EHLO client\r\n");
}

TEST_P(AsioIoNetTest, EofAfterData) {
  const Pair pair = connect_pair(GetParam());
  ASSERT_TRUE(write_all(pair.client, "QUIT\r\n").ok());
  io_->close(pair.client);
  auto [got, error] = read_exact(pair.server, 100);
  EXPECT_EQ(got, "QUIT\r\n");
  EXPECT_EQ(error, static_cast<int>(IoErrc::eof));
  io_->close(pair.server);
  EXPECT_EQ(io_->connection_count(), 0u);
}

TEST_P(AsioIoNetTest, LargeWriteSendsEveryByte) {
  const Pair pair = connect_pair(GetParam());
  std::string big(8 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::optional<IoStatus> sent;
  io_->write(pair.client, big, [&](IoStatus s) { sent = s; });
  auto [got, error] = read_exact(pair.server, big.size());
  ASSERT_TRUE(run_until([&] { return sent.has_value(); }));
  EXPECT_TRUE(sent->ok());
  EXPECT_EQ(error, 0);
  EXPECT_TRUE(got == big);
}

INSTANTIATE_TEST_SUITE_P(Loopback, AsioIoNetTest, ::testing::Values("127.0.0.1", "::1"));

TEST_F(AsioIoTest, CloseCancelsReadWriteAndHandshakeCallbacks) {
  const Pair pair = connect_pair("127.0.0.1");
  int callbacks = 0;
  io_->read(pair.server, [&](auto) { ++callbacks; });
  io_->read(pair.client, [&](auto) { ++callbacks; });
  io_->write(pair.client, "data"sv, [&](IoStatus) { ++callbacks; });  // may complete at once
  io_->close(pair.client);
  io_->close(pair.server);
  run_for(100ms);
  EXPECT_EQ(callbacks, 0);

  const Pair tls = connect_pair("127.0.0.1");
  io_->start_tls_client(tls.client, {"x.test", false}, [&](auto) { ++callbacks; });
  run_for(20ms);  // the ClientHello is out, the server never answers
  io_->close(tls.client);
  io_->close(tls.server);
  run_for(100ms);
  EXPECT_EQ(callbacks, 0);
}

TEST_F(AsioIoTest, PeerResetIsReset) {
  const Pair pair = connect_pair("127.0.0.1");
  // Unread data at close makes the kernel send RST instead of FIN.
  ASSERT_TRUE(write_all(pair.server, "unread").ok());
  run_for(20ms);
  io_->close(pair.client);
  auto [got, error] = read_exact(pair.server, 1);
  EXPECT_EQ(error, static_cast<int>(IoErrc::reset));
}

TEST_F(AsioIoTest, ConnectRefusedWhenNobodyListens) {
  auto listener = io_->listen(Endpoint{"127.0.0.1", 0}, [](ConnId, ConnectionFacts) {});
  ASSERT_TRUE(listener.has_value());
  const Endpoint endpoint = *io_->listener_endpoint(*listener);
  io_->stop_listening(*listener);
  std::optional<IoResult<ConnId>> result;
  io_->connect(endpoint, Duration::seconds(2),
               [&](IoResult<ConnId> r, ConnectionFacts) { result = r; });
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  ASSERT_FALSE(result->has_value());
  EXPECT_EQ(result->error().code, IoErrc::refused);
}

TEST_F(AsioIoTest, ConnectBadAddressIsInvalid) {
  std::optional<IoResult<ConnId>> result;
  io_->connect(Endpoint{"not-an-ip", 25}, Duration::seconds(1),
               [&](IoResult<ConnId> r, ConnectionFacts) { result = r; });
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(result->error().code, IoErrc::invalid);
  EXPECT_EQ(io_->listen(Endpoint{"300.1.1.1", 25}, {}).error().code, IoErrc::invalid);
}

// Linux drops a SYN while the listener's accept queue is full, so a connect to a listener
// with backlog 0 that never accepts hangs in SYN_SENT (first retry after 1 s).
TEST_F(AsioIoTest, ConnectTimesOutAgainstFullAcceptQueue) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t length = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  run_for(50ms);
  std::optional<IoResult<ConnId>> result;
  const auto start = std::chrono::steady_clock::now();
  io_->connect(Endpoint{"127.0.0.1", ntohs(addr.sin_port)}, Duration::milliseconds(300),
               [&](IoResult<ConnId> r, ConnectionFacts) { result = r; });
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result->has_value());
  EXPECT_EQ(result->error().code, IoErrc::timeout);
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 900ms);
  for (int fd : fillers) ::close(fd);
  ::close(listener);
}

TEST_F(AsioIoTest, ListenV4AndV6OnSamePort) {
  auto v6 = io_->listen(Endpoint{"::", 0}, [](ConnId, ConnectionFacts) {});
  ASSERT_TRUE(v6.has_value()) << v6.error().detail;
  const auto port = io_->listener_endpoint(*v6)->port;
  auto v4 = io_->listen(Endpoint{"0.0.0.0", port}, [](ConnId, ConnectionFacts) {});
  EXPECT_TRUE(v4.has_value()) << v4.error().detail;
  auto again = io_->listen(Endpoint{"::", port}, [](ConnId, ConnectionFacts) {});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, IoErrc::io_error);
}

// ---- TLS.

TEST_F(AsioIoTest, GenerateSelfSignedHasNameAndTenYears) {
  auto self = generate_self_signed("mx.example.org");
  ASSERT_TRUE(self.has_value());
  BIO* bio =
      BIO_new_mem_buf(self->certificate_pem.data(), static_cast<int>(self->certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "mx.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "other.example.org", 0, 0, nullptr), 0);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
            1);
  EXPECT_GE(days, 3652);
  EXPECT_LE(days, 3654);
  X509_free(cert);
  EXPECT_NE(self->private_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(generate_self_signed("").error().code, IoErrc::invalid);
  EXPECT_EQ(generate_self_signed("a,DNS:evil").error().code, IoErrc::invalid);
  // 253 bytes is the longest DNS name (and longer than a CN may be: the SAN carries it).
  std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                        std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(generate_self_signed(longest).has_value());
  EXPECT_EQ(generate_self_signed(longest + "d").error().code, IoErrc::invalid);
  EXPECT_TRUE(generate_self_signed("192.0.2.7").has_value());
}

TEST_F(AsioIoTest, LoadTlsIdentityRejectsMismatchAndGarbage) {
  auto a = generate_self_signed("a.test");
  auto b = generate_self_signed("b.test");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_TRUE(io_->load_tls_identity(a->certificate_pem, a->private_key_pem).has_value());
  EXPECT_EQ(io_->load_tls_identity(a->certificate_pem, b->private_key_pem).error().code,
            IoErrc::invalid);
  EXPECT_EQ(io_->load_tls_identity("garbage", a->private_key_pem).error().code, IoErrc::invalid);
  EXPECT_EQ(io_->load_tls_identity(a->certificate_pem, "garbage").error().code, IoErrc::invalid);
}

TEST_F(AsioIoTest, StartTlsUpgradeCarriesDataBothWays) {
  const Pair pair = connect_pair("::1");
  ASSERT_TRUE(write_all(pair.client, "STARTTLS\r\n").ok());
  EXPECT_EQ(read_exact(pair.server, 10).first, "STARTTLS\r\n");
  ASSERT_TRUE(write_all(pair.server, "220 go ahead\r\n").ok());
  EXPECT_EQ(read_exact(pair.client, 14).first, "220 go ahead\r\n");

  auto [server, client] = handshake(pair, false, "mail.test");
  ASSERT_TRUE(server.has_value()) << server.error().detail;
  ASSERT_TRUE(client.has_value()) << client.error().detail;
  EXPECT_EQ(client->version, "TLSv1.3");
  EXPECT_EQ(server->version, "TLSv1.3");
  EXPECT_EQ(client->cipher, server->cipher);
  EXPECT_FALSE(client->cipher.empty());
  EXPECT_GE(client->cipher_bits, 128);
  EXPECT_FALSE(client->peer_verified);  // self-signed

  ASSERT_TRUE(write_all(pair.client, "EHLO secure\r\n").ok());
  EXPECT_EQ(read_exact(pair.server, 13).first, "EHLO secure\r\n");
  std::string big(3 << 20, 'x');
  big[12345] = 'y';
  std::optional<IoStatus> sent;
  io_->write(pair.server, big, [&](IoStatus s) { sent = s; });
  auto [got, error] = read_exact(pair.client, big.size());
  ASSERT_TRUE(run_until([&] { return sent.has_value(); }));
  EXPECT_TRUE(sent->ok());
  EXPECT_TRUE(got == big);

  io_->close(pair.client);  // sends close_notify: the server reads eof
  EXPECT_EQ(read_exact(pair.server, 1).second, static_cast<int>(IoErrc::eof));
  io_->close(pair.server);
}

TEST_F(AsioIoTest, VerifyFailsAgainstSelfSigned) {
  const Pair pair = connect_pair("127.0.0.1");
  auto [server, client] = handshake(pair, true, "mail.test");
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code, IoErrc::tls_failed);
  EXPECT_NE(client.error().detail.find("self-signed"), std::string::npos) << client.error().detail;
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().code, IoErrc::tls_failed);
}

TEST_F(AsioIoTest, HandshakeTimesOut) {
  io_ = std::make_unique<AsioIo>(
      context_, AsioIoOptions{root_ + "/spool", root_ + "/mail", Duration::milliseconds(200)});
  const Pair pair = connect_pair("127.0.0.1");
  auto self = generate_self_signed("t.test");
  auto identity = io_->load_tls_identity(self->certificate_pem, self->private_key_pem);
  std::optional<IoResult<TlsFacts>> server;
  io_->start_tls_server(pair.server, *identity, [&](IoResult<TlsFacts> r) { server = r; });
  ASSERT_TRUE(run_until([&] { return server.has_value(); }, 2s));  // the client stays silent
  ASSERT_FALSE(server->has_value());
  EXPECT_EQ(server->error().code, IoErrc::timeout);
}

// ---- Spool.

TEST_F(AsioIoTest, SpoolCommitListReadUpdateRemove) {
  ASSERT_TRUE(io_->spool_list().has_value());  // creates the folders
  ASSERT_TRUE(commit("B2", "body two", "env two").ok());
  auto writer = io_->spool_create("A1");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE(io_->spool_append(*writer, "Subject: x\r\n"sv).ok());
  ASSERT_TRUE(io_->spool_append(*writer, "\r\nhello\r\n"sv).ok());
  ASSERT_TRUE(run_status([&](auto done) { io_->spool_commit(*writer, "env one", done); }).ok());

  const fs::path spool = root_ + "/spool";
  EXPECT_EQ(segment_names(), (std::vector<std::string>{"0000000000000001.log"}));
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  EXPECT_TRUE(fs::is_empty(spool / "body"));  // small bodies are in the log
  EXPECT_EQ(*io_->spool_read_body("A1"), "Subject: x\r\n\r\nhello\r\n");

  reopen();  // what a restart reads back
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "A1");
  EXPECT_EQ((*list)[0].envelope, "env one");
  EXPECT_EQ((*list)[1].id, "B2");
  EXPECT_EQ((*list)[1].envelope, "env two");
  EXPECT_EQ(*io_->spool_read_body("A1"), "Subject: x\r\n\r\nhello\r\n");
  EXPECT_EQ(*io_->spool_read_body("B2"), "body two");

  ASSERT_TRUE(
      run_status([&](auto done) { io_->spool_update_envelope("A1", "env 1b", done); }).ok());
  ASSERT_TRUE(run_status([&](auto done) { io_->spool_remove("B2", done); }).ok());
  reopen();
  list = io_->spool_list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).envelope, "env 1b");

  EXPECT_EQ(io_->spool_read_body("B2").error().code, IoErrc::not_found);
  EXPECT_EQ(run_status([&](auto done) { io_->spool_remove("B2", done); }).error->code,
            IoErrc::not_found);
  EXPECT_EQ(run_status([&](auto done) { io_->spool_update_envelope("B2", "x", done); }).error->code,
            IoErrc::not_found);
  ASSERT_TRUE(run_status([&](auto done) { io_->spool_remove("A1", done); }).ok());
  EXPECT_TRUE(io_->spool_list()->empty());
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  // Every segment but the current one held only dead records and is deleted.
  EXPECT_TRUE(run_until([&] { return segment_names().size() == 1; })) << segment_names().size();
}

// A graceful stop while an envelope update waits for its fdatasync: the record reaches the
// disk, the callback never runs (the engine is gone), and the waiter, which pins a location
// in its own segment, is dropped instead of keeping the segment alive (LeakSanitizer reports
// such a cycle when this binary exits; ternd's black-box restart test saw it).
TEST_F(AsioIoTest, SpoolStopWithAnUpdateWaitingForItsSyncKeepsItAndLeaksNothing) {
  ASSERT_TRUE(io_->spool_list().has_value());
  ASSERT_TRUE(commit("A1", "body", "env one").ok());
  bool called = false;
  io_->spool_update_envelope("A1", "env two", [&](IoStatus) { called = true; });
  reopen();  // the Io goes before its context ran the fdatasync
  EXPECT_FALSE(called);
  const auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).envelope, "env two");
}

TEST_F(AsioIoTest, SpoolIdsAreCheckedAtTheLimit) {
  EXPECT_TRUE(io_->spool_create(std::string(64, 'z')).has_value());
  EXPECT_EQ(io_->spool_create(std::string(65, 'z')).error().code, IoErrc::invalid);
  EXPECT_EQ(io_->spool_create("").error().code, IoErrc::invalid);
  EXPECT_EQ(io_->spool_create("../x").error().code, IoErrc::invalid);
  EXPECT_EQ(io_->spool_read_body("a.b").error().code, IoErrc::invalid);
}

TEST_F(AsioIoTest, SpoolAppendLimitAndDiscard) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail", Duration::seconds(30), 10};
  options.spool_inline_body_max = 4;
  io_ = std::make_unique<AsioIo>(context_, options);
  auto writer = io_->spool_create("L1");
  ASSERT_TRUE(writer.has_value());
  EXPECT_TRUE(io_->spool_append(*writer, "0123"sv).ok());  // held in memory
  EXPECT_FALSE(fs::exists(root_ + "/spool/tmp/L1.body.tmp"));
  EXPECT_TRUE(io_->spool_append(*writer, "456789"sv).ok());  // exactly the limit, spilled
  EXPECT_EQ(file_text(root_ + "/spool/tmp/L1.body.tmp"), "0123456789");
  EXPECT_EQ(io_->spool_append(*writer, "x"sv).error->code, IoErrc::no_space);
  io_->spool_discard(*writer);
  EXPECT_FALSE(fs::exists(root_ + "/spool/tmp/L1.body.tmp"));
  EXPECT_EQ(io_->spool_append(*writer, "x"sv).error->code, IoErrc::invalid);
}

TEST_F(AsioIoTest, SpoolLargeBodiesLiveInBodyFolder) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail"};
  options.spool_inline_body_max = 8;
  io_ = std::make_unique<AsioIo>(context_, options);
  ASSERT_TRUE(commit("Big", "a body longer than eight bytes", "env big").ok());
  ASSERT_TRUE(commit("Small", "tiny", "env small").ok());
  const fs::path spool = root_ + "/spool";
  EXPECT_EQ(file_text(spool / "body/Big"), "a body longer than eight bytes");
  EXPECT_FALSE(fs::exists(spool / "body/Small"));
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  reopen(options);
  auto list = io_->spool_list();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at(0).envelope, "env big");
  EXPECT_EQ(*io_->spool_read_body("Big"), "a body longer than eight bytes");
  std::optional<IoResult<std::string>> delivered;
  io_->maildir_deliver("bob", "P: 1\r\n", "Big", [&](IoResult<std::string> r) { delivered = r; });
  ASSERT_TRUE(run_until([&] { return delivered.has_value(); }));
  ASSERT_TRUE(delivered->has_value()) << delivered->error().detail;
  EXPECT_EQ(file_text(fs::path(root_) / "mail/bob/new" / **delivered),
            "P: 1\r\na body longer than eight bytes");
  ASSERT_TRUE(run_status([&](auto done) { io_->spool_remove("Big", done); }).ok());
  EXPECT_TRUE(run_until([&] { return !fs::exists(spool / "body/Big"); }));
  reopen(options);
  ASSERT_EQ(io_->spool_list()->size(), 1u);
}

TEST_F(AsioIoTest, SpoolListRemovesWhatNoCommitFinished) {
  ASSERT_TRUE(commit("Good", "good body", "good env").ok());
  const fs::path spool = root_ + "/spool";
  put_file(spool / "tmp/Half.body.tmp", "partial");
  put_file(spool / "body/Orphan", "a large body whose commit record never came");
  reopen();
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).id, "Good");
  EXPECT_EQ(list->at(0).envelope, "good env");
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  EXPECT_FALSE(fs::exists(spool / "body/Orphan"));
  EXPECT_EQ(*io_->spool_read_body("Good"), "good body");
}

TEST_F(AsioIoTest, SpoolIgnoresATornTailAndNeverAppendsAfterIt) {
  ASSERT_TRUE(commit("One", "body one", "env one").ok());
  ASSERT_TRUE(commit("Two", "body two", "env two").ok());
  const fs::path segment = fs::path(root_) / "spool/log" / segment_names().at(0);
  const auto end = records_end(segment);
  reopen();
  // A crash mid-write: the second record loses its last byte, and garbage follows.
  {
    std::fstream file(segment, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(end - 1));
    file << std::string(101, '\0') << "TLOG junk";
  }
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).id, "One");
  ASSERT_TRUE(commit("Three", "body three", "env three").ok());  // into a new segment
  EXPECT_EQ(segment_names().size(), 2u);
  reopen();
  list = io_->spool_list();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at(1).id, "Three");
  EXPECT_EQ(*io_->spool_read_body("Three"), "body three");
}

// Small records are written over zeros laid down ahead of them (no file growth, so no inode
// write, in their fdatasync); large ones extend the file; a segment is zeroed no further
// than the rotation size. A restart reads the records and stops at the zeros.
TEST_F(AsioIoTest, SpoolZeroesAheadOfSmallRecordsOnly) {
  constexpr std::uint64_t kZeroAhead = 1024 * 1024;  // log_spool.cpp's kZeroAheadBytes
  const fs::path first = fs::path(root_) / "spool/log/0000000000000001.log";
  ASSERT_TRUE(commit("Small", "small body", "env").ok());
  const auto small_end = records_end(first);
  EXPECT_EQ(fs::file_size(first), small_end + kZeroAhead);
  ASSERT_TRUE(commit("Second", "second body", "env 2").ok());  // over the zeros
  EXPECT_GT(records_end(first), small_end);
  EXPECT_EQ(fs::file_size(first), small_end + kZeroAhead);

  // 64 KiB of record (header, id, envelope, body) is zeroed ahead of; one byte more is not.
  reopen();  // a new segment, 2
  const fs::path second = fs::path(root_) / "spool/log/0000000000000002.log";
  const std::string at_limit(64 * 1024 - 24 - 5 - 1, 'L');
  ASSERT_TRUE(commit("Limit", at_limit, "e").ok());
  EXPECT_EQ(fs::file_size(second), 64u * 1024 + kZeroAhead);
  reopen();  // segment 3
  const fs::path third = fs::path(root_) / "spool/log/0000000000000003.log";
  ASSERT_TRUE(commit("Large", at_limit + "L", "e").ok());
  EXPECT_EQ(fs::file_size(third), 64u * 1024 + 1);
  ASSERT_TRUE(commit("After", "after", "e").ok());  // small again: zeros ahead of it
  EXPECT_EQ(fs::file_size(third), records_end(third) + kZeroAhead);

  reopen();
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 5u);
  EXPECT_EQ(*io_->spool_read_body("Second"), "second body");
  EXPECT_EQ(*io_->spool_read_body("Limit"), at_limit);
  EXPECT_EQ(*io_->spool_read_body("Large"), at_limit + "L");
  EXPECT_EQ(*io_->spool_read_body("After"), "after");
}

TEST_F(AsioIoTest, SpoolZeroesNoFurtherThanTheSegmentSize) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail"};
  options.spool_segment_bytes = 4096;
  io_ = std::make_unique<AsioIo>(context_, options);
  const fs::path first = fs::path(root_) / "spool/log/0000000000000001.log";
  ASSERT_TRUE(commit("One", "one", "e").ok());
  EXPECT_EQ(fs::file_size(first), 4096u);
  // A record that ends past the rotation size is appended (no zeros past it), and the next
  // record goes to a new segment.
  ASSERT_TRUE(commit("Two", std::string(5000, 't'), "e").ok());
  EXPECT_EQ(fs::file_size(first), records_end(first));
  EXPECT_GT(records_end(first), 4096u);
  ASSERT_TRUE(commit("Three", "three", "e").ok());
  EXPECT_EQ(segment_names().size(), 2u);
  reopen(options);
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 3u);
  EXPECT_EQ(*io_->spool_read_body("Two"), std::string(5000, 't'));
}

TEST_F(AsioIoTest, SpoolDeletesDeadSegmentsOldestFirst) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail"};
  options.spool_segment_bytes = 200;  // a few records per segment
  io_ = std::make_unique<AsioIo>(context_, options);
  for (int i = 0; i < 12; ++i)
    ASSERT_TRUE(commit("M" + std::to_string(i), std::string(60, 'b'), "e").ok());
  EXPECT_GE(segment_names().size(), 4u);
  // M0 stays; the rest go. Segments after M0's are dead but wait for it (oldest first),
  // until relocation copies M0 forward (the log holds more segments than its data needs).
  for (int i = 1; i < 12; ++i) {
    ASSERT_TRUE(
        run_status([&](auto done) { io_->spool_remove("M" + std::to_string(i), done); }).ok());
  }
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(commit("N" + std::to_string(i), std::string(60, 'b'), "e").ok());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(
        run_status([&](auto done) { io_->spool_remove("N" + std::to_string(i), done); }).ok());
  }
  // At most the slack of 3 segments beyond what the live data needs, plus the current one;
  // M0's first segment is gone, so M0 was copied forward.
  EXPECT_TRUE(run_until([&] { return segment_names().size() <= 4; })) << segment_names().size();
  EXPECT_NE(segment_names().at(0), "0000000000000001.log");
  EXPECT_EQ(*io_->spool_read_body("M0"), std::string(60, 'b'));
  reopen(options);
  auto list = io_->spool_list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).id, "M0");
  EXPECT_EQ(*io_->spool_read_body("M0"), std::string(60, 'b'));
}

// Found by the simulation once the spool ran under it: a message whose body is in body/
// and whose envelope was updated is known to recovery only through its commit record, so
// that record's segment must stay while the message lives (it was deleted once the
// envelope moved on, and the next start lost the message).
TEST_F(AsioIoTest, SpoolKeepsTheCommitOfALargeMessageWhoseEnvelopeMovedOn) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail"};
  options.spool_segment_bytes = 200;  // a few records per segment
  options.spool_inline_body_max = 8;
  io_ = std::make_unique<AsioIo>(context_, options);
  ASSERT_TRUE(commit("Big", "a body longer than eight bytes", "env 1").ok());
  for (int i = 2; i <= 20; ++i) {  // the newest envelopes are in a later segment
    const std::string envelope = "env " + std::to_string(i);
    ASSERT_TRUE(
        run_status([&](auto done) { io_->spool_update_envelope("Big", envelope, done); }).ok());
  }
  for (int i = 0; i < 8; ++i) {
    const std::string id = "M" + std::to_string(i);
    ASSERT_TRUE(commit(id, std::string(60, 'b'), "e").ok());
    ASSERT_TRUE(run_status([&](auto done) { io_->spool_remove(id, done); }).ok());
  }
  EXPECT_TRUE(run_until([&] { return segment_names().size() <= 4; })) << segment_names().size();
  reopen(options);
  auto list = io_->spool_list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).id, "Big");
  EXPECT_EQ(list->at(0).envelope, "env 20");
  EXPECT_EQ(*io_->spool_read_body("Big"), "a body longer than eight bytes");
}

TEST_F(AsioIoTest, SpoolKeepsAppendingWhenANewSegmentCannotBeCreated) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail"};
  options.spool_segment_bytes = 100;
  io_ = std::make_unique<AsioIo>(context_, options);
  ASSERT_TRUE(io_->spool_list().has_value());
  const fs::path log = fs::path(root_) / "spool/log";
  put_file(log / "0000000000000002.log", "");                    // the next segment's name is taken
  ASSERT_TRUE(commit("F1", std::string(200, 'f'), "env").ok());  // fills segment 1
  ASSERT_TRUE(commit("F2", "second", "env 2").ok());             // 2 cannot be created: 1 takes it
  EXPECT_GT(fs::file_size(log / "0000000000000001.log"), 200u);
  reopen(options);
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(*io_->spool_read_body("F2"), "second");
}

TEST_F(AsioIoTest, SpoolGroupCommitAnswersEveryConcurrentCommit) {
  std::vector<IoStatus> results;
  for (int i = 0; i < 50; ++i) {
    auto writer = io_->spool_create("G" + std::to_string(i));
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE(io_->spool_append(*writer, "body"sv).ok());
    io_->spool_commit(*writer, "env", [&](IoStatus status) { results.push_back(status); });
  }
  EXPECT_TRUE(results.empty());  // never inside the call
  ASSERT_TRUE(run_until([&] { return results.size() == 50; }));
  for (const auto& status : results) EXPECT_TRUE(status.ok());
  reopen();
  EXPECT_EQ(io_->spool_list()->size(), 50u);
}

// A lone commit on an idle, fast disk is fdatasynced on the engine thread; a burst of
// commits has its later fdatasyncs on the pool (they follow each other at once and answer
// several commits each); with a zero limit every fdatasync is on the pool. Every commit is
// answered and durable.
TEST_F(AsioIoTest, SpoolSyncsOnTheEngineOnlyWhenTheDiskIsIdleAndFast) {
  AsioIoOptions options{root_ + "/spool", root_ + "/mail"};
  options.spool_inline_sync_max = std::chrono::hours(1);  // any disk is fast enough
  io_ = std::make_unique<AsioIo>(context_, options);
  ASSERT_TRUE(commit("Alone", "alone", "e").ok());
  EXPECT_EQ(io_->spool_sync_counts().on_engine, 1u);
  EXPECT_EQ(io_->spool_sync_counts().on_pool, 0u);

  std::vector<IoStatus> results;
  for (int i = 0; i < 20; ++i) {
    auto writer = io_->spool_create("Burst" + std::to_string(i));
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE(io_->spool_append(*writer, "b").ok());
    io_->spool_commit(*writer, "e", [&](IoStatus s) { results.push_back(s); });
  }
  ASSERT_TRUE(run_until([&] { return results.size() == 20; }));
  for (const auto& r : results) EXPECT_TRUE(r.ok());
  EXPECT_GE(io_->spool_sync_counts().on_pool, 1u);

  // Idle again; after an fdatasync that answered several commits the next one still goes
  // to the pool, so a lone commit runs on the engine once the last one answered only it.
  run_for(200ms);
  ASSERT_TRUE(commit("Later", "later", "e").ok());
  run_for(200ms);
  const auto before = io_->spool_sync_counts();
  ASSERT_TRUE(commit("Later2", "later 2", "e").ok());
  EXPECT_EQ(io_->spool_sync_counts().on_engine, before.on_engine + 1);
  EXPECT_EQ(io_->spool_sync_counts().on_pool, before.on_pool);

  options.spool_inline_sync_max = std::chrono::microseconds(0);
  reopen(options);
  ASSERT_TRUE(commit("Pooled", "pooled", "e").ok());
  run_for(200ms);
  ASSERT_TRUE(commit("Pooled2", "pooled 2", "e").ok());
  EXPECT_EQ(io_->spool_sync_counts().on_engine, 0u);
  EXPECT_EQ(io_->spool_sync_counts().on_pool, 2u);
  reopen(options);
  auto list = io_->spool_list();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 25u);
}

TEST_F(AsioIoTest, SpoolRemovalsCompleteAloneAndInBatches) {
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(commit("R" + std::to_string(i), "body", "env").ok());
  // One removal with nothing else written: the lazy fdatasync's timer completes it.
  ASSERT_TRUE(run_status([&](auto done) { io_->spool_remove("R0", done); }).ok());
  // Eight at once: batches of lazy records start their own fdatasync.
  std::vector<IoStatus> results;
  for (int i = 1; i < 9; ++i) {
    io_->spool_remove("R" + std::to_string(i), [&](IoStatus status) { results.push_back(status); });
  }
  ASSERT_TRUE(run_until([&] { return results.size() == 8; }));
  for (const auto& status : results) EXPECT_TRUE(status.ok());
  reopen();
  EXPECT_TRUE(io_->spool_list()->empty());
}

TEST_F(AsioIoTest, SpoolFailsWithoutWritableFolder) {
  put_file(root_ + "/blocker", "a file where the spool folder should be");
  io_ = std::make_unique<AsioIo>(context_, AsioIoOptions{root_ + "/blocker", root_ + "/mail"});
  EXPECT_EQ(io_->spool_list().error().code, IoErrc::io_error);
  EXPECT_EQ(io_->spool_create("X").error().code, IoErrc::io_error);
}

// ---- Maildir.

TEST_F(AsioIoTest, MaildirDeliverWritesPrefixAndBodyIntoNew) {
  ASSERT_TRUE(commit("M1", "Subject: hi\r\n\r\nbody\r\n", "env").ok());
  std::optional<IoResult<std::string>> result;
  io_->maildir_deliver("alice", "Return-Path: <a@b.test>\r\n", "M1",
                       [&](IoResult<std::string> r) { result = r; });
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  ASSERT_TRUE(result->has_value()) << result->error().detail;
  const std::string name = **result;
  EXPECT_TRUE(std::regex_match(name, std::regex(R"([0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.[^/:]+)")))
      << name;
  const fs::path box = root_ + "/mail/alice";
  EXPECT_EQ(file_text(box / "new" / name),
            "Return-Path: <a@b.test>\r\nSubject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(fs::is_empty(box / "tmp"));
  EXPECT_TRUE(fs::is_directory(box / "cur"));
  struct stat st {};
  ASSERT_EQ(::stat(box.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((box / "new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  std::optional<IoResult<std::string>> second;
  io_->maildir_deliver("alice", "", "M1", [&](IoResult<std::string> r) { second = r; });
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  ASSERT_TRUE(second->has_value());
  EXPECT_NE(**second, name);
  EXPECT_EQ(file_text(box / "new" / **second), "Subject: hi\r\n\r\nbody\r\n");
}

TEST_F(AsioIoTest, MaildirRejectsBadAccountsAndMissingBodies) {
  ASSERT_TRUE(commit("M2", "x", "env").ok());
  for (const std::string& account :
       std::vector<std::string>{"a/b", ".hidden", "", std::string(256, 'a')}) {
    std::optional<IoResult<std::string>> result;
    io_->maildir_deliver(account, "", "M2", [&](IoResult<std::string> r) { result = r; });
    ASSERT_TRUE(run_until([&] { return result.has_value(); }));
    EXPECT_EQ(result->error().code, IoErrc::invalid) << account;
  }
  std::optional<IoResult<std::string>> missing;
  io_->maildir_deliver(std::string(255, 'a'), "", "Nope",
                       [&](IoResult<std::string> r) { missing = r; });
  ASSERT_TRUE(run_until([&] { return missing.has_value(); }));
  EXPECT_EQ(missing->error().code, IoErrc::not_found);
  EXPECT_FALSE(fs::exists(root_ + "/mail/" + std::string(255, 'a')));  // nothing was begun
}

// ---- Memory of idle connections (the number goes into the report).

std::size_t heap_in_use() {
  const auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

TEST_F(AsioIoTest, IdleConnectionMemory) {
#ifdef TERN_ASAN
  GTEST_SKIP() << "ASan replaces malloc: mallinfo2 sees nothing";
#endif
  auto listener = io_->listen(Endpoint{"127.0.0.1", 0}, [this](ConnId id, ConnectionFacts) {
    io_->read(id, [](auto) {});  // an idle session waits for its next command
  });
  const Endpoint at = *io_->listener_endpoint(*listener);
  constexpr int kCount = 200;
  malloc_trim(0);
  const auto before = heap_in_use();
  std::vector<int> clients;
  for (int i = 0; i < kCount; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(at.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    clients.push_back(fd);
  }
  ASSERT_TRUE(run_until([&] { return io_->connection_count() == kCount; }));
  run_for(20ms);
  const auto per_conn = (heap_in_use() - before) / kCount;
  std::printf("idle plain connection (reading): %zu heap bytes\n", per_conn);
  EXPECT_LT(per_conn, 2048u);
  for (int fd : clients) ::close(fd);
}

TEST_F(AsioIoTest, IdleTlsConnectionMemory) {
#ifdef TERN_ASAN
  GTEST_SKIP() << "ASan replaces malloc: mallinfo2 sees nothing";
#endif
  auto self = generate_self_signed("m.test");
  auto identity = io_->load_tls_identity(self->certificate_pem, self->private_key_pem);
  constexpr int kCount = 40;
  std::vector<Pair> pairs;
  for (int i = 0; i < kCount; ++i) pairs.push_back(connect_pair("127.0.0.1"));
  malloc_trim(0);
  const auto before = heap_in_use();
  int done = 0;
  for (const Pair& p : pairs) {
    io_->start_tls_server(p.server, *identity, [&, p](IoResult<TlsFacts> r) {
      ++done;
      if (r) io_->read(p.server, [](auto) {});
    });
    io_->start_tls_client(p.client, {"m.test", false}, [&, p](IoResult<TlsFacts> r) {
      ++done;
      if (r) io_->read(p.client, [](auto) {});
    });
  }
  ASSERT_TRUE(run_until([&] { return done == 2 * kCount; }, 10s));
  run_for(50ms);
  const auto per_side = (heap_in_use() - before) / (2 * kCount);
  std::printf("idle TLS connection, added by TLS (average of both sides): %zu heap bytes\n",
              per_side);
  // OpenSSL 3.0: a bare SSL object is ~8.5 KiB, a finished TLS 1.3 session ~28 KiB; the
  // record buffers (~17 KiB each) must not be held while idle.
  EXPECT_LT(per_side, 32768u);
}

}  // namespace
