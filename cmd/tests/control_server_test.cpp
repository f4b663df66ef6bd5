#include "cmd/ternd/control_server.hpp"

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/io_context.hpp>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using tern::cmd::ControlRequest;
using tern::cmd::ControlServer;
using tern::cmd::ControlServerOptions;
using tern::cmd::parse_control_request;
using tern::runtime::AdminResult;
using tern::runtime::AdminStatus;
using tern::runtime::MessageView;
using Kind = ControlRequest::Kind;

constexpr std::int64_t kNow = 1714536000;  // 2024-05-01T04:00:00Z

// Records every action and keeps its completion for the test to run later, as the real
// queue does (never inside the call).
class FakeAdmin final : public tern::runtime::QueueAdmin {
 public:
  std::vector<MessageView> messages;
  std::vector<std::string> calls;
  std::vector<Done> pending;

  std::vector<MessageView> list() const override { return messages; }
  std::optional<MessageView> show(std::string_view id) const override {
    for (const auto& m : messages) {
      if (m.id == id) return m;
    }
    return std::nullopt;
  }
  void retry(std::string_view id, Done done) override { record("retry " + std::string(id), done); }
  void hold(std::string_view id, Done done) override { record("hold " + std::string(id), done); }
  void release(std::string_view id, Done done) override {
    record("release " + std::string(id), done);
  }
  void remove(std::string_view id, bool silent, Done done) override {
    record("remove " + std::string(id) + (silent ? " silent" : ""), done);
  }

 private:
  void record(std::string call, Done done) {
    calls.push_back(std::move(call));
    pending.push_back(std::move(done));
  }
};

MessageView one_message() {
  MessageView m;
  m.id = "ABC123";
  m.sender = "a@b";
  m.received_unix = kNow - 60;
  m.size = 10;
  return m;
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// A blocking client: connect, send, optionally half-close, read until EOF.
std::string blocking_exchange(const std::string& path, const std::string& request,
                              bool half_close) {
  const int fd = connect_to(path);
  if (fd < 0) return "<connect failed>";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out = read_all(fd);
  ::close(fd);
  return out;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tern_control_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/control.sock";
  }
  void TearDown() override {
    server_.reset();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  ControlServer& start_server(std::size_t clients_max = 16,
                              std::chrono::milliseconds request_timeout = 10'000ms) {
    ControlServerOptions options;
    options.path = path_;
    options.clients_max = clients_max;
    options.request_timeout = request_timeout;
    options.now_unix = [] { return kNow; };
    server_.emplace(context_, admin_, options);
    auto problem = server_->start();
    EXPECT_FALSE(problem.has_value()) << *problem;
    return *server_;
  }

  // Runs the io_context (this thread is the engine's) until `done` or 5 s.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      context_.restart();
      context_.run_for(2ms);
    }
    return true;
  }

  std::future<std::string> ask_async(std::string request, bool half_close = false) {
    return std::async(std::launch::async, [path = path_, request, half_close] {
      return blocking_exchange(path, request, half_close);
    });
  }

  std::string ask(std::string request, bool half_close = false) {
    auto answer = ask_async(std::move(request), half_close);
    EXPECT_TRUE(run_until([&] { return answer.wait_for(0s) == std::future_status::ready; }));
    return answer.get();
  }

  // Asks for an action, checks that nothing is answered before the queue completes it,
  // then completes it with `result`.
  std::string ask_action(const std::string& request, const AdminResult& result) {
    const std::size_t before = admin_.pending.size();
    auto answer = ask_async(request);
    EXPECT_TRUE(run_until([&] { return admin_.pending.size() == before + 1; }));
    context_.restart();
    context_.run_for(20ms);
    EXPECT_EQ(answer.wait_for(0s), std::future_status::timeout);
    admin_.pending.back()(result);
    EXPECT_TRUE(run_until([&] { return answer.wait_for(0s) == std::future_status::ready; }));
    return answer.get();
  }

  boost::asio::io_context context_;
  FakeAdmin admin_;
  std::string dir_;
  std::string path_;
  std::optional<ControlServer> server_;
};

TEST(ControlRequestParse, EveryCommand) {
  auto parse = [](std::string_view line) { return parse_control_request(line).value(); };
  EXPECT_EQ(parse("list"), (ControlRequest{Kind::list, "", false, false}));
  EXPECT_EQ(parse("list json"), (ControlRequest{Kind::list, "", true, false}));
  EXPECT_EQ(parse("  show   AB12  json "), (ControlRequest{Kind::show, "AB12", true, false}));
  EXPECT_EQ(parse("show AB12"), (ControlRequest{Kind::show, "AB12", false, false}));
  EXPECT_EQ(parse("retry AB12"), (ControlRequest{Kind::retry, "AB12", false, false}));
  EXPECT_EQ(parse("retry --all"), (ControlRequest{Kind::retry_all, "", false, false}));
  EXPECT_EQ(parse("delete AB12"), (ControlRequest{Kind::remove, "AB12", false, false}));
  EXPECT_EQ(parse("delete AB12 silent"), (ControlRequest{Kind::remove, "AB12", false, true}));
  EXPECT_EQ(parse("hold AB12"), (ControlRequest{Kind::hold, "AB12", false, false}));
  EXPECT_EQ(parse("release AB12"), (ControlRequest{Kind::release, "AB12", false, false}));
}

