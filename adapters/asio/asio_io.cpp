// AsioIo: construction, time, timers, randomness and plain TCP. TLS is in asio_tls.cpp,
// the spool and Maildir in asio_spool.cpp.
#include "adapters/asio/asio_io.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <sys/random.h>
#include <unistd.h>

#include "adapters/asio/asio_internal.hpp"
#include "adapters/asio/posix_file_ops.hpp"
#include "runtime/spool/log_spool.hpp"

namespace tern::adapters::asio {

namespace net = boost::asio;
using net::ip::tcp;
using runtime::Endpoint;
using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoStatus;

namespace {

constexpr std::size_t kReadBufferBytes = 64 * 1024;

// Maildir names must not contain '/' or ':' (the spec's escapes \057 and \072).
std::string maildir_host_name() {
  char raw[256] = {};
  if (::gethostname(raw, sizeof raw - 1) != 0 || raw[0] == '\0') return "localhost";
  std::string out;
  for (const char* p = raw; *p != '\0'; ++p) {
    if (*p == '/') {
      out += "\\057";
    } else if (*p == ':') {
      out += "\\072";
    } else {
      out += *p;
    }
  }
  return out;
}

Endpoint to_endpoint(const tcp::endpoint& ep) {
  return Endpoint{ep.address().to_string(), ep.port()};
}

runtime::ConnectionFacts facts_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  runtime::ConnectionFacts facts;
  const auto local = socket.local_endpoint(ec);
  if (!ec) facts.local = to_endpoint(local);
  const auto remote = socket.remote_endpoint(ec);
  if (!ec) facts.remote = to_endpoint(remote);
  return facts;
}

bool is_would_block(const boost::system::error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again ||
         ec == net::error::interrupted;
}

IoErrc connect_errc(const boost::system::error_code& ec) {
  if (ec == net::error::timed_out) return IoErrc::timeout;
  return IoErrc::refused;  // refused, unreachable, and anything else that stops a connect
}

}  // namespace

std::string errno_detail(std::string_view what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

AsioIo::AsioIo(net::io_context& context, AsioIoOptions options)
    : context_(context),
      options_(std::move(options)),
      read_buffer_(kReadBufferBytes),
      host_name_(maildir_host_name()) {}

AsioIo::~AsioIo() {
  dns_.reset();    // ub_ctx_delete: no DNS callback runs after this
  alive_.reset();  // queued pool results and connects see it and drop their callbacks
  for (auto& [id, conn] : conns_) {
    conn->closed = true;
    boost::system::error_code ec;
    conn->socket.close(ec);
  }
  for (auto& [id, timer] : timers_) {
    timer->cancelled = true;
    timer->timer.cancel();
  }
  for (auto& [id, listener] : listeners_) {
    listener->stopped = true;
    boost::system::error_code ec;
    listener->acceptor.close(ec);
    listener->retry.cancel();
  }
  pool_.join();
  // Records written since the last fdatasync (removals wait for a lazy one) reach the disk
  // before a graceful stop ends; their callbacks are gone with the engine, and dropping them
  // here breaks the cycle a waiter makes when it holds a location in its own segment (an
  // envelope update pins the record it replaces), which would otherwise leak the segment.
  if (spool_) {
    spool_->flush_at_exit();
    spool_.reset();
  }
}

// ---- Time, timers, randomness.

runtime::Instant AsioIo::now() const {
  const auto since = std::chrono::steady_clock::now().time_since_epoch();
  return runtime::Instant{std::chrono::duration_cast<std::chrono::nanoseconds>(since).count()};
}

std::int64_t AsioIo::wall_unix_seconds() const {
  const auto since = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(since).count();
}

runtime::TimerId AsioIo::start_timer(runtime::Instant deadline, std::function<void()> on_expiry) {
  const runtime::TimerId id = next_id_++;
  auto timer = std::make_shared<Timer>(context_);
  timer->on_expiry = std::move(on_expiry);
  timer->timer.expires_at(
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline.ns)));
  timer->timer.async_wait([this, timer, id](const boost::system::error_code&) {
    if (timer->cancelled) return;  // also covers ~AsioIo: `this` is not touched then
    timers_.erase(id);
    auto callback = std::move(timer->on_expiry);
    callback();
  });
  timers_.emplace(id, std::move(timer));
  return id;
}

