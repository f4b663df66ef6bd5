#include "runtime/inbound/rcpt.hpp"

#include "runtime/inbound/replies.hpp"
#include "runtime/policy.hpp"

namespace tern::runtime::inbound {

RcptPlan plan_rcpt(const EngineSettings& settings, const protocol::route::Variables& vars,
                   bool domain_host, const std::string& rcpt_domain) {
  auto* dir = policy_directory(settings, "session.rcpt.directory", vars);
  if (domain_host && dir != nullptr && dir->is_local_domain(rcpt_domain))
    return RcptPlan{std::nullopt, dir};
  if (!policy_bool(settings, "session.rcpt.relay", vars))
    return RcptPlan{replies::relay_denied(), nullptr};
  return RcptPlan{};
}

RcptVerdict rcpt_answer(const directory::RecipientOutcome& outcome) {
  switch (outcome.status) {
    case directory::RecipientStatus::local: return RcptVerdict{std::nullopt, outcome.principal};
    case directory::RecipientStatus::unknown: return RcptVerdict{replies::mailbox_unknown(), ""};
    case directory::RecipientStatus::unavailable: break;
  }
  return RcptVerdict{replies::directory_unavailable(), ""};
}

std::optional<std::string> unroutable_reason(const EngineSettings& settings,
                                             const protocol::route::ConnectionFacts& facts,
                                             const std::string& sender,
                                             const std::string& address) {
  protocol::route::RouteRequest request;
  request.envelope.sender = sender;
  request.envelope.recipients.push_back(address);
  request.facts = facts;
  const DirectoryAnswers answers(settings);
  const auto plan = protocol::route::route(request, settings.routing, answers);
  if (plan.recipients.empty()) return std::nullopt;
  if (const auto* u = std::get_if<protocol::route::Unroutable>(&plan.recipients[0].outcome))
    return u->reason;
  return std::nullopt;
}

}  // namespace tern::runtime::inbound
