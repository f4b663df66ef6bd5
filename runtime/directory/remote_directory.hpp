// runtime/directory/remote_directory.hpp — what the imap, smtp and lmtp directories share:
// their settings, the authentication cache, and the request pool that bounds how many
// connections they open to the remote server.
//
// Contract:
// - RemoteDirectorySettings is plain data (config/ fills it; this layer never includes
//   config/). `address` is an IP literal ("192.0.2.1", "2001:db8::1", "[::1]") or a host
//   name. A host name is resolved (A, then AAAA: runtime/outbound host_resolver) when a
//   request first needs the server, and again kHostNameTtl after each answer; requests
//   wait in the queue meanwhile (their timeout runs). New connections use the first
//   address; connections already open keep theirs. A failed lookup with no earlier answer
//   makes the waiting requests `unavailable` and last_failure() names the host and the
//   cause; after an earlier answer, that answer stays in use and the lookup is retried
//   kHostNameRetry later. Anything that is neither an IP literal nor a host name makes
//   every request that needs the server `unavailable`, and last_failure() says why.
// - Transport security, by tls_implicit and starttls: tls_implicit → TLS right after
//   connect; otherwise starttls (the default) → the client machine upgrades with STARTTLS
//   right after EHLO/LHLO or CAPABILITY, before any credentials or probe, and a server that
//   does not offer it, refuses it, or fails the handshake makes the request `unavailable`;
//   both false → plain text, credentials in clear (the operator's explicit choice, and the
//   only case where they cross unencrypted). TLS certificates (implicit or STARTTLS) are
//   verified against `address` (the host name, or the IP) unless allow_invalid_certs.
// - Every answer is posted through the Io (never given inside the call), exactly once,
//   unless the directory is destroyed first. A server that is down, refuses the
//   connection, fails TLS, times out or sends garbage gives `unavailable` (a 4xx upstream),
//   never rejected/unknown.
// - `timeout` bounds each request from its arrival: the wait in the queue, connect, TLS
//   and the exchange. At most pool_max_connections connections exist at once; requests
//   beyond wait in FIFO order, at most queue_max of them; beyond that: unavailable.
// - AuthCache keys credentials by SHA-256 over (length of user, user, password) and users
//   by SHA-256 over the user alone: it never stores a password. authenticated answers live
//   cache_positive_ttl, rejected ones cache_negative_ttl; unavailable is never cached. After
//   limits_auth_errors consecutive rejections of one user (each within cache_negative_ttl
//   of the previous one) that user is answered `rejected` without asking the server until
//   cache_negative_ttl has passed since the last real rejection, except for credentials
//   already cached as good (a guesser cannot lock out a user who just logged in). Each of
//   the three tables holds at most cache_entries_max entries; the oldest goes first.
// - may_send_as: an address equal to the login (ASCII case-insensitive) is allowed,
//   anything else not_owned. is_local_domain: lookup_domains, case-insensitive.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/directory/directory.hpp"
#include "runtime/directory/remote_link.hpp"
#include "runtime/io.hpp"
#include "runtime/outbound/remote_delivery.hpp"

namespace tern::runtime::directory {

struct RemoteDirectorySettings {
  std::string address;  // an IP literal or a host name (see the contract)
  std::uint16_t port = 0;
  bool tls_implicit = false;             // TLS right after connect
  bool starttls = true;                  // without tls_implicit: STARTTLS required (contract)
  bool allow_invalid_certs = false;      // skip certificate verification (testing only)
  std::size_t limits_rcpt = 100;         // recipient checks per pooled connection (0 acts as 1)
  std::uint32_t limits_auth_errors = 3;  // 0: no lockout
  std::vector<std::string> lookup_domains;
  Duration timeout = Duration::seconds(15);
  Duration idle_timeout = Duration::seconds(30);  // an unused pooled connection is closed
  std::size_t pool_max_connections = 10;          // 0 acts as 1
  std::size_t queue_max = 1'000;
  Duration cache_positive_ttl = Duration::minutes(60);
  Duration cache_negative_ttl = Duration::minutes(10);
  std::size_t cache_entries_max = 1'000;
  std::string helo_name = "localhost";  // smtp/lmtp: what EHLO/LHLO says
};

// True for a dotted-quad IPv4 or an RFC 4291 IPv6 text form (optionally in brackets).
[[nodiscard]] bool is_ip_literal(std::string_view text);
[[nodiscard]] bool is_host_name(std::string_view text);  // an RFC 5321 Domain, not an IPv4

using Digest = std::array<unsigned char, 32>;

class AuthCache {
 public:
  struct Keys {
    Digest credentials{};
    Digest user{};
  };
  enum class Hit { none, authenticated, rejected, locked_out };
  struct Found {
    Hit hit = Hit::none;
    AuthOutcome outcome;  // for authenticated: the principal and addresses
  };

  AuthCache(Duration positive_ttl, Duration negative_ttl, std::size_t entries_max,
            std::uint32_t auth_errors_max);

  // nullopt only when libcrypto could not hash (out of memory).
  [[nodiscard]] static std::optional<Keys> keys_for(std::string_view user,
                                                    std::string_view password);
  [[nodiscard]] Found lookup(const Keys& keys, Instant now);
  void record(const Keys& keys, const AuthOutcome& outcome, Instant now);
  [[nodiscard]] std::size_t size() const;  // entries in all three tables

