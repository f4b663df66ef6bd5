#include "runtime/directory/imap_directory.hpp"

#include <utility>

namespace tern::runtime::directory {

namespace imap = protocol::imap;

ImapDirectory::ImapDirectory(Io& io, RemoteDirectorySettings settings)
    : RemoteDirectory(io, std::move(settings)) {}

ImapDirectory::~ImapDirectory() {
  for (auto& [id, link] : links_) link->close();
}

void ImapDirectory::check_recipient(std::string_view address,
                                    std::function<void(RecipientOutcome)> on_done) {
  if (in_lookup_domains(address)) {
    return post_rcpt(std::move(on_done), {RecipientStatus::local, ascii_lower(address)});
  }
  post_rcpt(std::move(on_done), {RecipientStatus::unknown, {}});
}

bool ImapDirectory::try_start(const JobPtr& job) {
  if (connections_ >= pool_max()) return false;
  ++connections_;
  const std::uint64_t link_id = next_id_++;
  imap::ClientConfig config;
  config.tls_active = settings_.tls_implicit;
  config.starttls = starttls_required() ? imap::TlsPolicy::required : imap::TlsPolicy::never;
  config.plaintext_without_tls = clear_credentials_allowed();
  config.greeting_timeout = settings_.timeout;
  config.command_timeout = settings_.timeout;
  imap::AuthRequest request;
  request.mechanisms = {"PLAIN"};  // LOGIN (the command) when PLAIN is not offered
  request.credentials.username = job->user;
  request.credentials.password = std::move(job->password);
  job->password.clear();
  Link::Hooks hooks;
  hooks.make = [config, request = std::move(request)](Instant now) {
    auto machine = std::make_unique<imap::ClientSession>(config, now);
    (void)machine->authenticate(request, now);  // a fresh machine cannot refuse it
    return machine;
  };
  hooks.on_event = [this, link_id, job](imap::ClientEvent& event) {
    on_event(link_id, job, event);
  };
  hooks.on_end = [this, link_id, job](std::string detail) {
    on_end(link_id, job, std::move(detail));
  };
  auto link = std::make_shared<Link>(io_, std::move(hooks));
  links_.emplace(link_id, link);
  job->abort = [this, link_id] { drop(link_id); };
  link->start(*endpoint_, settings_.timeout, link_tls());
  return true;
}

void ImapDirectory::on_event(std::uint64_t, const JobPtr& job, imap::ClientEvent& event) {
  const auto* outcome = std::get_if<imap::OutcomeEvent>(&event);
  if (outcome == nullptr) return;
  switch (outcome->outcome) {
    case imap::Outcome::accepted: {
      std::vector<std::string> addresses;
      if (job->user.find('@') != std::string::npos) addresses.push_back(ascii_lower(job->user));
      return finish_auth(job, {AuthStatus::authenticated, job->user, std::move(addresses),
                               "accepted by the IMAP server"});
    }
    case imap::Outcome::rejected:
      return finish_auth(job, {AuthStatus::rejected, {}, {}, "rejected by the IMAP server"});
    case imap::Outcome::temporary_failure:
      return fail(job, "imap directory: " + outcome->text.substr(0, 200));
  }
}

void ImapDirectory::on_end(std::uint64_t link_id, const JobPtr& job, std::string detail) {
  fail(job, "imap directory: " + detail);  // nothing when the outcome came first
  links_.erase(link_id);
  --connections_;
  dispatch();
}

void ImapDirectory::drop(std::uint64_t link_id) {
  auto it = links_.find(link_id);
  if (it == links_.end()) return;
  it->second->close();
  links_.erase(it);
  --connections_;
  dispatch();
}

}  // namespace tern::runtime::directory
