// runtime/directory/imap_directory.hpp — the `imap` directory: credentials are checked by
// logging in to a remote IMAP server; recipients by the lookup domains alone.
//
// Contract (beyond remote_directory.hpp):
// - authenticate(user, password): one connection per check, secured as
//   remote_directory.hpp says: implicit TLS, else STARTTLS required (TlsPolicy::required:
//   CAPABILITY, STARTTLS, the handshake, capabilities again), else, only with starttls =
//   false, plain text, where plaintext AUTHENTICATE PLAIN and LOGIN are allowed (the
//   operator chose a clear channel). The client machine uses AUTHENTICATE PLAIN when
//   offered, else LOGIN, then LOGOUT; a connection that logged in is a user's session and
//   is never reused. accepted → authenticated (principal: the login; addresses: the login
//   when it is an address), rejected (a NO for the credentials) → rejected, anything else
//   (NO [UNAVAILABLE], BYE, garbage, timeout, refused, STARTTLS not offered or refused,
//   TLS failure) → unavailable.
// - check_recipient(address): IMAP cannot tell whether a mailbox exists without its
//   password, so an address at a lookup domain is `local` (principal: the address,
//   lowercased) and anything else `unknown`, answered without a connection. The store that
//   delivers must therefore cope with accounts it does not know.
#pragma once

#include <map>
#include <memory>

#include "protocol/imap/client_session.hpp"
#include "runtime/directory/remote_directory.hpp"
#include "runtime/directory/remote_link.hpp"

namespace tern::runtime::directory {

class ImapDirectory final : public RemoteDirectory {
 public:
  ImapDirectory(Io& io, RemoteDirectorySettings settings);
  ~ImapDirectory() override;

  void check_recipient(std::string_view address,
                       std::function<void(RecipientOutcome)> on_done) override;

 private:
  using Link = RemoteLink<protocol::imap::ClientSession, protocol::imap::StartTlsEvent>;

  bool try_start(const JobPtr& job) override;
  void on_event(std::uint64_t link_id, const JobPtr& job, protocol::imap::ClientEvent& event);
  void on_end(std::uint64_t link_id, const JobPtr& job, std::string detail);
  void drop(std::uint64_t link_id);

  std::map<std::uint64_t, std::shared_ptr<Link>> links_;
};

}  // namespace tern::runtime::directory
