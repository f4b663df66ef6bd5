// adapters/asio/asio_internal.hpp — the state behind AsioIo, shared by its .cpp files only.
//
// Every completion handler holds a shared_ptr to its Conn/Timer/Listener and checks its
// `closed`/`cancelled` flag first: that is how close(), cancel_timer() and ~AsioIo keep the
// promise that no callback runs afterwards, even for a handler asio already queued.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/asio/asio_io.hpp"

namespace tern::adapters::asio {

struct SslFree {
  void operator()(ssl_st* ssl) const;
};

struct AsioIo::Conn {
  explicit Conn(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}

  struct Handshake {
    explicit Handshake(boost::asio::io_context& context) : timer(context) {}
    boost::asio::steady_timer timer;
    TlsHandler on_done;
  };

  runtime::ConnId id = 0;
  boost::asio::ip::tcp::socket socket;
  std::unique_ptr<ssl_st, SslFree> ssl;  // set once TLS starts; reads and writes use it
  std::unique_ptr<Handshake> handshake;  // only while a handshake runs
  ReadHandler on_read;                   // set while a read is outstanding
  StatusHandler on_write;                // set while a write is outstanding
  std::span<const char> write_rest;      // TLS: bytes not yet accepted by SSL_write
  bool closed = false;
  bool reading = false;
  bool writing = false;
};

struct AsioIo::Listener {
  explicit Listener(boost::asio::io_context& context) : acceptor(context), retry(context) {}
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer retry;  // backs off after accept errors such as EMFILE
  AcceptHandler on_accept;
  runtime::Endpoint local;
  bool stopped = false;
};

struct AsioIo::Timer {
  explicit Timer(boost::asio::io_context& context) : timer(context) {}
  boost::asio::steady_timer timer;
  std::function<void()> on_expiry;
  bool cancelled = false;
};

struct AsioIo::TlsIdentity {
  explicit TlsIdentity(boost::asio::ssl::context::method method) : context(method) {}
  boost::asio::ssl::context context;
};

// TLS helpers over OpenSSL (asio_tls.cpp).
bool ssl_has_pending(ssl_st* ssl);        // decrypted or buffered bytes SSL_read can return
void tls_send_close_notify(ssl_st* ssl);  // one non-blocking attempt, errors ignored

// Formats an errno for IoError::detail: "<what>: <strerror>".
std::string errno_detail(std::string_view what, int error);

}  // namespace tern::adapters::asio
