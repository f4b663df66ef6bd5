// runtime/outbound/remote_delivery.hpp — delivers ONE spooled message to ONE remote host
// (a `remote.<id>` of the configuration: SMTP or LMTP, implicit TLS, STARTTLS or clear,
// optional AUTH) for a group of its recipients, over the Io, by driving the client machine
// (protocol/smtp/client_session.hpp).
//
// Contract:
// - RemoteDelivery::start(io, request, on_done, resolver) begins the attempt and returns a
//   handle; on_done runs exactly once, never inside start(), with one RecipientResult per
//   request recipient (same order), unless cancel() is called first (then never). The
//   attempt keeps itself alive until it ends: the caller may drop the handle at any time
//   (the QUIT after the report still goes out).
// - Address: the resolver turns RemoteHost::address into targets (their port is replaced
//   by RemoteHost::port), at most endpoints_max are tried, in order. A failure whose detail
//   starts with a reply code ("556 5.1.10 ...") is reported as it is, else prefixed with
//   the host. Without a resolver, host_resolver (runtime/outbound/mx_resolver.hpp): IPs,
//   "localhost", else A/AAAA through Io::dns_query. A permanent resolver failure fails
//   every recipient permanently.
// - An endpoint that fails before the transaction starts (connect refused or timed out,
//   TLS handshake failed or stalled, greeting or EHLO refused, STARTTLS required but not
//   offered, AUTH refused, a malformed reply, a timeout, the connection lost) is skipped
//   for the next one; when none is left every recipient fails TEMPORARILY with the last
//   reason. Choices: a 5xx greeting is temporary (as Postfix's smtp_skip_5xx_greeting:
//   a relay's 554 is most often a passing block) except 521, which RFC 7504 §3 makes
//   permanent; AUTH refused (535 included) is temporary, because wrong credentials are our
//   configuration's fault, not the message's, and bouncing would lose mail that goes
//   through once the administrator fixes them (Postfix's smtp_sasl_auth_soft_bounce). An
//   LMTP store that offers no AUTH at all is used without it (LMTP is final delivery).
//   TLS: tls `starttls` requires STARTTLS (not offered -> temporary), `none` never tries it,
//   `implicit` handshakes first; credentials are never sent without TLS (temporary).
//   With DeliveryRequest::opportunistic_tls (MX delivery, queue.outbound.tls.starttls =
//   optional) `starttls` becomes: use STARTTLS when offered, without verifying the
//   certificate (RFC 7435: anything beats clear text), and when that handshake fails, try
//   the same endpoint once more in clear text.
// - Once MAIL has been sent, the machine's per-recipient outcomes are final: RCPT
//   refusals, then one reply for all after the body (SMTP) or one per accepted recipient
//   (LMTP, RFC 2033 §4.2); a failure of the connection then fails the open recipients as
//   the machine says (temporary). MAIL parameters kept from the spool: BODY=, SMTPUTF8,
//   RET=, ENVID= (the machine sends only what the server offers) plus SIZE= the body size;
//   RCPT NOTIFY=/ORCPT= only when the server offers DSN. A recipient or sender the spool
//   holds but that does not parse fails permanently without a connection.
// - The body (our Received header included) is streamed in body_chunk_bytes pieces; the
//   machine's unsent output never holds more than about two chunks.
// - Connection reuse: with a ConnectionCache, a connection whose transaction ended well is
//   kept (idle, at most idle_max, and no older than age_max) for the next message to the
//   same destination (same host, port, protocol, TLS mode, credentials and HELO name): it
//   starts with RSET instead of a new connection, TLS handshake and AUTH. A kept
//   connection the server closed meanwhile is noticed before the first recipient's
//   outcome, and the delivery then starts afresh on a new connection; nothing is lost.
// - Timeouts: connect, each reply (RFC 5321 §4.5.3.2: greeting/commands 5 min, DATA
//   initiation 2 min, end of data 10 min), and a write or TLS handshake that makes no
//   progress for data_block (3 min, §4.5.3.2.6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/core/expected.hpp"
#include "protocol/route/router.hpp"
#include "runtime/io.hpp"

