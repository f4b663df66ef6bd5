#include "runtime/bounce.hpp"

#include "protocol/mail/dsn.hpp"
#include "protocol/smtp/params.hpp"

namespace tern::runtime {
namespace {

namespace mail = protocol::mail;

// "550 5.1.1 no such user" -> "5.1.1"; anything else -> "5.0.0".
std::string status_of(std::string_view reply) {
  if (reply.size() >= 10 && reply[3] == ' ' && (reply[4] == '5' || reply[4] == '4') &&
      reply[5] == '.') {
    const auto end = reply.find(' ', 4);
    const auto code = reply.substr(4, end == std::string_view::npos ? end : end - 4);
    if (code.size() <= 9 && code.find_first_not_of("0123456789.") == std::string_view::npos) {
      std::string status(code);
      status[0] = '5';  // a failed recipient reports a permanent status
      return status;
    }
  }
  return "5.0.0";
}

}  // namespace

std::optional<Bounce> make_failure_bounce(const SpoolEnvelope& original,
                                          std::string_view original_body,
                                          const std::vector<std::size_t>& failed,
                                          const std::string& hostname, std::string id,
                                          std::int64_t now_unix, std::string& error) {
  error.clear();
  if (original.sender.empty()) return std::nullopt;
  mail::DsnInput input;
  input.reporting_mta = hostname;
  input.message_id_domain = hostname;
  input.seed = id;
  input.arrival_unix = original.received_unix;
  input.now_unix = now_unix;
  input.envelope_sender = original.sender;
  // The stored MAIL parameters are what the SMTP grammar accepted: read them back with it.
  protocol::smtp::ParamOptions options;
  options.utf8 = true;
  if (auto params = protocol::smtp::parse_mail_params(original.sender_params, options)) {
    input.envid = params->envid;
    if (params->ret) {
      input.ret = *params->ret == protocol::smtp::RetType::full ? mail::Ret::full : mail::Ret::hdrs;
    }
  }
  input.original_message = original_body;
  for (const auto index : failed) {
    const auto& r = original.recipients[index];
    if (!mail::notify_wants(r.params, mail::Action::failed)) continue;
    mail::DsnRecipient entry;
    entry.final_recipient = r.address;
    if (auto orcpt = mail::orcpt_of(r.params)) entry.original_recipient = *orcpt;
    entry.action = mail::Action::failed;
    entry.status = status_of(r.last_reply);
    entry.diagnostic_code = "smtp; " + r.last_reply;
    entry.last_attempt_unix = now_unix;
    input.recipients.push_back(std::move(entry));
  }
  if (input.recipients.empty()) return std::nullopt;
  auto dsn = mail::build_dsn(input);
  if (!dsn) {
    error = dsn.error().message;
    return std::nullopt;
  }
  Bounce bounce;
  bounce.body = std::move(dsn->message);
  auto& env = bounce.envelope;
  env.id = std::move(id);
  env.received_unix = now_unix;
  env.listener = "dsn";
  env.body_bytes = bounce.body.size();
  SpoolRecipient to;
  to.address = original.sender;
  // Submitted by its owner: the owner's mailbox, as the RCPT stage would have found it.
  if (!original.authenticated_as.empty()) to.account = original.authenticated_as;
  env.recipients.push_back(std::move(to));
  return bounce;
}

}  // namespace tern::runtime