TEST(ControlRequestParse, Errors) {
  auto error = [](std::string_view line) { return parse_control_request(line).error().message; };
  EXPECT_EQ(error(""), "empty request");
  EXPECT_EQ(error("   "), "empty request");
  EXPECT_EQ(error("LIST"), "unknown command 'LIST' (list, show, retry, delete, hold, release)");
  EXPECT_EQ(error("\x1b[2J"), "unknown command '?[2J' (list, show, retry, delete, hold, release)");
  EXPECT_EQ(error("list xml"), "usage: list [json]");
  EXPECT_EQ(error("show"), "usage: show ID [json]");
  EXPECT_EQ(error("show A json x"), "usage: show ID [json]");
  EXPECT_EQ(error("retry"), "usage: retry ID | retry --all");
  EXPECT_EQ(error("retry A B"), "usage: retry ID | retry --all");
  EXPECT_EQ(error("delete A loud"), "usage: delete ID [silent]");
  EXPECT_EQ(error("hold"), "usage: hold ID");
  EXPECT_EQ(error("release A B"), "usage: release ID");
  const std::string bad_id = "invalid message id (1 to 64 letters and digits)";
  EXPECT_EQ(error("hold ../etc"), bad_id);
  EXPECT_EQ(error("show A-B"), bad_id);
  EXPECT_EQ(error("hold " + std::string(65, 'a')), bad_id);
  EXPECT_TRUE(parse_control_request("hold " + std::string(64, 'a')));
}

TEST(ControlRequestParse, LineLimit) {
  EXPECT_TRUE(parse_control_request("list" + std::string(1020, ' ')));
  EXPECT_EQ(parse_control_request("list" + std::string(1021, ' ')).error().message,
            "request line longer than 1024 bytes");
}

TEST_F(ControlServerTest, SocketIsPrivateAndRemovedAtStop) {
  start_server();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  server_->stop();
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
}

TEST_F(ControlServerTest, ListAndShow) {
  start_server();
  admin_.messages = {one_message()};
  EXPECT_EQ(ask("list\n"),
            "ok\n"
            "ID      AGE  SIZE  SENDER  RECIPIENTS                          NEXT  LAST ERROR\n"
            "ABC123  1m   10    a@b     0 pending / 0 delivered / 0 failed  -     -\n");
  EXPECT_EQ(ask("list json\r\n"),
            "ok\n{\"id\":\"ABC123\",\"sender\":\"a@b\",\"received_unix\":1714535940,"
            "\"received\":\"2024-05-01T03:59:00Z\",\"size\":10,\"held\":false,"
            "\"in_flight\":false,\"delay_notices_sent\":0,\"recipients\":[]}\n");
  EXPECT_EQ(ask("show ABC123\n"),
            "ok\nid: ABC123\nsender: a@b\nreceived: 2024-05-01T03:59:00Z (1m ago)\n"
            "size: 10 bytes\nstatus: queued\ndelay notices sent: 0\n"
            "recipients: 0 pending / 0 delivered / 0 failed\n");
  EXPECT_EQ(ask("show ABC123 json\n"),
            "ok\n{\"id\":\"ABC123\",\"sender\":\"a@b\",\"received_unix\":1714535940,"
            "\"received\":\"2024-05-01T03:59:00Z\",\"size\":10,\"held\":false,"
            "\"in_flight\":false,\"delay_notices_sent\":0,\"recipients\":[]}\n");
  EXPECT_EQ(ask("show NOPE\n"), "error: no such message NOPE\n");
  EXPECT_TRUE(admin_.calls.empty());
  EXPECT_TRUE(run_until([&] { return server_->clients() == 0; }));
}

TEST_F(ControlServerTest, ActionsAnswerWhenTheQueueCompletes) {
  start_server();
  EXPECT_EQ(ask_action("retry ABC\n", {AdminStatus::done, "2 recipients due now", 1}),
            "ok\n2 recipients due now\n");
  EXPECT_EQ(ask_action("retry --all\n", {AdminStatus::done, "", 3}), "ok\n");
  EXPECT_EQ(ask_action("delete ABC\n", {AdminStatus::done, "deleted, DSN to a@b", 1}),
            "ok\ndeleted, DSN to a@b\n");
  EXPECT_EQ(ask_action("delete ABC silent\n", {AdminStatus::done, "deleted", 1}), "ok\ndeleted\n");
  EXPECT_EQ(ask_action("hold ABC\n", {AdminStatus::done, "held", 1}), "ok\nheld\n");
  EXPECT_EQ(ask_action("release ABC\n", {AdminStatus::refused, "not held", 0}),
            "error: not held\n");
  EXPECT_EQ(ask_action("hold XYZ\n", {AdminStatus::not_found, "", 0}),
            "error: no such message XYZ\n");
  EXPECT_EQ(ask_action("hold XYZ\n", {AdminStatus::failed, "disk full\nreally", 0}),
            "error: disk full really\n");
  EXPECT_EQ(admin_.calls,
            (std::vector<std::string>{"retry ABC", "retry ", "remove ABC", "remove ABC silent",
                                      "hold ABC", "release ABC", "hold XYZ", "hold XYZ"}));
}

