// runtime/io.hpp — the one interface through which the engine sees the world: clocks,
// timers, randomness, TCP with TLS, the durable spool and the Maildir store.
//
// Contract (for every implementation: adapters/asio in production, adapters/sim in tests):
// - Single-threaded: every method is called on the engine's thread, and every callback is
//   run on that thread, never from inside the call that started the operation (an
//   implementation that completes at once posts the callback). So the engine never
//   re-enters itself.
// - Cancellation: after close(conn) no callback of that connection runs again; after
//   cancel_timer(id) that timer's callback does not run. Operations on a closed or unknown
//   connection are misuse (assert in debug builds, ignored otherwise).
// - One read and one write may be outstanding per connection. read() hands over the bytes
//   that arrived (valid only during the callback); the end of the peer's stream is an
//   IoError with IoErrc::eof. write() sends every byte or fails; the caller keeps the bytes
//   alive and unchanged until its callback runs.
// - Errors are values (IoError): a code the engine acts on and a detail for logs. Nothing
//   throws across this interface.
// - Spool: messages are named by an id the engine chooses ([A-Za-z0-9]{1,64}: valid_spool_id,
//   the one rule both Ios apply). A message is
//   a body and an envelope (opaque bytes for the Io; runtime/spool_format.hpp owns their
//   format). spool_commit makes both durable together (file data and the directory
//   entries fsynced) before its callback reports success: after a crash at any point
//   either both exist complete or neither does. spool_update_envelope atomically replaces
//   the envelope (durable when the callback reports success; after a crash the old or the
//   new one, never a mix). spool_list (at start) reports every committed message and
//   removes what no commit finished.
// - Maildir: maildir_deliver writes `prefix` followed by the spooled body into
//   <maildir root>/<account>/tmp, fsyncs it, renames it into new/ and fsyncs new/; the
//   callback reports success only after all of that. The account name is checked by the
//   engine (runtime/local_store.hpp) before it reaches the Io.
// - DNS: dns_query asks the resolver (a validating one in production: libunbound) for one
//   record type of one name and answers exactly once: the records (RDATA in uncompressed
//   wire format, protocol/dns/rdata.hpp reads them), NXDOMAIN, or an error. Failures that
//   say nothing about the name (SERVFAIL, REFUSED, no answer within `timeout`, a DNSSEC
//   answer that fails validation) are IoErrc::dns_failed or timeout: temporary, always.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/expected.hpp"
#include "protocol/core/time.hpp"
#include "runtime/spool_id.hpp"

namespace tern::runtime {

using protocol::Duration;
using protocol::Instant;

enum class IoErrc {
  eof = 1,     // the peer closed its side
  reset,       // the connection broke
  timeout,     // connect or handshake took too long
  refused,     // connection refused or unreachable
  tls_failed,  // handshake or certificate failure
  no_space,    // disk full (ENOSPC, EDQUOT)
  io_error,    // any other failure of the disk
  not_found,   // no such spool message
  invalid,     // a request the Io refuses (bad address, bad certificate ...)
  dns_failed,  // the resolver could not answer (SERVFAIL, REFUSED, bogus DNSSEC, broken)
};

struct IoError {
  IoErrc code = IoErrc::io_error;
  std::string detail;  // for logs: "write: No space left on device"
};

template <class T>
using IoResult = protocol::Expected<T, IoError>;

// The outcome of an operation that returns nothing: no error means success.
struct IoStatus {
  std::optional<IoError> error;
  bool ok() const { return !error.has_value(); }
  static IoStatus success() { return {}; }
  static IoStatus failure(IoErrc code, std::string detail) {
    return IoStatus{IoError{code, std::move(detail)}};
  }
};

inline protocol::Unexpected<IoError> io_failure(IoErrc code, std::string detail) {
  return protocol::Unexpected<IoError>{IoError{code, std::move(detail)}};
}

using ConnId = std::uint64_t;
using ListenerId = std::uint64_t;
using TimerId = std::uint64_t;
using TlsIdentityId = std::uint64_t;
using SpoolWriterId = std::uint64_t;

// An IP endpoint. `ip` is textual ("127.0.0.1", "::1"); parse_endpoint reads (an address,
// never a host name: "localhost:25" is refused)
// "127.0.0.1:25" and "[::1]:25".
struct Endpoint {
  std::string ip;
  std::uint16_t port = 0;
  std::string text() const;  // "127.0.0.1:25", "[::1]:25"
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
[[nodiscard]] std::optional<Endpoint> parse_endpoint(std::string_view text);

struct ConnectionFacts {
  Endpoint local;
  Endpoint remote;
};

struct TlsFacts {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
  int cipher_bits = 0;
  bool peer_verified = false;  // client side: the server's certificate chain and name
};

struct TlsClientOptions {
  std::string server_name;  // SNI and the name verified
  bool verify = true;
};

// The record types the engine asks for (RFC 1035, 3596, 6698).
enum class DnsType : std::uint16_t { a = 1, mx = 15, txt = 16, aaaa = 28, tlsa = 52 };

struct DnsAnswer {
  bool nxdomain = false;           // the name does not exist (rdata is then empty)
  bool secure = false;             // DNSSEC-validated: the chain of trust holds
  std::vector<std::string> rdata;  // one RDATA per record of the type asked; empty = NODATA
  std::string canonical_name;      // after CNAMEs ("" when the resolver does not say)
};

struct SpoolEntry {
  std::string id;
  std::string envelope;
};

class Io {
 public:
  using AcceptHandler = std::function<void(ConnId, ConnectionFacts)>;
  using ConnectHandler = std::function<void(IoResult<ConnId>, ConnectionFacts)>;
  using ReadHandler = std::function<void(IoResult<std::span<const char>>)>;
  using StatusHandler = std::function<void(IoStatus)>;
  using TlsHandler = std::function<void(IoResult<TlsFacts>)>;
  using DeliverHandler = std::function<void(IoResult<std::string>)>;  // the file name
  using DnsHandler = std::function<void(IoResult<DnsAnswer>)>;

