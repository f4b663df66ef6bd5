#include "cmd/ternd/control_server.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd/common/queue_render.hpp"

namespace tern::cmd {

namespace {

namespace asio = boost::asio;
using Protocol = asio::local::stream_protocol;
using Kind = ControlRequest::Kind;

// The first line of an answer must stay one line whatever the queue wrote in its message.
std::string error_line(std::string_view why) {
  return "error: " + terminal_safe(why) + "\n";
}

std::string admin_answer(const runtime::AdminResult& result, std::string_view id) {
  using runtime::AdminStatus;
  if (result.status == AdminStatus::done) {
    return "ok\n" + (result.message.empty() ? "" : terminal_safe(result.message) + "\n");
  }
  if (!result.message.empty()) return error_line(result.message);
  switch (result.status) {
    case AdminStatus::not_found: return error_line("no such message " + std::string(id));
    case AdminStatus::refused: return error_line("refused");
    default: return error_line("failed");
  }
}

std::int64_t system_now_unix() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace

// ---------------------------------------------------------------------------------------

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  struct Client;

  Impl(asio::io_context& c, runtime::QueueAdmin& a, ControlServerOptions o)
      : context(c), admin(a), options(std::move(o)), acceptor(c), accept_retry(c) {
    if (!options.now_unix) options.now_unix = system_now_unix;
  }

  std::optional<std::string> start();
  void stop();
  void accept_next();
  void on_accept(const boost::system::error_code& error, Protocol::socket socket);
  void refuse_busy(Protocol::socket& socket);
  void forget(const std::shared_ptr<Client>& client) { clients.erase(client); }
  std::string answer_now(const ControlRequest& request);

  asio::io_context& context;
  runtime::QueueAdmin& admin;
  ControlServerOptions options;
  Protocol::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::set<std::shared_ptr<Client>> clients;
  bool running = false;
  std::optional<std::pair<dev_t, ino_t>> socket_file;  // what start() created
};

// One connection: read a line, answer, close. Handlers hold a shared_ptr to the Client and
// only a weak_ptr to the server, so a stopped or destroyed server is never touched.
struct ControlServer::Impl::Client : std::enable_shared_from_this<Client> {
  static constexpr std::size_t kReadChunk = 512;

  Client(std::weak_ptr<Impl> s, Protocol::socket sock, asio::io_context& c)
      : server(std::move(s)), socket(std::move(sock)), timer(c) {}

  void start(std::chrono::milliseconds request_timeout) {
    arm_timer(request_timeout);
    read_more();
  }

  void arm_timer(std::chrono::milliseconds timeout) {
    timer.expires_after(timeout);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
      if (!error) self->finish();
    });
  }

  void read_more() {
    socket.async_read_some(asio::buffer(chunk),
                           [self = shared_from_this()](const boost::system::error_code& error,
                                                       std::size_t n) { self->on_read(error, n); });
  }

  void on_read(const boost::system::error_code& error, std::size_t n) {
    if (closed) return;
    if (error == asio::error::eof) return reply(error_line("request line not terminated by LF"));
    if (error) return finish();
    const std::size_t old = line.size();
    line.append(chunk.data(), n);
    const std::size_t lf = line.find('\n', old);
    const std::size_t length = lf == std::string::npos ? line.size() : lf;
    // A CR right before the LF is not part of the request, so it does not count.
    const bool cr = lf != std::string::npos && lf > 0 && line[lf - 1] == '\r';
    if (length - (cr ? 1 : 0) > kControlLineBytesMax) {
      return reply(error_line("request line longer than 1024 bytes"));
    }
    if (lf == std::string::npos) return read_more();
    line.resize(length - (cr ? 1 : 0));
    handle_line();
  }

  void handle_line() {
    auto server_ptr = server.lock();
    if (!server_ptr) return finish();
    auto request = parse_control_request(line);
    if (!request) return reply(error_line(request.error().message));
    const ControlRequest& r = request.value();
    if (r.kind == Kind::list || r.kind == Kind::show) return reply(server_ptr->answer_now(r));
    timer.cancel();  // waiting for the queue is not the client's delay
    std::weak_ptr<Client> weak = shared_from_this();
    auto done = [weak, id = r.id](runtime::AdminResult result) {
      if (auto self = weak.lock()) self->reply(admin_answer(result, id));
    };
    runtime::QueueAdmin& admin = server_ptr->admin;
    switch (r.kind) {
      case Kind::retry: return admin.retry(r.id, done);
      case Kind::retry_all: return admin.retry("", done);
      case Kind::remove: return admin.remove(r.id, r.silent, done);
      case Kind::hold: return admin.hold(r.id, done);
      case Kind::release: return admin.release(r.id, done);
      default: return finish();
    }
  }

  void reply(std::string text) {
    if (closed || replying) return;
    replying = true;
    auto server_ptr = server.lock();
    if (!server_ptr) return finish();
    arm_timer(server_ptr->options.reply_timeout);
    answer = std::move(text);
    asio::async_write(socket, asio::buffer(answer),
                      [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                        self->finish();
                      });
  }

  void finish() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    socket.shutdown(Protocol::socket::shutdown_both, ignored);
    socket.close(ignored);
    timer.cancel();
    if (auto server_ptr = server.lock()) server_ptr->forget(shared_from_this());
  }

  std::weak_ptr<Impl> server;
  Protocol::socket socket;
  asio::steady_timer timer;
  std::array<char, kReadChunk> chunk{};
  std::string line;
  std::string answer;
  bool replying = false;
  bool closed = false;
};

