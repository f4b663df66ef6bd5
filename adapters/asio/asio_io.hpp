// adapters/asio/asio_io.hpp — the production Io: Boost.Asio sockets and timers, OpenSSL
// TLS, the file-system spool and the Maildir store. runtime/io.hpp states the contract this
// class keeps; what follows is only what this implementation adds to it.
//
// Contract:
// - One io_context, run by one thread (ternd's engine thread). Every method is called on
//   that thread and every callback runs there. Disk work that needs fsync (the spool's
//   fdatasyncs, large bodies, segment deletion, maildir_deliver) runs on a private pool of
//   4 threads, so several fsyncs are in flight at once; its result is posted back to the
//   io_context. While such work is outstanding the io_context counts as busy (run() does not
//   return). Destroying the AsioIo waits for that work; none of its callbacks run afterwards.
// - Time: now() is steady_clock since its epoch; timers fire at that clock's instants.
//   random_u64() reads getrandom(2).
// - Network: listen() binds with SO_REUSEADDR (and IPV6_V6ONLY for IPv6 addresses, so "::"
//   and "0.0.0.0" can coexist) and fails with invalid for a bad address and io_error when
//   the bind fails. connect() reports refused (refused, unreachable), timeout, or invalid
//   (bad address). A read error other than eof is reset. Reads land in one 64 KiB buffer
//   shared by every connection (the engine is one thread and read() hands over bytes valid
//   only during the callback), so an idle connection holds no read buffer at all.
// - TLS: OpenSSL 3 driven directly on the socket (no asio::ssl::stream, whose two 17 KiB
//   staging buffers and BIO pair would cost ~70 KiB per connection). TLS 1.2 or later; the
//   record buffers are freed whenever a session waits (SSL_free_buffers); the server issues
//   no session tickets and keeps no session cache (MTAs rarely resume). A handshake that takes more
//   than handshake_timeout fails with timeout; any other handshake failure is tls_failed. The
//   client side sends SNI (when server_name is a name), always checks the chain against the
//   system CA store and the name, fails the handshake on a mismatch only when
//   options.verify, and reports the outcome in TlsFacts::peer_verified. start_tls_* while a
//   read or write is outstanding is misuse (the callback gets invalid).
// - Spool (under spool_dir; docs/spool.md): runtime/spool/log_spool.hpp on PosixFileOps
//   (posix_file_ops.hpp): an append-only log of records in log/*.log (commit, envelope,
//   remove; runtime/spool/spool_log.hpp), bodies over spool_inline_body_max in
//   body/<id>, spilled bodies being received in tmp/. Records are written on the engine
//   thread in call order; a callback reports success once an fdatasync begun after the
//   record's write has finished (one at a time per segment: group commit). spool_list
//   reads the log back (stopping each segment at a torn record), then starts a new segment;
//   any other spool call reads it first if nothing has. Dead segments are deleted oldest
//   first; the live messages of an old segment are copied forward when the log holds more
//   segments than its live data needs. spool_create fails with invalid for an id outside
//   [A-Za-z0-9]{1,64}; disk errors are no_space (ENOSPC, EDQUOT) or io_error;
//   update/read/remove of a message that does not exist are not_found. Bodies and
//   envelopes are limited to spool_file_bytes_max (no_space beyond).
// - Maildir (under maildir_dir): <account>/{tmp,new,cur} are created (0700) when missing;
//   file names follow the Maildir spec "<sec>.M<usec>P<pid>Q<n>.<host>". An account that is
//   empty, longer than 255 bytes, contains '/' or NUL, or starts with '.' is invalid.
// - DNS (asio_dns.cpp): libunbound, one ub_ctx per AsioIo created on the first dns_query
//   from `options.resolver` (a setup failure answers that query, and every later one, with
//   dns_failed naming the cause). Its background thread's results arrive on ub_fd(), which
//   Asio watches; ub_process runs on the engine thread. Queries are class IN. A name that is
//   empty, ends with '.', holds a NUL or is longer than 253 bytes is dns_failed "bad name".
//   NXDOMAIN is DnsAnswer{nxdomain}; NOERROR copies each RDATA (empty = NODATA), `secure`
//   and the canonical name (without its final dot); a bogus answer, SERVFAIL, REFUSED, any
//   other rcode and a libunbound error are dns_failed, detailed as "MX example.org: SERVFAIL";
//   no answer within `timeout` cancels the query (ub_cancel) and is timeout. At most
//   dns_queries_max queries are in flight (dns_failed beyond). ~AsioIo deletes the ub_ctx;
//   no DNS callback runs afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "runtime/io.hpp"

struct ssl_st;  // OpenSSL's SSL

namespace tern::runtime::spool {
class LogSpool;  // runtime/spool/log_spool.hpp
}

