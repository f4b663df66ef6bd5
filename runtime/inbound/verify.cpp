#include "runtime/inbound/verify.hpp"

#include "protocol/route/router.hpp"
#include "protocol/smtp/address.hpp"

namespace tern::runtime::inbound {

namespace smtp = protocol::smtp;

namespace {

smtp::Reply make(std::uint16_t code, smtp::EnhancedStatus enhanced, std::string text) {
  return smtp::Reply{code, enhanced, {std::move(text)}};
}

smtp::Reply cannot_verify() {
  return make(252, {2, 5, 2}, "Cannot VRFY user, but will accept message and attempt delivery");
}

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
    return VerifyPlan{cannot_verify(), ""};
  const std::string address = smtp::serialize(*mailbox);
  if (!local_domain(protocol::route::normalise_address(address).domain))
    return VerifyPlan{cannot_verify(), ""};
  return VerifyPlan{std::nullopt, address};
}

smtp::Reply verify_reply(const std::string& address, bool expand,
                         directory::RecipientStatus status) {
  (void)expand;  // a mailbox expands to itself: the same answer for both commands
  switch (status) {
    case directory::RecipientStatus::local: return make(250, {2, 1, 5}, "<" + address + ">");
    case directory::RecipientStatus::unknown: return make(550, {5, 1, 1}, "Mailbox does not exist");
    case directory::RecipientStatus::unavailable: break;
  }
  return make(451, {4, 4, 3}, "Directory unavailable, try again later");
}

}  // namespace tern::runtime::inbound