TEST_F(ControlServerTest, BadRequestsGetErrors) {
  start_server();
  EXPECT_EQ(ask("frobnicate\n"),
            "error: unknown command 'frobnicate' (list, show, retry, delete, hold, release)\n");
  EXPECT_EQ(ask("hold a/b\n"), "error: invalid message id (1 to 64 letters and digits)\n");
  EXPECT_EQ(ask("\n"), "error: empty request\n");
  EXPECT_EQ(ask("list", true), "error: request line not terminated by LF\n");
  EXPECT_EQ(ask("", true), "error: request line not terminated by LF\n");
  // One request per connection: what follows the LF is ignored.
  EXPECT_EQ(ask_action("hold A\nretry B\n", {AdminStatus::done, "", 1}), "ok\n");
  EXPECT_EQ(admin_.calls, std::vector<std::string>{"hold A"});
}

TEST_F(ControlServerTest, LineLimitAtNAndNPlusOne) {
  start_server();
  admin_.messages = {};
  const std::string header = "ID  AGE  SIZE  SENDER  RECIPIENTS  NEXT  LAST ERROR\n";
  EXPECT_EQ(ask("list" + std::string(1020, ' ') + "\n"), "ok\n" + header);
  EXPECT_EQ(ask("list" + std::string(1020, ' ') + "\r\n"), "ok\n" + header);
  EXPECT_EQ(ask("list" + std::string(1021, ' ') + "\n"),
            "error: request line longer than 1024 bytes\n");
  // No LF at all: answered as soon as the limit is passed, not at the timeout.
  EXPECT_EQ(ask(std::string(5000, 'x')), "error: request line longer than 1024 bytes\n");
}

TEST_F(ControlServerTest, SilentClientIsDropped) {
  start_server(16, 200ms);
  const auto started = std::chrono::steady_clock::now();
  auto answer = ask_async("lis");  // never finishes its line
  EXPECT_TRUE(run_until([&] { return answer.wait_for(0s) == std::future_status::ready; }));
  EXPECT_EQ(answer.get(), "");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
  EXPECT_TRUE(run_until([&] { return server_->clients() == 0; }));
}

TEST_F(ControlServerTest, ClientLimitAtNAndNPlusOne) {
  start_server(2);
  const int first = connect_to(path_);
  const int second = connect_to(path_);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  EXPECT_TRUE(run_until([&] { return server_->clients() == 2; }));
  EXPECT_EQ(ask("list\n"), "error: too many control clients (2), try again\n");
  ::close(first);  // the slot frees when the server sees EOF
  EXPECT_TRUE(run_until([&] { return server_->clients() == 1; }));
  EXPECT_EQ(ask("list\n").substr(0, 3), "ok\n");
  ::close(second);
}

TEST_F(ControlServerTest, StopWhileAnActionIsPending) {
  start_server();
  auto answer = ask_async("delete ABC\n");
  EXPECT_TRUE(run_until([&] { return admin_.pending.size() == 1; }));
  server_->stop();
  EXPECT_TRUE(run_until([&] { return answer.wait_for(0s) == std::future_status::ready; }));
  EXPECT_EQ(answer.get(), "");
  admin_.pending[0]({AdminStatus::done, "deleted", 1});  // late: dropped, no crash
  server_.reset();
  context_.restart();
  context_.run_for(10ms);
}

TEST_F(ControlServerTest, StaleSocketIsReplacedLiveOneIsNot) {
  // A socket file whose listener is gone: removed and replaced.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.data(), path_.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
  }
  start_server();
  EXPECT_EQ(ask("list\n").substr(0, 3), "ok\n");
  // A second server on the same path finds the first one listening.
  ControlServerOptions options;
  options.path = path_;
  ControlServer second(context_, admin_, options);
  auto problem = second.start();
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(*problem, "another process is listening on " + path_ + " (is ternd already running?)");
  EXPECT_EQ(ask("list\n").substr(0, 3), "ok\n");  // the first still serves
}

TEST_F(ControlServerTest, RefusesRegularFileAndLongPath) {
  { std::ofstream(path_) << "precious"; }
  ControlServerOptions options;
  options.path = path_;
  ControlServer server(context_, admin_, options);
  EXPECT_EQ(server.start().value_or(""), path_ + " exists and is not a socket");
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  ::unlink(path_.c_str());

  options.path = "/tmp/" + std::string(103, 'x');  // 108 bytes: no room for the NUL
  ControlServer too_long(context_, admin_, options);
  EXPECT_EQ(too_long.start().value_or(""),
            "control socket path '" + options.path + "' is empty or longer than 107 bytes");
  options.path = "/tmp/" + std::string(102, 'x');  // 107 bytes: fits
  ::unlink(options.path.c_str());
  ControlServer fits(context_, admin_, options);
  EXPECT_FALSE(fits.start().has_value());
  fits.stop();
}

}  // namespace
