// runtime/inbound/rcpt.hpp — the RCPT stage (RFC 5321 §4.1.1.3): which recipients the
// session accepts, by session.rcpt.directory and session.rcpt.relay. A pure stage like
// verify.hpp: plan_rcpt answers at once or names the directory that must say whether the
// address is a mailbox; rcpt_answer turns that directory's answer into the verdict.
// InboundSession does the asking and records the accepted recipient.
//
// Contract:
// - `vars` carries the RCPT stage's variables with rcpt and rcpt_domain bound (rcpt_domain
//   as the router normalises it, so the session and the queue agree on what is local).
// - A recipient whose host is a domain that the rcpt directory calls local is looked up in
//   that directory; any other recipient (a remote domain, an address literal, no
//   directory) is relayed when session.rcpt.relay says so, else refused with 550 5.7.1.
// - rcpt_answer: a mailbox is accepted with its principal as the account; unknown is
//   550 5.1.1; a directory that cannot answer is 451 4.4.3 (never a 5xx).
// - <Postmaster> (RFC 5321 §4.5.1) is postmaster@<server.hostname> to this stage: the local
//   postmaster when the host name is a local domain (refused, not bounced, when it is not).
#pragma once

#include <optional>
#include <string>

#include "protocol/route/eval.hpp"
#include "protocol/route/router.hpp"
#include "protocol/smtp/reply.hpp"
#include "runtime/directory/directory.hpp"
#include "runtime/settings.hpp"

namespace tern::runtime::inbound {

struct RcptPlan {
  std::optional<protocol::smtp::Reply> refusal;  // set: refuse with it
  directory::Directory* lookup = nullptr;        // set: ask it; else accepted as relayed
};

RcptPlan plan_rcpt(const EngineSettings& settings, const protocol::route::Variables& vars,
                   bool domain_host, const std::string& rcpt_domain);

struct RcptVerdict {
  std::optional<protocol::smtp::Reply> refusal;  // set: refuse with it
  std::string account;                           // else accepted: the mailbox's principal
};

RcptVerdict rcpt_answer(const directory::RecipientOutcome& outcome);

// Why the queue could not route `address` (queue.outbound.next-hop for this one recipient,
// with the session's facts), or nullopt when it can or when routing needs lookups only the
// queue makes. A recipient the policy accepts but no rule can route is refused at RCPT
// (replies::unroutable) rather than accepted and bounced to a sender that may be forged.
std::optional<std::string> unroutable_reason(const EngineSettings& settings,
                                             const protocol::route::ConnectionFacts& facts,
                                             const std::string& sender, const std::string& address);

}  // namespace tern::runtime::inbound
