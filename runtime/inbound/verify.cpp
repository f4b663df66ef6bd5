#include "runtime/inbound/verify.hpp"

#include "protocol/route/router.hpp"
#include "protocol/smtp/address.hpp"
#include "runtime/inbound/replies.hpp"

namespace tern::runtime::inbound {

namespace smtp = protocol::smtp;

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

VerifyPlan plan_verify(std::string_view text,
                       const std::function<bool(std::string_view domain)>& local_domain) {
  text = trim(text);
  if (!text.empty() && text.back() == '>') {
    const auto open = text.rfind('<');
    if (open != std::string_view::npos) text = text.substr(open + 1, text.size() - open - 2);
  }
  smtp::AddressOptions options;
  options.utf8 = true;
  const auto mailbox = smtp::parse_mailbox(text, options);
  if (!mailbox || !std::holds_alternative<smtp::Domain>(mailbox->host))
    return VerifyPlan{replies::cannot_verify(), ""};
  const std::string address = smtp::serialize(*mailbox);
  if (!local_domain(protocol::route::normalise_address(address).domain))
    return VerifyPlan{replies::cannot_verify(), ""};
  return VerifyPlan{std::nullopt, address};
}

smtp::Reply verify_reply(const std::string& address, bool expand,
                         directory::RecipientStatus status) {
  (void)expand;  // a mailbox expands to itself: the same answer for both commands
  switch (status) {
    case directory::RecipientStatus::local: return replies::mailbox_verified(address);
    case directory::RecipientStatus::unknown: return replies::mailbox_unknown();
    case directory::RecipientStatus::unavailable: break;
  }
  return replies::directory_unavailable();
}

}  // namespace tern::runtime::inbound