void AsioIo::cancel_timer(runtime::TimerId id) {
  const auto it = timers_.find(id);
  if (it == timers_.end()) return;  // already fired or cancelled: harmless
  it->second->cancelled = true;
  it->second->timer.cancel();
  it->second->on_expiry = nullptr;
  timers_.erase(it);
}

void AsioIo::post(std::function<void()> task) {
  net::post(context_, std::move(task));
}

std::uint64_t AsioIo::random_u64() {
  std::uint64_t value = 0;
  auto* out = reinterpret_cast<unsigned char*>(&value);
  std::size_t got = 0;
  while (got < sizeof value) {
    const ssize_t n = ::getrandom(out + got, sizeof value - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      std::abort();  // no entropy source: nothing secure can be done
    }
  }
  return value;
}

// ---- Connections.

runtime::ConnId AsioIo::add_conn(ConnPtr conn) {
  const runtime::ConnId id = next_id_++;
  conn->id = id;
  boost::system::error_code ec;
  conn->socket.non_blocking(true, ec);  // reads and TLS are driven by readiness
  conn->socket.set_option(tcp::no_delay(true), ec);
  conns_.emplace(id, std::move(conn));
  return id;
}

AsioIo::ConnPtr AsioIo::find_conn(runtime::ConnId id) const {
  const auto it = conns_.find(id);
  if (it == conns_.end() || it->second->closed) {
    assert(false && "operation on a closed or unknown connection");
    return nullptr;
  }
  return it->second;
}

std::optional<Endpoint> AsioIo::listener_endpoint(runtime::ListenerId listener) const {
  const auto it = listeners_.find(listener);
  if (it == listeners_.end()) return std::nullopt;
  return it->second->local;
}

runtime::IoResult<runtime::ListenerId> AsioIo::listen(const Endpoint& bind,
                                                      AcceptHandler on_accept) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(bind.ip, ec);
  if (ec) return io_failure(IoErrc::invalid, "listen: bad address " + bind.ip);
  const tcp::endpoint endpoint(address, bind.port);
  auto listener = std::make_shared<Listener>(context_);
  auto& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(options_.listen_backlog, ec);
  if (ec) return io_failure(IoErrc::io_error, "listen " + bind.text() + ": " + ec.message());
  listener->local = to_endpoint(acceptor.local_endpoint(ec));
  listener->on_accept = std::move(on_accept);
  const runtime::ListenerId id = next_id_++;
  listeners_.emplace(id, listener);
  accept_next(listener);
  return id;
}

void AsioIo::accept_next(const std::shared_ptr<Listener>& listener) {
  listener->acceptor.async_accept(
      [this, listener](const boost::system::error_code& ec, tcp::socket socket) {
        if (listener->stopped) return;
        if (ec) {
          // EMFILE and friends: back off instead of spinning on the same error.
          listener->retry.expires_after(std::chrono::milliseconds(100));
          listener->retry.async_wait([this, listener](const boost::system::error_code&) {
            if (!listener->stopped) accept_next(listener);
          });
          return;
        }
        const auto facts = facts_of(socket);
        const runtime::ConnId id = add_conn(std::make_shared<Conn>(std::move(socket)));
        accept_next(listener);
        auto handler = listener->on_accept;  // stop_listening inside it must not free it
        handler(id, facts);
      });
}

void AsioIo::stop_listening(runtime::ListenerId id) {
  const auto it = listeners_.find(id);
  if (it == listeners_.end()) return;
  it->second->stopped = true;
  boost::system::error_code ec;
  it->second->acceptor.close(ec);
  it->second->retry.cancel();
  listeners_.erase(it);
}

void AsioIo::connect(const Endpoint& remote, runtime::Duration timeout, ConnectHandler on_done) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(remote.ip, ec);
  if (ec || remote.port == 0) {
    net::post(context_, [on_done = std::move(on_done), remote] {
      on_done(io_failure(IoErrc::invalid, "connect: bad address " + remote.text()), {});
    });
    return;
  }
  struct Pending {
    explicit Pending(net::io_context& c) : socket(c), timer(c) {}
    tcp::socket socket;
    net::steady_timer timer;
    ConnectHandler on_done;
    bool done = false;
  };
  auto pending = std::make_shared<Pending>(context_);
  pending->on_done = std::move(on_done);
  std::weak_ptr<int> alive = alive_;
  const std::string text = remote.text();
  pending->socket.async_connect(
      tcp::endpoint(address, remote.port),
      [this, pending, alive, text](const boost::system::error_code& error) {
        if (pending->done || alive.expired()) return;
        pending->done = true;
        pending->timer.cancel();
        if (error) {
          pending->on_done(
              io_failure(connect_errc(error), "connect " + text + ": " + error.message()), {});
          return;
        }
        const auto facts = facts_of(pending->socket);
        pending->on_done(add_conn(std::make_shared<Conn>(std::move(pending->socket))), facts);
      });
  pending->timer.expires_after(std::chrono::nanoseconds(std::max<std::int64_t>(timeout.ns, 0)));
  pending->timer.async_wait([pending, alive, text](const boost::system::error_code& error) {
    if (error || pending->done || alive.expired()) return;
    pending->done = true;
    boost::system::error_code ignored;
    pending->socket.close(ignored);
    pending->on_done(io_failure(IoErrc::timeout, "connect " + text + ": timed out"), {});
  });
}

