// runtime/inbound/verify.hpp — the VRFY and EXPN stage (RFC 5321 §3.5), offered only when
// session.extensions.vrfy / .expn say so (otherwise the machine answers 252 / 502 itself).
// A pure stage: it answers at once or names the address the directory must look up, and
// turns the directory's answer into the reply; InboundSession does the asking.
//
// Contract:
// - plan_verify(text, local_domain) reads the argument as "mailbox", "<mailbox>" or
//   "Name <mailbox>" (surrounding spaces ignored):
//   - not a mailbox with a domain: 252 2.5.2 (cannot verify, will attempt delivery: RFC 5321
//     §3.5.3's answer for what a server will not look up, e.g. a bare user name);
//   - a mailbox of a domain that is not local: 252 2.5.2 (only the next hop knows);
//   - a local mailbox: `lookup` names it (serialized as RCPT would store it).
// - The replies are runtime/inbound/replies.hpp's.
// - verify_reply(address, expand, status) answers a lookup: a local mailbox gives
//   250 2.1.5 <address> (EXPN too: Tern's directories have no lists, so a mailbox expands
//   to itself), unknown 550 5.1.1, a directory that cannot answer 451 4.4.3.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/smtp/reply.hpp"
#include "runtime/directory/outcome.hpp"

namespace tern::runtime::inbound {

struct VerifyPlan {
  std::optional<protocol::smtp::Reply> answer;  // set: reply with it
  std::string lookup;                           // else: the address to look up
};

VerifyPlan plan_verify(std::string_view text,
                       const std::function<bool(std::string_view domain)>& local_domain);

protocol::smtp::Reply verify_reply(const std::string& address, bool expand,
                                   directory::RecipientStatus status);

}  // namespace tern::runtime::inbound