namespace tern::runtime::outbound {

struct ResolveFailure {
  bool permanent = false;  // e.g. NXDOMAIN: the host does not exist
  std::string detail;      // "MX lookup for example.org failed: ..."
};
// One place to connect to; `name` is the host name the certificate must match (and SNI):
// the MX exchange, or the remote's address.
struct ResolvedTarget {
  Endpoint endpoint;
  std::string name;
};
using ResolveResult = protocol::Expected<std::vector<ResolvedTarget>, ResolveFailure>;
using ResolveHandler = std::function<void(ResolveResult)>;
// Must answer exactly once; may answer inside the call (RemoteDelivery copes).
using Resolver = std::function<void(std::string host, ResolveHandler on_done)>;

struct DeliveryTimeouts {
  Duration connect = Duration::minutes(5);
  Duration greeting = Duration::minutes(5);    // §4.5.3.2.1
  Duration command = Duration::minutes(5);     // §4.5.3.2.2-3 (EHLO, MAIL, RCPT, AUTH ...)
  Duration data_start = Duration::minutes(2);  // §4.5.3.2.4
  Duration data_block = Duration::minutes(3);  // §4.5.3.2.5: a write or handshake stuck
  Duration data_end = Duration::minutes(10);   // §4.5.3.2.6
};

struct DeliveryRecipient {
  std::string address;  // as spooled, without angle brackets
  std::string params;   // RCPT parameters as spooled ("NOTIFY=FAILURE ORCPT=rfc822;a@b")
};

struct DeliveryRequest {
  protocol::route::RemoteHost host;
  std::string helo_name = "localhost";
  DeliveryTimeouts timeouts;
  std::string sender;                         // "" for the null reverse-path
  std::string sender_params;                  // MAIL parameters as spooled
  std::vector<DeliveryRecipient> recipients;  // at least one
  std::string body;
  std::size_t body_chunk_bytes = std::size_t{64} * 1024;
  std::size_t endpoints_max = 8;
  bool opportunistic_tls = false;  // see the contract
};

enum class DeliveryStatus { delivered, temporary_failure, permanent_failure };
std::string_view to_string(DeliveryStatus status);

struct RecipientResult {
  DeliveryStatus status = DeliveryStatus::temporary_failure;
  // The server's reply on one line, "550 5.1.1 no such user" (lines joined by a space), or
  // our own reason, "connect 192.0.2.1:25: Connection refused".
  std::string text;
  bool from_server = false;  // text is the server's reply
};

struct DeliveryReport {
  std::vector<RecipientResult> recipients;  // one per request recipient, same order
  std::string host;                         // RemoteHost::address
  std::optional<Endpoint> endpoint;         // the endpoint of the transaction, if any
  std::string server_name;                  // its host name (the MX exchange), if any
  std::string last_target;                  // "mx1.example.org 192.0.2.7:25": the last tried
  bool dsn_supported = false;               // the server offered DSN (RFC 3461)
  std::optional<std::string> tls_version;   // TLS was active for the transaction
};

class Attempt;  // the state of one attempt (remote_delivery.cpp)

// Idle connections between messages. Owned by its user through a shared_ptr (attempts keep
// a weak one); destroying it closes every idle connection.
class ConnectionCache {
 public:
  explicit ConnectionCache(Duration idle_max = Duration::seconds(5),
                           Duration age_max = Duration::minutes(5), std::size_t per_key_max = 4)
      : idle_max_(idle_max), age_max_(age_max), per_key_max_(per_key_max) {}
  ~ConnectionCache();
  ConnectionCache(const ConnectionCache&) = delete;
  ConnectionCache& operator=(const ConnectionCache&) = delete;

  std::size_t idle_count() const { return idle_.size(); }
  std::size_t reused_count() const { return reused_; }  // transactions on a kept connection

 private:
  friend class Attempt;
  friend class RemoteDelivery;
  bool put(const std::string& key, std::shared_ptr<Attempt> attempt);
  std::shared_ptr<Attempt> take(const std::string& key);
  void erase(const Attempt* attempt);

  Duration idle_max_;
  Duration age_max_;
  std::size_t per_key_max_;
  std::size_t reused_ = 0;
  std::vector<std::pair<std::string, std::shared_ptr<Attempt>>> idle_;
};

// A handle on an attempt; dropping it does not stop the attempt.
class RemoteDelivery {
 public:
  using Done = std::function<void(DeliveryReport)>;
  static RemoteDelivery start(Io& io, DeliveryRequest request, Done on_done,
                              Resolver resolver = {},  // empty: host_resolver(io, {})
                              std::shared_ptr<ConnectionCache> cache = nullptr);
  // No callback runs after this; the connection, if any, is closed at once.
  void cancel();
  bool finished() const;  // on_done has run (or cancel was called)

 private:
  explicit RemoteDelivery(std::shared_ptr<Attempt> attempt) : attempt_(std::move(attempt)) {}
  std::shared_ptr<Attempt> attempt_;
};

}  // namespace tern::runtime::outbound
