#include "runtime/bounce.hpp"

#include <algorithm>

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

// The host name of the last attempt that reached a remote MTA: history hosts read
// "mx1.example.org 192.0.2.7:25" (a name first) or "192.0.2.7:25" (no name to give).
std::optional<std::string> remote_mta_of(const SpoolRecipient& r) {
  if (r.history.empty()) return std::nullopt;
  const AttemptRecord& last = r.history.back();
  if (last.route.rfind("remote ", 0) != 0 && last.route.rfind("mx ", 0) != 0) return std::nullopt;
  const auto space = last.host.find(' ');
  if (space == std::string::npos || space == 0) return std::nullopt;
  return last.host.substr(0, space);
}

// "451 4.4.1 no answer" -> "4.4.1"; anything else -> "4.0.0".
std::string delay_status_of(std::string_view reply) {
  std::string status = status_of(reply);
  status[0] = '4';
  return status;
}

}  // namespace

std::optional<Bounce> make_failure_bounce(const SpoolEnvelope& original,
                                          std::string_view original_body,
                                          const std::vector<std::size_t>& failed,
                                          const std::string& hostname, std::string id,
                                          std::int64_t now_unix, std::string& error) {
  std::vector<ReportEntry> entries;
  for (const auto index : failed) entries.push_back(ReportEntry{index, mail::Action::failed});
  return make_report(original, original_body, entries, hostname, std::move(id), now_unix, 0, error);
}

std::optional<Bounce> make_report(const SpoolEnvelope& original, std::string_view original_body,
                                  const std::vector<ReportEntry>& entries,
                                  const std::string& hostname, std::string id,
                                  std::int64_t now_unix, std::int64_t will_retry_until_unix,
                                  std::string& error) {
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
  // Backscatter: a client that did not authenticate may have forged the sender, and the
  // DSN would carry its content to a victim. Whatever RET said, it gets the headers only.
  if (original.authenticated_as.empty()) input.ret = mail::Ret::hdrs;
  input.original_message = original_body;
  for (const auto& wanted : entries) {
    const auto& r = original.recipients[wanted.index];
    if (!mail::notify_wants(r.params, wanted.action)) continue;
    mail::DsnRecipient entry;
    entry.final_recipient = r.address;
    if (auto orcpt = mail::orcpt_of(r.params)) entry.original_recipient = *orcpt;
    entry.action = wanted.action;
    switch (wanted.action) {
      case mail::Action::failed: entry.status = status_of(r.last_reply); break;
      case mail::Action::delayed: entry.status = delay_status_of(r.last_reply); break;
      default: entry.status = "2.0.0"; break;
    }
    if (!r.last_reply.empty()) entry.diagnostic_code = "smtp; " + r.last_reply;
    if (auto mta = remote_mta_of(r)) entry.remote_mta = *mta;
    entry.last_attempt_unix = now_unix;
    if (wanted.action == mail::Action::delayed) entry.will_retry_until_unix = will_retry_until_unix;
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
  // The DSN travels as its content requires (RFC 6152, RFC 6531 §3.4): 8-bit text (a
  // UTF-8 address or original headers) needs BODY=8BITMIME, and a UTF-8 reverse-path of
  // the original, which is now the DSN's recipient, needs SMTPUTF8.
  const bool utf8_address = std::any_of(original.sender.begin(), original.sender.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80;
  });
  if (dsn->eight_bit || utf8_address) env.sender_params = "BODY=8BITMIME";
  if (utf8_address) env.sender_params += " SMTPUTF8";
  SpoolRecipient to;
  to.address = original.sender;
  // Submitted by its owner: the owner's mailbox, as the RCPT stage would have found it.
  if (!original.authenticated_as.empty()) to.account = original.authenticated_as;
  env.recipients.push_back(std::move(to));
  return bounce;
}

}  // namespace tern::runtime
