#include "runtime/inbound/replies.hpp"

#include <cstdint>
#include <utility>

namespace tern::runtime::inbound::replies {

namespace {

Reply make(std::uint16_t code, protocol::smtp::EnhancedStatus status, std::string text) {
  return Reply{code, status, {std::move(text)}};
}

}  // namespace

Reply helo_not_fqdn() {
  return make(550, {5, 5, 2}, "The EHLO name must be a fully qualified domain name");
}
Reply sender_not_owned() {
  return make(553, {5, 7, 1}, "Sender address not owned by the authenticated user");
}
Reply relay_denied() {
  return make(550, {5, 7, 1}, "Relay access denied");
}
Reply mailbox_unknown() {
  return make(550, {5, 1, 1}, "Mailbox does not exist");
}
Reply unroutable() {
  return make(550, {5, 4, 4}, "Recipient cannot be routed");
}
Reply directory_unavailable() {
  return make(451, {4, 4, 3}, "Directory unavailable, try again later");
}
Reply storage_full() {
  return make(452, {4, 3, 1}, "Insufficient system storage, try again later");
}
Reply storage_failed() {
  return make(452, {4, 3, 1}, "Could not store the message (disk error), try again later");
}
Reply queued(const std::string& id) {
  return make(250, {2, 0, 0}, "Ok: queued as " + id);
}
Reply queued_for_rcpt(const std::string& id) {
  return make(250, {2, 1, 5}, "Ok: queued as " + id);
}
Reply auth_unknown_mechanism() {
  return make(504, {5, 5, 4}, "Unrecognized authentication type");
}
Reply auth_exchange_failed() {
  return make(501, {5, 5, 2}, "Authentication exchange failed");
}
Reply auth_malformed() {
  return make(501, {5, 5, 2}, "Malformed authentication response");
}
Reply auth_invalid() {
  return make(535, {5, 7, 8}, "Authentication credentials invalid");
}
Reply auth_temporary() {
  return make(454, {4, 7, 0}, "Temporary authentication failure");
}
Reply auth_locked() {
  return make(454, {4, 7, 0}, "Too many failed authentications, try again later");
}
Reply cannot_verify() {
  return make(252, {2, 5, 2}, "Cannot VRFY user, but will accept message and attempt delivery");
}
Reply mailbox_verified(const std::string& address) {
  return make(250, {2, 1, 5}, "<" + address + ">");
}

}  // namespace tern::runtime::inbound::replies
