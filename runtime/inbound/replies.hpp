// runtime/inbound/replies.hpp — every reply the engine's policy stages give, in one table:
// the SMTP machine's own replies (syntax, sequence, limits) stay in
// protocol/smtp/server_replies.hpp; these are the engine's decisions (who may relay, which
// mailbox exists, whether the spool took the message). One function per reply, so that a
// stage names its answer and a reader finds every answer the engine can give here.
#pragma once

#include <string>

#include "protocol/smtp/reply.hpp"

namespace tern::runtime::inbound::replies {

using protocol::smtp::Reply;

// EHLO / HELO
Reply helo_not_fqdn();  // 550 5.5.2 (session.ehlo.reject-non-fqdn)

// MAIL FROM
Reply sender_not_owned();  // 553 5.7.1 (session.auth.must-match-sender)

// RCPT TO
Reply relay_denied();     // 550 5.7.1 (session.rcpt.relay)
Reply mailbox_unknown();  // 550 5.1.1 (the directory does not know the address)
Reply unroutable();       // 550 5.4.4 (accepted by policy, but no route: refused, never bounced)

// Any stage that asks a directory
Reply directory_unavailable();  // 451 4.4.3: never a 5xx for a directory that cannot answer

// End of DATA / BDAT LAST
Reply storage_full();                          // 452 4.3.1: no space left
Reply storage_failed();                        // 452 4.3.1: a write or fdatasync failed
Reply queued(const std::string& id);           // 250 2.0.0 Ok: queued as ID
Reply queued_for_rcpt(const std::string& id);  // 250 2.1.5 Ok: queued as ID (LMTP, per rcpt)

// AUTH
Reply auth_unknown_mechanism();  // 504 5.5.4
Reply auth_exchange_failed();    // 501 5.5.2: the mechanism's exchange broke off
Reply auth_malformed();          // 501 5.5.2: a response the mechanism cannot read
Reply auth_invalid();            // 535 5.7.8: wrong user or password (the same for both)
Reply auth_temporary();          // 454 4.7.0: the directory cannot answer
Reply auth_locked();             // 454 4.7.0: too many failures from the address or for the login

// VRFY / EXPN (runtime/inbound/verify.hpp)
Reply cannot_verify();                               // 252 2.5.2: not looked up
Reply mailbox_verified(const std::string& address);  // 250 2.1.5 <address>

}  // namespace tern::runtime::inbound::replies