void AsioIo::wait_socket(const ConnPtr& conn, bool for_write, std::function<void()> then) {
  conn->socket.async_wait(for_write ? tcp::socket::wait_write : tcp::socket::wait_read,
                          [conn, then = std::move(then)](const boost::system::error_code&) {
                            // An error shows again in the read or write that follows.
                            if (!conn->closed) then();
                          });
}

void AsioIo::read(runtime::ConnId id, ReadHandler on_data) {
  const ConnPtr conn = find_conn(id);
  if (!conn) return;
  assert(!conn->reading && !conn->handshake);
  if (conn->reading || conn->handshake) return;
  conn->reading = true;
  conn->on_read = std::move(on_data);
  if (conn->ssl && ssl_has_pending(conn->ssl.get())) {
    net::post(context_, [this, conn] {
      if (!conn->closed) read_attempt(conn);
    });
    return;
  }
  read_wait(conn);
}

void AsioIo::read_wait(const ConnPtr& conn) {
  wait_socket(conn, false, [this, conn] { read_attempt(conn); });
}

void AsioIo::read_attempt(const ConnPtr& conn) {
  if (!conn->reading) return;
  if (conn->ssl) {
    tls_read_attempt(conn);
    return;
  }
  boost::system::error_code ec;
  const std::size_t n = conn->socket.read_some(net::buffer(read_buffer_), ec);
  if (ec && is_would_block(ec)) {
    read_wait(conn);
  } else if (ec == net::error::eof) {
    deliver_read(conn, io_failure(IoErrc::eof, "read: end of stream"));
  } else if (ec) {
    deliver_read(conn, io_failure(IoErrc::reset, "read: " + ec.message()));
  } else {
    deliver_read(conn, std::span<const char>(read_buffer_.data(), n));
  }
}

void AsioIo::deliver_read(const ConnPtr& conn, runtime::IoResult<std::span<const char>> result) {
  conn->reading = false;
  auto handler = std::move(conn->on_read);
  conn->on_read = nullptr;
  handler(std::move(result));
}

void AsioIo::write(runtime::ConnId id, std::span<const char> bytes, StatusHandler on_done) {
  const ConnPtr conn = find_conn(id);
  if (!conn) return;
  assert(!conn->writing && !conn->handshake);
  if (conn->writing || conn->handshake) return;
  conn->writing = true;
  conn->on_write = std::move(on_done);
  if (conn->ssl) {
    conn->write_rest = bytes;
    net::post(context_, [this, conn] {
      if (!conn->closed) tls_write_attempt(conn);
    });
    return;
  }
  net::async_write(conn->socket, net::buffer(bytes.data(), bytes.size()),
                   [this, conn](const boost::system::error_code& ec, std::size_t) {
                     if (conn->closed) return;
                     finish_write(conn,
                                  ec ? IoStatus::failure(IoErrc::reset, "write: " + ec.message())
                                     : IoStatus::success());
                   });
}

void AsioIo::finish_write(const ConnPtr& conn, IoStatus status) {
  conn->writing = false;
  conn->write_rest = {};
  auto handler = std::move(conn->on_write);
  conn->on_write = nullptr;
  handler(std::move(status));
}

void AsioIo::close(runtime::ConnId id) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) {
    assert(false && "close of an unknown connection");
    return;
  }
  const ConnPtr conn = it->second;
  conns_.erase(it);
  conn->closed = true;
  if (conn->ssl && !conn->handshake) tls_send_close_notify(conn->ssl.get());
  conn->handshake.reset();
  conn->on_read = nullptr;
  conn->on_write = nullptr;
  boost::system::error_code ec;
  conn->socket.close(ec);
}

}  // namespace tern::adapters::asio
