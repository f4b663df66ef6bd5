#include "runtime/directory/outcome.hpp"

namespace tern::runtime::directory {

SmtpReply smtp_reply(const AuthOutcome& outcome) {
  switch (outcome.status) {
    case AuthStatus::authenticated: return {235, "2.7.0", "Authentication successful"};
    case AuthStatus::rejected: return {535, "5.7.8", "Authentication credentials invalid"};
    case AuthStatus::unavailable: break;
  }
  return {454, "4.7.0", "Temporary authentication failure"};
}

SmtpReply smtp_reply(const RecipientOutcome& outcome) {
  switch (outcome.status) {
    case RecipientStatus::local: return {250, "2.1.5", "Recipient OK"};
    case RecipientStatus::unknown: return {550, "5.1.1", "Mailbox does not exist"};
    case RecipientStatus::unavailable: break;
  }
  return {451, "4.4.3", "Directory unavailable, try again later"};
}

SmtpReply smtp_reply(const SenderOutcome& outcome) {
  switch (outcome.status) {
    case SenderStatus::allowed: return {250, "2.1.0", "Sender OK"};
    case SenderStatus::not_owned:
      return {553, "5.7.1", "Sender address not owned by the authenticated user"};
    case SenderStatus::unavailable: break;
  }
  return {451, "4.4.3", "Directory unavailable, try again later"};
}

}  // namespace tern::runtime::directory
