#include "cmd/tern/queue_cmd.hpp"

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cmd/ternd/control_server.hpp"

namespace {

using namespace std::chrono_literals;
using tern::cmd::control_socket_from_config;
using tern::cmd::exchange_with_ternd;
using tern::cmd::parse_queue_args;
using tern::runtime::AdminResult;
using tern::runtime::AdminStatus;

std::string line_of(std::vector<std::string> args) {
  std::string problem;
  auto inv = parse_queue_args(args, problem);
  return inv ? inv->request_line : "usage: " + problem;
}

TEST(QueueArgs, RequestLines) {
  EXPECT_EQ(line_of({"queue", "list"}), "list\n");
  EXPECT_EQ(line_of({"queue", "list", "--json"}), "list json\n");
  EXPECT_EQ(line_of({"queue", "show", "ABC"}), "show ABC\n");
  EXPECT_EQ(line_of({"queue", "show", "--json", "ABC"}), "show ABC json\n");
  EXPECT_EQ(line_of({"queue", "retry", "ABC"}), "retry ABC\n");
  EXPECT_EQ(line_of({"queue", "retry", "--all"}), "retry --all\n");
  EXPECT_EQ(line_of({"queue", "delete", "ABC"}), "delete ABC\n");
  EXPECT_EQ(line_of({"queue", "delete", "ABC", "--silent"}), "delete ABC silent\n");
  EXPECT_EQ(line_of({"queue", "hold", "ABC"}), "hold ABC\n");
  EXPECT_EQ(line_of({"queue", "release", "ABC"}), "release ABC\n");
  EXPECT_EQ(line_of({"queue", "hold", std::string(64, 'a')}),
            "hold " + std::string(64, 'a') + "\n");
}

TEST(QueueArgs, ConfigAndSocket) {
  std::string problem;
  auto inv = parse_queue_args({"queue", "list", "--socket", "/run/t.sock"}, problem);
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->socket_path, "/run/t.sock");
  EXPECT_EQ(inv->config_file, "");
  inv = parse_queue_args({"queue", "hold", "--config", "/etc/tern.toml", "A1"}, problem);
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->config_file, "/etc/tern.toml");
  EXPECT_EQ(inv->request_line, "hold A1\n");
}

TEST(QueueArgs, UsageErrors) {
  EXPECT_EQ(line_of({"queue"}), "usage: queue needs a command");
  EXPECT_EQ(line_of({"queue", "flush"}), "usage: unknown queue command 'flush'");
  EXPECT_EQ(line_of({"queue", "list", "ABC"}), "usage: usage: tern queue list [--json]");
  EXPECT_EQ(line_of({"queue", "show"}), "usage: usage: tern queue show ID [--json]");
  EXPECT_EQ(line_of({"queue", "retry"}), "usage: usage: tern queue retry ID|--all");
  EXPECT_EQ(line_of({"queue", "retry", "A", "--all"}), "usage: usage: tern queue retry ID|--all");
  EXPECT_EQ(line_of({"queue", "hold", "A", "--silent"}), "usage: usage: tern queue hold ID");
  EXPECT_EQ(line_of({"queue", "delete", "A", "B"}), "usage: one message ID at a time");
  EXPECT_EQ(line_of({"queue", "list", "--verbose"}), "usage: unknown option '--verbose'");
  EXPECT_EQ(line_of({"queue", "list", "--socket"}), "usage: --socket needs a value");
  EXPECT_EQ(line_of({"queue", "list", "--config", ""}), "usage: --config needs a value");
  EXPECT_EQ(line_of({"queue", "list", "--config", "f", "--socket", "s"}),
            "usage: use --config FILE or --socket PATH, not both");
  // An ID cannot carry a second word (or line) into the request.
  const std::string bad = "is not a message ID (1 to 64 letters and digits)";
  EXPECT_EQ(line_of({"queue", "delete", "A silent"}), "usage: 'A silent' " + bad);
  EXPECT_EQ(line_of({"queue", "hold", "A\nretry"}), "usage: 'A retry' " + bad);
  EXPECT_EQ(line_of({"queue", "hold", std::string(65, 'a')}),
            "usage: '" + std::string(65, 'a') + "' " + bad);
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tern_queue_cmd_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (const auto& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string file(const std::string& name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }
  std::string dir_;
  std::vector<std::string> files_;
};

using QueueConfig = TempDir;

TEST_F(QueueConfig, SocketUnderTheSpool) {
  std::ostringstream err;
  EXPECT_EQ(control_socket_from_config("", err).value_or("?"), "./var/spool/control.sock");
  const std::string path = file("tern.toml");
  std::ofstream(path) << "[storage]\nspool = \"/var/lib/tern\"\n";
  EXPECT_EQ(control_socket_from_config(path, err).value_or("?"), "/var/lib/tern/control.sock");
  EXPECT_EQ(err.str(), "");
  std::ofstream(path) << "x = \n";
  EXPECT_FALSE(control_socket_from_config(path, err).has_value());
  EXPECT_EQ(err.str().substr(0, path.size() + 5), path + ":1:5:");
}

// A queue whose actions complete on the io_context, later, as the real one does.
class PostingAdmin final : public tern::runtime::QueueAdmin {
 public:
  explicit PostingAdmin(boost::asio::io_context& c) : context_(c) {}
  std::vector<tern::runtime::MessageView> list() const override { return {}; }
  std::optional<tern::runtime::MessageView> show(std::string_view) const override {
    return std::nullopt;
  }
  void retry(std::string_view id, Done done) override {
    answer(done, id.empty() ? AdminResult{AdminStatus::done, "4 messages due now", 4}
                            : AdminResult{AdminStatus::not_found, "", 0});
  }
  void hold(std::string_view, Done done) override { answer(done, {AdminStatus::done, "held", 1}); }
  void release(std::string_view, Done done) override {
    answer(done, {AdminStatus::refused, "message is not held", 0});
  }
  void remove(std::string_view, bool, Done done) override {
    answer(done, {AdminStatus::done, "", 1});
  }

 private:
  void answer(Done done, AdminResult result) {
    boost::asio::post(context_, [done, result] { done(result); });
  }
  boost::asio::io_context& context_;
};

class QueueExchange : public TempDir {
 protected:
  struct Outcome {
    int status;
    std::string out, err;
  };
  // Runs the CLI's blocking exchange on another thread while this one serves.
  Outcome run(const std::string& socket, const std::string& line) {
    auto result = std::async(std::launch::async, [socket, line] {
      std::ostringstream out, err;
      const int status = exchange_with_ternd(socket, line, out, err);
      return Outcome{status, out.str(), err.str()};
    });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (result.wait_for(0s) != std::future_status::ready &&
           std::chrono::steady_clock::now() < deadline) {
      context_.restart();
      context_.run_for(2ms);
    }
    return result.get();
  }
  boost::asio::io_context context_;
};

TEST_F(QueueExchange, AnswersOfARealControlServer) {
  PostingAdmin admin(context_);
  tern::cmd::ControlServerOptions options;
  options.path = file("control.sock");
  options.now_unix = [] { return std::int64_t{1714536000}; };
  tern::cmd::ControlServer server(context_, admin, options);
  ASSERT_FALSE(server.start().has_value());
  Outcome o = run(options.path, "list\n");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "ID  AGE  SIZE  SENDER  RECIPIENTS  NEXT  LAST ERROR\n");
  EXPECT_EQ(o.err, "");
  o = run(options.path, "retry --all\n");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "4 messages due now\n");
  o = run(options.path, "retry ABC\n");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tern: no such message ABC\n");
  o = run(options.path, "release ABC\n");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "tern: message is not held\n");
  o = run(options.path, "delete ABC silent\n");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "");
  o = run(options.path, "show ABC\n");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "tern: no such message ABC\n");
}