namespace tern::adapters::asio {

// Where libunbound sends its queries.
struct ResolverOptions {
  enum class Mode {
    system,     // the name servers of resolv_conf, and hosts_file
    custom,     // every query goes to `forwarders` (127.0.0.0/8 and ::1 included)
    recursive,  // libunbound's own recursion from the root servers
  };
  Mode mode = Mode::system;
  std::vector<runtime::Endpoint> forwarders;  // custom only; port 0 means 53
  std::string resolv_conf = "/etc/resolv.conf";
  std::string hosts_file = "/etc/hosts";  // system only; "" = none
  std::string trust_anchor_file;          // DNSSEC root key file; "" = no validation
  std::size_t dns_queries_max = 4096;     // in flight at once
};

struct AsioIoOptions {
  std::string spool_dir;    // holds log/, body/ and tmp/ (docs/spool.md)
  std::string maildir_dir;  // holds one Maildir per account
  runtime::Duration handshake_timeout = runtime::Duration::seconds(30);
  std::uint64_t spool_file_bytes_max = std::uint64_t{1} << 30;  // one body or envelope
  int listen_backlog = 512;
  ResolverOptions resolver = {};
  // A body up to this size is held in memory while it arrives and written into the log
  // with its commit record; a larger one goes to tmp/ and then to body/<id>.
  std::uint64_t spool_inline_body_max = 128 * 1024;
  // The log starts a new segment once the current one holds this much.
  std::uint64_t spool_segment_bytes = 64 * 1024 * 1024;
  // An fdatasync may run on the engine thread (no pool hand-off) when the disk is idle and
  // its recent fdatasyncs took less than this (asio_spool.cpp, sync_segment); zero: never.
  std::chrono::microseconds spool_inline_sync_max = std::chrono::milliseconds(1);
};

// A certificate and its key, both PEM, for ternd's first start.
struct SelfSignedIdentity {
  std::string certificate_pem;
  std::string private_key_pem;
};

// An EC P-256 key and a self-signed certificate valid for 10 years whose CN and
// subjectAltName are `hostname` (an IP address becomes an IP SAN). Fails with invalid for
// an empty hostname or one longer than 253 bytes, tls_failed when OpenSSL fails.
runtime::IoResult<SelfSignedIdentity> generate_self_signed(std::string_view hostname);

class PosixFileOps;  // posix_file_ops.hpp

class AsioIo final : public runtime::Io {
 public:
  AsioIo(boost::asio::io_context& context, AsioIoOptions options);
  ~AsioIo() override;
  AsioIo(const AsioIo&) = delete;
  AsioIo& operator=(const AsioIo&) = delete;

  // The address a listener is bound to (tells the port chosen for port 0); nullopt for an
  // unknown listener.
  std::optional<runtime::Endpoint> listener_endpoint(runtime::ListenerId listener) const;
  std::size_t connection_count() const { return conns_.size(); }

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

  // How many of the spool's fdatasyncs ran on the engine thread and how many on the pool
  // (see PosixFileOps::sync_async); for tests.
  struct SpoolSyncCounts {
    std::uint64_t on_engine = 0;
    std::uint64_t on_pool = 0;
  };
  SpoolSyncCounts spool_sync_counts() const;

  // Internal state, defined in asio_internal.hpp.
  struct Conn;
  struct Listener;
  struct Timer;
  struct TlsIdentity;
  struct Dns;

 private:
  using ConnPtr = std::shared_ptr<Conn>;

  runtime::ConnId add_conn(ConnPtr conn);
  ConnPtr find_conn(runtime::ConnId id) const;
  void accept_next(const std::shared_ptr<Listener>& listener);
  void read_wait(const ConnPtr& conn);
  void read_attempt(const ConnPtr& conn);
  void deliver_read(const ConnPtr& conn, runtime::IoResult<std::span<const char>> result);
  void tls_read_attempt(const ConnPtr& conn);
  void tls_write_attempt(const ConnPtr& conn);
  void finish_write(const ConnPtr& conn, runtime::IoStatus status);
  void start_handshake(const ConnPtr& conn, ssl_st* ssl, TlsHandler on_done);
  void handshake_step(const ConnPtr& conn);
  void finish_handshake(const ConnPtr& conn, runtime::IoResult<runtime::TlsFacts> result);
  void wait_socket(const ConnPtr& conn, bool for_write, std::function<void()> then);
  // Runs `work` on the disk pool and `on_done(result)` back on the engine thread.
  template <class R, class Work, class Done>
  void on_pool(Work work, Done on_done);
  runtime::spool::LogSpool& spool();  // made on first use

  boost::asio::io_context& context_;
  AsioIoOptions options_;
  boost::asio::thread_pool pool_{4};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // pool results check it
  std::vector<char> read_buffer_;                          // shared, see the contract
  std::unordered_map<runtime::ConnId, ConnPtr> conns_;
  std::unordered_map<runtime::ListenerId, std::shared_ptr<Listener>> listeners_;
  std::unordered_map<runtime::TimerId, std::shared_ptr<Timer>> timers_;
  std::shared_ptr<PosixFileOps> files_;              // the spool's files
  std::unique_ptr<runtime::spool::LogSpool> spool_;  // the log (runtime/spool/log_spool.hpp)
  std::map<runtime::TlsIdentityId, std::shared_ptr<TlsIdentity>> identities_;
  std::shared_ptr<TlsIdentity> client_tls_;  // built on first start_tls_client
  std::uint64_t next_id_ = 1;                // one counter for every kind of id
  std::uint64_t temp_counter_ = 0;           // unique names of temporary files
  std::string host_name_;                    // for Maildir names
  std::shared_ptr<Dns> dns_;                 // built on the first dns_query
};

}  // namespace tern::adapters::asio
