// runtime/directory/smtp_directory.hpp — the `smtp` and `lmtp` directories (one class, two
// modes): credentials are checked with AUTH, recipients with MAIL FROM:<> and RCPT TO on a
// remote SMTP or LMTP server.
//
// Contract (beyond remote_directory.hpp):
// - Every connection (AUTH and probes alike) is secured as remote_directory.hpp says:
//   implicit TLS, else STARTTLS required (StartTlsPolicy::require: EHLO/LHLO, STARTTLS,
//   the handshake, EHLO/LHLO again), else, only with starttls = false, plain text.
// - authenticate(user, password): one connection per check, closed with QUIT afterwards.
//   AUTH is never sent in clear unless tls_implicit and starttls are both false. AUTH
//   PLAIN, else LOGIN, whichever the server offers. 235 → authenticated (principal: the
//   login; addresses: the login when it is an address); 535 → rejected; anything else (no
//   AUTH offered, 454, 4xx/5xx greeting, garbage, timeout, refused, STARTTLS not offered
//   or refused, TLS failure) → unavailable.
// - check_recipient(address): an address outside the lookup domains, or that is not a valid
//   SMTP path, is `unknown` without asking. Otherwise the client machine's probe mode sends
//   MAIL FROM:<> and RCPT TO:<address> on a pooled connection that takes up to limits_rcpt
//   checks (then QUIT, and the next check opens a new one); the next check on a connection
//   starts with RSET. RCPT 250/251 → local (principal: the address, lowercased);
//   550/551/553 → unknown; anything else (4xx, other codes, a refused MAIL, a lost
//   connection) → unavailable. An idle pooled connection is closed after idle_timeout, or
//   at once when an authentication needs its slot.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "protocol/smtp/client_session.hpp"
#include "runtime/directory/remote_directory.hpp"
#include "runtime/directory/remote_link.hpp"

namespace tern::runtime::directory {

enum class SmtpDirectoryMode { smtp, lmtp };

class SmtpDirectory final : public RemoteDirectory {
 public:
  SmtpDirectory(Io& io, RemoteDirectorySettings settings, SmtpDirectoryMode mode);
  ~SmtpDirectory() override;

  void check_recipient(std::string_view address,
                       std::function<void(RecipientOutcome)> on_done) override;

  [[nodiscard]] std::size_t idle_connections() const;  // for tests

 private:
  using Link = RemoteLink<protocol::smtp::ClientSession, protocol::smtp::ClientStartTlsEvent>;
  struct Conn {
    std::uint64_t id = 0;
    std::shared_ptr<Link> link;
    bool auth = false;       // a one-shot authentication connection
    JobPtr job;              // the request it serves now
    bool submitted = false;  // the job's probe went out
    bool ready = false;      // ReadyEvent seen and no probe in flight
    bool retiring = false;   // QUIT sent or failed: takes no more jobs
    std::size_t checks = 0;
    std::optional<RecipientOutcome> answer;  // from the probe's RecipientEvent
    std::optional<TimerId> idle_timer;
  };
  using ConnPtr = std::shared_ptr<Conn>;

  bool try_start(const JobPtr& job) override;
  ConnPtr open_connection(const JobPtr& job, bool auth);
  void submit(const ConnPtr& conn);
  void on_event(const ConnPtr& conn, protocol::smtp::ClientEvent& event);
  void on_auth_event(const ConnPtr& conn, protocol::smtp::ClientEvent& event);
  void on_ready(const ConnPtr& conn);
  void go_idle(const ConnPtr& conn);
  void retire(const ConnPtr& conn);  // QUIT
  void on_end(const ConnPtr& conn, std::string detail);
  void drop(std::uint64_t conn_id);  // close at once
  void stop_idle_timer(const ConnPtr& conn);
  RecipientOutcome classify(const protocol::smtp::RecipientEvent& event,
                            const std::string& address) const;

  SmtpDirectoryMode mode_;
  std::map<std::uint64_t, ConnPtr> conns_;
};

}  // namespace tern::runtime::directory