TEST_F(QueueExchange, UnreachableSocketIs69) {
  const std::string missing = file("nothing.sock");
  Outcome o = run(missing, "list\n");
  EXPECT_EQ(o.status, 69);
  EXPECT_EQ(o.err, "tern: cannot connect to " + missing +
                       ": No such file or directory (is ternd running?)\n");
  // A socket file nobody listens on (ternd died).
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, missing.data(), missing.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ::close(fd);
  o = run(missing, "list\n");
  EXPECT_EQ(o.status, 69);
  EXPECT_EQ(o.err,
            "tern: cannot connect to " + missing + ": Connection refused (is ternd running?)\n");
  const std::string too_long = "/tmp/" + std::string(103, 'x');
  o = run(too_long, "list\n");
  EXPECT_EQ(o.status, 69);
  EXPECT_EQ(o.err, "tern: control socket path '" + too_long +
                       "' is longer than 107 bytes (is ternd running?)\n");
}

// A peer that is not ternd: answers `reply` to anything, then closes.
void fake_peer(const std::string& path, std::string reply, std::promise<void>& listening) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::listen(fd, 1);
  listening.set_value();
  const int conn = ::accept(fd, nullptr, nullptr);
  char buf[64];
  (void)!::read(conn, buf, sizeof buf);
  (void)!::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
  ::close(conn);
  ::close(fd);
}

TEST_F(QueueExchange, MalformedOrMissingAnswerIs69) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"HTTP/1.1 400\r\n", "tern: ternd's answer is not a control answer (is ternd running?)\n"},
      {"ok", "tern: ternd closed the connection without an answer (is ternd running?)\n"},
      {"", "tern: ternd closed the connection without an answer (is ternd running?)\n"},
      {std::string(5000, 'x'),
       "tern: ternd's answer is not a control answer (is ternd running?)\n"},
  };
  for (const auto& [reply, expected] : cases) {
    const std::string path = file("peer.sock");
    ::unlink(path.c_str());
    std::promise<void> listening;
    std::thread peer(fake_peer, path, reply, std::ref(listening));
    listening.get_future().wait();
    std::ostringstream out, err;
    EXPECT_EQ(exchange_with_ternd(path, "list\n", out, err), 69);
    EXPECT_EQ(err.str(), expected);
    peer.join();
  }
}

}  // namespace