 private:
  template <class Value>
  class Table {  // bounded, oldest inserted evicted first
   public:
    Value* find(const Digest& key, Instant now);
    void put(const Digest& key, Value value, std::size_t entries_max);
    void erase(const Digest& key);
    std::size_t size() const { return entries_.size(); }

   private:
    struct Slot {
      Value value;
      std::list<Digest>::iterator age;
    };
    std::map<Digest, Slot> entries_;
    std::list<Digest> order_;  // oldest first
  };
  struct Good {
    Instant expires;
    std::string principal;
    std::vector<std::string> addresses;
  };
  struct Bad {
    Instant expires;
  };
  struct Failures {
    Instant expires;
    std::uint32_t count = 0;
  };

  Duration positive_ttl_;
  Duration negative_ttl_;
  std::size_t entries_max_;
  std::uint32_t auth_errors_max_;
  Table<Good> good_;
  Table<Bad> bad_;
  Table<Failures> failures_;
};

// The shared half of ImapDirectory and SmtpDirectory: answers, cache, queue and pool.
class RemoteDirectory : public Directory {
 public:
  ~RemoteDirectory() override;
  RemoteDirectory(const RemoteDirectory&) = delete;
  RemoteDirectory& operator=(const RemoteDirectory&) = delete;

  void authenticate(std::string_view user, std::string_view password,
                    std::function<void(AuthOutcome)> on_done) final;
  void may_send_as(std::string_view principal, std::string_view address,
                   std::function<void(SenderOutcome)> on_done) final;
  bool is_local_domain(std::string_view domain) const final;

  // For tests and logs.
  [[nodiscard]] std::size_t connections() const { return connections_; }
  [[nodiscard]] std::size_t queued() const { return queue_.size(); }
  [[nodiscard]] const AuthCache& cache() const { return cache_; }
  [[nodiscard]] const std::string& last_failure() const { return last_failure_; }

 protected:
  struct Job {
    std::uint64_t id = 0;
    bool auth = false;
    std::string user;      // auth
    std::string password;  // auth: cleared once handed to the protocol machine
    AuthCache::Keys keys;  // auth
    std::string address;   // recipient check
    std::function<void(AuthOutcome)> on_auth;
    std::function<void(RecipientOutcome)> on_rcpt;
    std::optional<TimerId> timer;
    std::function<void()> abort;  // set while it runs: drops its connection
  };
  using JobPtr = std::shared_ptr<Job>;

  RemoteDirectory(Io& io, RemoteDirectorySettings settings);

  // Runs `job` now (a free slot or an idle connection), or returns false to leave it queued.
  virtual bool try_start(const JobPtr& job) = 0;

  // A recipient check the server must answer: queued, then try_start.
  void enqueue_rcpt(std::string_view address, std::function<void(RecipientOutcome)> on_done);
  void dispatch();  // starts queued jobs while try_start accepts them
  void finish_auth(const JobPtr& job, AuthOutcome outcome, bool from_server = true);
  void finish_rcpt(const JobPtr& job, RecipientOutcome outcome);
  void fail(const JobPtr& job, std::string detail);  // unavailable, and last_failure
  void post_rcpt(std::function<void(RecipientOutcome)> on_done, RecipientOutcome outcome);
  bool answered(const JobPtr& job) const { return !jobs_.contains(job->id); }
  void note_failure(std::string detail) { last_failure_ = std::move(detail); }
  bool in_lookup_domains(std::string_view address) const;
  // What the link does about TLS; starttls_required() says the machine must upgrade.
  LinkTls link_tls() const;
  bool starttls_required() const { return !settings_.tls_implicit && settings_.starttls; }
  bool clear_credentials_allowed() const { return !settings_.tls_implicit && !settings_.starttls; }
  std::size_t pool_max() const;

  Io& io_;
  const RemoteDirectorySettings settings_;
  std::optional<Endpoint> endpoint_;  // nullopt: a bad address, or a name not resolved yet
  std::size_t connections_ = 0;       // connecting, busy, idle or closing
  std::uint64_t next_id_ = 1;

 private:
  JobPtr add_job(bool auth);
  void on_deadline(std::uint64_t id);
  void answer(const JobPtr& job);  // forgets the job and cancels its timer
  // Host names: false when dispatch must wait for an answer from DNS (one lookup at a time).
  bool endpoint_ready();
  void on_resolved(outbound::ResolveResult result);

  static constexpr Duration kHostNameTtl = Duration::minutes(5);
  static constexpr Duration kHostNameRetry = Duration::seconds(30);
  bool host_name_ = false;  // address is a host name, resolved through resolver_
  bool resolving_ = false;
  Instant endpoint_expires_{};
  outbound::Resolver resolver_;

  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted answers check it
  std::map<std::uint64_t, JobPtr> jobs_;                   // unanswered
  std::deque<JobPtr> queue_;
  bool dispatching_ = false;
  bool redispatch_ = false;
  AuthCache cache_;
  std::string last_failure_;
};

[[nodiscard]] std::string ascii_lower(std::string_view text);

}  // namespace tern::runtime::directory
