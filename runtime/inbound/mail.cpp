#include "runtime/inbound/mail.hpp"

#include "runtime/inbound/replies.hpp"
#include "runtime/policy.hpp"

namespace tern::runtime::inbound {

MailPlan plan_mail(const EngineSettings& settings, const protocol::route::Variables& vars,
                   const std::string& authenticated_as, const std::string& sender) {
  if (authenticated_as.empty() || sender.empty() ||
      !policy_bool(settings, "session.auth.must-match-sender", vars))
    return MailPlan{};
  return MailPlan{policy_directory(settings, "session.auth.directory", vars)};
}

std::optional<protocol::smtp::Reply> mail_answer(const directory::SenderOutcome& outcome) {
  switch (outcome.status) {
    case directory::SenderStatus::allowed: return std::nullopt;
    case directory::SenderStatus::not_owned: return replies::sender_not_owned();
    case directory::SenderStatus::unavailable: break;
  }
  return replies::directory_unavailable();
}

}  // namespace tern::runtime::inbound
