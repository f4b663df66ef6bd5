// runtime/inbound/mail.hpp — the MAIL stage: whether an authenticated client may use this
// reverse-path (session.auth.must-match-sender, asked of session.auth.directory). A pure
// stage like rcpt.hpp: plan_mail accepts at once or names the directory to ask;
// mail_answer turns its answer into the verdict. InboundSession asks.
//
// Contract:
// - Accepted at once: a client that did not authenticate (relay rules apply at RCPT), the
//   null reverse-path, must-match-sender false, or no auth directory.
// - mail_answer: allowed is accepted; not owned is 553 5.7.1; a directory that cannot
//   answer is 451 4.4.3.
#pragma once

#include <optional>
#include <string>

#include "protocol/route/eval.hpp"
#include "protocol/smtp/reply.hpp"
#include "runtime/directory/directory.hpp"
#include "runtime/settings.hpp"

namespace tern::runtime::inbound {

struct MailPlan {
  directory::Directory* ask = nullptr;  // set: ask may_send_as; else accepted
};

MailPlan plan_mail(const EngineSettings& settings, const protocol::route::Variables& vars,
                   const std::string& authenticated_as, const std::string& sender);

// nullopt: accepted; else the refusal.
std::optional<protocol::smtp::Reply> mail_answer(const directory::SenderOutcome& outcome);

}  // namespace tern::runtime::inbound
