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

// A message being received: its body in memory, or in tmp/<id>.body.tmp once it outgrew
// options.spool_inline_body_max (then fd is that file).
struct AsioIo::Writer {
  std::string id;
  std::string body;
  int fd = -1;
  std::uint64_t bytes = 0;
  ~Writer();
};

// One file of the spool log (spool_log.hpp). Only the engine thread touches its fields;
// pool work holds a shared_ptr so that `fd` stays open while it runs, and reads only `fd`.
struct AsioIo::Segment {
  std::uint64_t number = 0;
  std::string path;
  int fd = -1;
  std::uint64_t written = 0;  // end of the last record written
  // The file's size: zeros from `written` up to here (see zero_ahead in asio_spool.cpp).
  std::uint64_t prepared = 0;
  std::uint64_t synced = 0;  // end of what an fdatasync has made durable
  bool sync_running = false;
  // Nothing more is appended: the log moved on to a newer segment, it is an earlier run's,
  // or a write or an fdatasync failed in it.
  bool sealed = false;
  std::size_t refs = 0;          // locations of live messages (body, envelope) in this file
  std::uint64_t live_bytes = 0;  // their sizes
  struct Waiter {
    std::uint64_t end = 0;  // the record's end: durable once synced reaches it
    StatusHandler on_done;
    bool urgent = true;  // starts an fdatasync now; a lazy one rides on the next
  };
  std::vector<Waiter> waiters;
  ~Segment();
};

// Where some bytes of a live message are in the log.
struct AsioIo::Located {
  std::shared_ptr<Segment> segment;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

// What a record write returned: where its parts are.
struct AsioIo::Appended {
  std::shared_ptr<Segment> segment;
  std::uint64_t envelope_offset = 0;
  std::uint64_t body_offset = 0;
  std::uint64_t end = 0;
};

struct AsioIo::LiveMessage {
  Located envelope;
  Located body;  // segment null: the body is the file body/<id>
  // Locations a newer record replaced, still counted in their segment's refs until that
  // record is durable: the segment holding the older copy must outlive it.
  std::vector<Located> pinned;
  bool removing = false;  // a remove record is written, not yet durable
  bool relocating = false;
};

struct AsioIo::Spool {
  explicit Spool(boost::asio::io_context& context) : lazy_sync(context) {}
  // Records that nothing waits on urgently (removals) get no fdatasync of their own: the
  // next one started for a commit covers them, or this timer starts one shortly after.
  boost::asio::steady_timer lazy_sync;
  bool lazy_sync_armed = false;
  bool loaded = false;
  std::map<std::uint64_t, std::shared_ptr<Segment>> segments;  // every file of log/, by number
  std::shared_ptr<Segment> current;                            // appends go here
  std::unordered_map<std::string, LiveMessage> live;
  std::set<std::string> committing;  // external bodies renamed into body/, record pending
  bool collecting = false;           // a job deleting dead segments runs
  // How long this disk's fdatasyncs take (moving average) and when the last one ended: an
  // fdatasync may run on the engine thread when the disk is fast and idle (sync_segment).
  // Unmeasured at first: as slow as the default spool_inline_sync_max allows, so that the
  // first ones go to the pool.
  std::chrono::nanoseconds sync_estimate = std::chrono::milliseconds(1);
  std::chrono::steady_clock::time_point last_sync_end{};
  std::size_t last_sync_answered = 0;  // urgent records the last fdatasync made durable
  std::uint64_t syncs_inline = 0;      // counts, for tests
  std::uint64_t syncs_pooled = 0;
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