  virtual ~Io() = default;

  // Time and randomness.
  virtual Instant now() const = 0;
  virtual std::int64_t wall_unix_seconds() const = 0;  // headers and logs only
  virtual TimerId start_timer(Instant deadline, std::function<void()> on_expiry) = 0;
  virtual void cancel_timer(TimerId timer) = 0;
  virtual void post(std::function<void()> task) = 0;  // run soon, after the current callback
  virtual std::uint64_t random_u64() = 0;

  // TLS identities: a certificate chain and its key, both PEM. Fails with invalid when the
  // PEM does not parse or the key does not match the certificate.
  virtual IoResult<TlsIdentityId> load_tls_identity(std::string_view certificate_pem,
                                                    std::string_view private_key_pem) = 0;

  // Network.
  virtual IoResult<ListenerId> listen(const Endpoint& bind, AcceptHandler on_accept) = 0;
  virtual void stop_listening(ListenerId listener) = 0;
  virtual void connect(const Endpoint& remote, Duration timeout, ConnectHandler on_done) = 0;
  virtual void read(ConnId conn, ReadHandler on_data) = 0;
  virtual void write(ConnId conn, std::span<const char> bytes, StatusHandler on_done) = 0;
  virtual void start_tls_server(ConnId conn, TlsIdentityId identity, TlsHandler on_done) = 0;
  virtual void start_tls_client(ConnId conn, const TlsClientOptions& options,
                                TlsHandler on_done) = 0;
  virtual void close(ConnId conn) = 0;

  // DNS. `name` is an absolute domain name without the final dot ("example.org"); errors
  // are dns_failed or timeout (see the contract above), never anything else.
  virtual void dns_query(std::string name, DnsType type, Duration timeout, DnsHandler on_done) = 0;

  // Spool.
  virtual IoResult<SpoolWriterId> spool_create(std::string_view id) = 0;
  virtual IoStatus spool_append(SpoolWriterId writer, std::span<const char> bytes) = 0;
  virtual void spool_commit(SpoolWriterId writer, std::string envelope, StatusHandler on_done) = 0;
  virtual void spool_discard(SpoolWriterId writer) = 0;
  virtual void spool_update_envelope(std::string_view id, std::string envelope,
                                     StatusHandler on_done) = 0;
  virtual IoResult<std::vector<SpoolEntry>> spool_list() = 0;
  virtual IoResult<std::string> spool_read_body(std::string_view id) = 0;
  virtual void spool_remove(std::string_view id, StatusHandler on_done) = 0;

  // Local store.
  virtual void maildir_deliver(std::string_view account, std::string prefix,
                               std::string_view spool_id, DeliverHandler on_done) = 0;
};

}  // namespace tern::runtime