std::string ControlServer::Impl::answer_now(const ControlRequest& request) {
  const std::int64_t now = options.now_unix();
  if (request.kind == Kind::list) return "ok\n" + render_list(admin.list(), now, request.json);
  const std::optional<runtime::MessageView> view = admin.show(request.id);
  if (!view) return error_line("no such message " + request.id);
  return "ok\n" + render_show(*view, now, request.json);
}

void ControlServer::Impl::accept_next() {
  std::weak_ptr<Impl> weak = shared_from_this();
  acceptor.async_accept([weak](const boost::system::error_code& error, Protocol::socket socket) {
    if (auto self = weak.lock()) self->on_accept(error, std::move(socket));
  });
}

void ControlServer::Impl::on_accept(const boost::system::error_code& error,
                                    Protocol::socket socket) {
  if (!running || error == asio::error::operation_aborted) return;
  if (error) {
    // Out of descriptors and the like: try again later instead of spinning.
    std::weak_ptr<Impl> weak = shared_from_this();
    accept_retry.expires_after(std::chrono::seconds(1));
    accept_retry.async_wait([weak](const boost::system::error_code& e) {
      if (auto self = weak.lock(); self && !e && self->running) self->accept_next();
    });
    return;
  }
  if (clients.size() >= options.clients_max) {
    refuse_busy(socket);
  } else {
    auto client = std::make_shared<Client>(weak_from_this(), std::move(socket), context);
    clients.insert(client);
    client->start(options.request_timeout);
  }
  accept_next();
}

// A short answer into an empty socket buffer never blocks; a failure only loses the answer.
void ControlServer::Impl::refuse_busy(Protocol::socket& socket) {
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  const std::string text = error_line("too many control clients (" +
                                      std::to_string(options.clients_max) + "), try again");
  socket.write_some(asio::buffer(text), ignored);
  socket.close(ignored);
}

namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

// A socket file whose listener is gone refuses connections: only then is it ours to remove.
std::optional<std::string> remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return "cannot inspect " + path + ": " + errno_text(errno);
  }
  if (!S_ISSOCK(st.st_mode)) return path + " exists and is not a socket";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket: " + errno_text(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = errno;
  ::close(fd);
  if (rc == 0) return "another process is listening on " + path + " (is ternd already running?)";
  if (error != ECONNREFUSED) return "cannot check " + path + ": " + errno_text(error);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return "cannot remove the stale " + path + ": " + errno_text(errno);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ControlServer::Impl::start() {
  if (running) return "the control server is already running";
  const std::string& path = options.path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "control socket path '" + path + "' is empty or longer than " +
           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes";
  }
  if (auto problem = remove_stale_socket(path)) return problem;
  boost::system::error_code error;
  acceptor.open(Protocol(), error);
  if (!error) acceptor.bind(Protocol::endpoint(path), error);
  if (error) {
    const std::string why = error.message();
    acceptor.close(error);
    return "cannot bind " + path + ": " + why;
  }
  struct stat st {};
  // chmod before listen(): until listen() every connect is refused, so no other user
  // ever reaches the socket.
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const std::string why = errno_text(errno);
    acceptor.close(error);
    ::unlink(path.c_str());
    return "cannot chmod 0600 " + path + ": " + why;
  }
  socket_file = std::make_pair(st.st_dev, st.st_ino);
  acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    stop();
    return "cannot listen on " + path + ": " + error.message();
  }
  running = true;
  accept_next();
  return std::nullopt;
}

void ControlServer::Impl::stop() {
  running = false;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  // finish() erases from the set: work on a copy.
  const std::set<std::shared_ptr<Client>> all = clients;
  for (const auto& client : all) client->finish();
  clients.clear();
  if (!socket_file) return;
  struct stat st {};
  // Another daemon may have taken the path over since: remove only our own socket.
  if (::lstat(options.path.c_str(), &st) == 0 && st.st_dev == socket_file->first &&
      st.st_ino == socket_file->second) {
    ::unlink(options.path.c_str());
  }
  socket_file.reset();
}

ControlServer::ControlServer(boost::asio::io_context& context, runtime::QueueAdmin& admin,
                             ControlServerOptions options)
    : impl_(std::make_shared<Impl>(context, admin, std::move(options))) {}

ControlServer::~ControlServer() {
  impl_->stop();
}

std::optional<std::string> ControlServer::start() {
  return impl_->start();
}

void ControlServer::stop() {
  impl_->stop();
}

std::size_t ControlServer::clients() const {
  return impl_->clients.size();
}

}  // namespace tern::cmd
