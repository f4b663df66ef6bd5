// The server machine's command handlers: the sequencing rules of RFC 5321 §4.1.4, the
// extension rules of each RFC, and the questions they put to the application.
#include <algorithm>

#include "protocol/sasl/wire.hpp"
#include "protocol/smtp/server_replies.hpp"
#include "protocol/smtp/server_session.hpp"

namespace tern::protocol::smtp {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

std::string_view ServerSession::verb_of(HelloKind kind) {
  switch (kind) {
    case HelloKind::ehlo: return "EHLO";
    case HelloKind::helo: return "HELO";
    case HelloKind::lhlo: return "LHLO";
  }
  return "";
}

ParseOptions ServerSession::parse_options() const {
  ParseOptions options;
  options.limits = config_.limits;
  options.smtputf8 = config_.extensions.smtputf8;
  options.lmtp = config_.mode == ServerMode::lmtp;
  if (config_.message_bytes_max != 0) options.bdat_chunk_bytes_max = config_.message_bytes_max;
  return options;
}

bool ServerSession::auth_offered() const {
  return !config_.auth_mechanisms.empty() && (tls_active_ || !config_.auth_requires_tls);
}

std::vector<std::string> ServerSession::ehlo_keywords() const {
  const ServerExtensions& x = config_.extensions;
  std::vector<std::string> keywords;
  if (x.pipelining) keywords.emplace_back("PIPELINING");
  keywords.push_back(config_.message_bytes_max != 0
                         ? "SIZE " + std::to_string(config_.message_bytes_max)
                         : std::string("SIZE"));
  if (x.eight_bit_mime) keywords.emplace_back("8BITMIME");
  if (x.binary_mime && x.chunking) keywords.emplace_back("BINARYMIME");
  if (x.chunking) keywords.emplace_back("CHUNKING");
  if (x.smtputf8) keywords.emplace_back("SMTPUTF8");
  if (x.enhanced_status_codes) keywords.emplace_back("ENHANCEDSTATUSCODES");
  if (config_.tls_available && !tls_active_) keywords.emplace_back("STARTTLS");
  if (auth_offered()) {
    std::string auth = "AUTH";
    for (const auto& mechanism : config_.auth_mechanisms) auth += " " + mechanism;
    keywords.push_back(std::move(auth));
  }
  if (x.dsn) keywords.emplace_back("DSN");
  if (x.deliver_by_min_seconds)
    keywords.push_back("DELIVERBY " + std::to_string(*x.deliver_by_min_seconds));
  if (auto latest = latest_release_unix_seconds()) {
    keywords.push_back("FUTURERELEASE " + std::to_string(*x.future_release_max_seconds) + " " +
                       format_date_time(HoldUntil{*latest, 0}));
  }
  if (x.mt_priority) keywords.emplace_back("MT-PRIORITY");
  if (x.requiretls && tls_active_) keywords.emplace_back("REQUIRETLS");
  if (x.vrfy) keywords.emplace_back("VRFY");
  if (x.expn) keywords.emplace_back("EXPN");
  keywords.emplace_back("HELP");
  return keywords;
}

void ServerSession::on_command_line(std::string_view line) {
  if (shutdown_requested_) {  // asked while a body or chunk was arriving: this is the reply point
    close(CloseReason::shutdown, replies::shutting_down(config_.hostname));
    return;
  }
  auto parsed = parse_command(line, parse_options());
  if (!parsed) {
    const CommandError& error = parsed.error();
    if (error.bdat_chunk_bytes) {  // a well-formed BDAT refused: its chunk follows anyway
      discard_chunk(*error.bdat_chunk_bytes, error.to_reply());
    } else {
      refuse("", error.to_reply());
    }
    return;
  }
  const Command& command = *parsed;
  if (config_.refusal && !std::holds_alternative<Quit>(command)) {
    if (const auto* bdat = std::get_if<Bdat>(&command)) {
      discard_chunk(bdat->chunk_bytes, replies::refused_sequence());
    } else {
      refuse(verb_name(command), replies::refused_sequence());
    }
    return;
  }
  std::visit(Overloaded{
                 [&](const Ehlo& c) { on_hello(HelloKind::ehlo, c.host); },
                 [&](const Helo& c) { on_hello(HelloKind::helo, c.host); },
                 [&](const Lhlo& c) { on_hello(HelloKind::lhlo, c.host); },
                 [&](const Mail& c) { on_mail(c); },
                 [&](const Rcpt& c) { on_rcpt(c); },
                 [&](const Data&) { on_data(); },
                 [&](const Bdat& c) { on_bdat(c); },
                 [&](const Rset&) { on_rset(); },
                 [&](const Noop&) { junk("NOOP", replies::ok()); },
                 [&](const Quit&) { close(CloseReason::quit, replies::closing(config_.hostname)); },
                 [&](const Vrfy& c) { on_verify(false, c.text); },
                 [&](const Expn& c) { on_verify(true, c.text); },
                 [&](const Help&) { junk("HELP", replies::help()); },
                 [&](const StartTls&) { on_starttls(); },
                 [&](const Auth& c) { on_auth(c); },
             },
             command);
}

void ServerSession::on_hello(HelloKind kind, const Host& host) {
  // A U-label host name is only ever written into a message that is SMTPUTF8 (the
  // Received header carries it). The parser refuses one when SMTPUTF8 is not offered; when
  // it is, MAIL without SMTPUTF8 is refused after it (on_mail).
  const bool utf8 = needs_smtputf8(host);
  // A second EHLO in the same session (not after STARTTLS, which forgets the first) is
  // allowed but is junk like NOOP: a client cannot loop on it forever.
  if (hello_ && ++junk_ > config_.junk_commands_max) {
    return close(CloseReason::too_many_errors, replies::too_many_errors(config_.hostname));
  }
  if (txn_.active) reset_transaction(true);  // RFC 5321 §4.1.4: EHLO resets like RSET
  pending_hello_ = kind;
  pending_hello_utf8_ = utf8;
  ask(Question::hello, HelloEvent{next_ticket_, kind, host});
}

std::optional<Reply> ServerSession::hello_missing() const {
  if (hello_) return std::nullopt;
  return config_.mode == ServerMode::lmtp ? replies::lhlo_first() : replies::hello_first();
}

std::optional<std::int64_t> ServerSession::latest_release_unix_seconds() const {
  if (!config_.extensions.future_release_max_seconds || !config_.wall_clock_unix_seconds)
    return std::nullopt;
  const std::int64_t elapsed = (last_activity_ - started_).ns / 1'000'000'000;
  return *config_.wall_clock_unix_seconds + elapsed +
         *config_.extensions.future_release_max_seconds;
}

std::optional<Reply> ServerSession::mail_param_fault(const MailParams& p) const {
  if (hello_ == HelloKind::helo && p != MailParams{}) return replies::params_after_helo();
  if (!p.unknown.empty()) return replies::param_not_offered(p.unknown.front().keyword);
  const ServerExtensions& x = config_.extensions;
  if (p.body == BodyType::eight_bit_mime && !x.eight_bit_mime)
    return replies::param_not_offered("BODY=8BITMIME");
  if (p.body == BodyType::binary_mime && !(x.binary_mime && x.chunking)) {
    return replies::param_not_offered("BODY=BINARYMIME");
  }
  if (p.smtputf8 && !x.smtputf8) return replies::param_not_offered("SMTPUTF8");
  if (p.auth && !auth_offered()) return replies::param_not_offered("AUTH");
  if ((p.ret || p.envid) && !x.dsn) return replies::param_not_offered(p.ret ? "RET" : "ENVID");
  if (p.hold_for_seconds || p.hold_until) {
    const auto latest = latest_release_unix_seconds();
    if (!latest) return replies::param_not_offered(p.hold_for_seconds ? "HOLDFOR" : "HOLDUNTIL");
    if (p.hold_for_seconds && *p.hold_for_seconds > *x.future_release_max_seconds) {
      return replies::release_too_late("HOLDFOR");
    }
    if (p.hold_until && p.hold_until->unix_seconds > *latest)
      return replies::release_too_late("HOLDUNTIL");
  }
  if (p.by && !x.deliver_by_min_seconds) return replies::param_not_offered("BY");
  if (p.mt_priority && !x.mt_priority) return replies::param_not_offered("MT-PRIORITY");
  if (p.requiretls && !x.requiretls) return replies::param_not_offered("REQUIRETLS");
  if (p.requiretls && !tls_active_) return replies::requiretls_without_tls();
  return std::nullopt;
}

void ServerSession::on_mail(const Mail& mail) {
  if (auto missing = hello_missing()) return refuse("MAIL", *missing);
  if (txn_.active) return refuse("MAIL", replies::nested_mail());
  if (config_.auth_required && !authenticated_) return refuse("MAIL", replies::auth_required());
  if (auto fault = mail_param_fault(mail.params)) return refuse("MAIL", *fault);
  if (hello_utf8_ && !mail.params.smtputf8) return refuse("MAIL", replies::hello_needs_smtputf8());
  if (mail.path.path && needs_smtputf8(mail.path.path->mailbox) && !mail.params.smtputf8) {
    return refuse("MAIL", replies::needs_smtputf8());
  }
  if (config_.message_bytes_max != 0 && mail.params.size &&
      *mail.params.size > config_.message_bytes_max) {
    return reply("MAIL", replies::message_too_big());
  }
  pending_mail_ = mail.params;
  ask(Question::mail, MailEvent{next_ticket_, mail});
}

void ServerSession::on_rcpt(const Rcpt& rcpt) {
  if (auto missing = hello_missing()) return refuse("RCPT", *missing);
  if (!txn_.active) return refuse("RCPT", replies::mail_first("RCPT"));
  const RcptParams& p = rcpt.params;
  if (hello_ == HelloKind::helo && p != RcptParams{})
    return refuse("RCPT", replies::params_after_helo());
  if (!p.unknown.empty())
    return refuse("RCPT", replies::param_not_offered(p.unknown.front().keyword));
  if ((p.notify || p.orcpt) && !config_.extensions.dsn) {
    return refuse("RCPT", replies::param_not_offered(p.notify ? "NOTIFY" : "ORCPT"));
  }
  if (rcpt.path.path && needs_smtputf8(rcpt.path.path->mailbox) && !txn_.smtputf8) {
    return refuse("RCPT", replies::needs_smtputf8());
  }
  if (txn_.recipients >= config_.recipients_max) {
    ++txn_.rcpt_attempts;
    return reply("RCPT", replies::too_many_recipients());
  }
  ask(Question::rcpt, RcptEvent{next_ticket_, rcpt});
}

std::optional<Reply> ServerSession::body_refusal(bool chunked) const {
  if (auto missing = hello_missing()) return missing;
  if (!txn_.active) return replies::mail_first(chunked ? "BDAT" : "DATA");
  if (!chunked && txn_.chunked) return replies::data_after_bdat();
  if (!chunked && txn_.binary) return replies::binary_needs_bdat();
  if (chunked && txn_.failed) return replies::bdat_after_failure();
  if (txn_.recipients == 0) {
    return txn_.rcpt_attempts > 0 ? replies::no_valid_recipients() : replies::rcpt_first();
  }
  return std::nullopt;
}

void ServerSession::on_data() {
  if (auto refusal = body_refusal(false)) return refuse("DATA", *refusal);
  DataDecoderOptions options;
  options.message_bytes_max = config_.message_bytes_max;
  options.line_bytes_max = config_.limits.effective().text_line_bytes_max;
  options.normalize_bare_lf = config_.normalize_bare_lf;
  options.normalize_bare_cr = config_.normalize_bare_cr;
  decoder_ = DataDecoder(options);
  reply("DATA", replies::start_data());
  push_event(BodyStartEvent{false});
  phase_ = Phase::data;
  transfer_started_ = last_activity_;  // on_line's time: the 354 goes out now
}

void ServerSession::discard_chunk(std::uint64_t bytes, Reply refusal) {
  if (txn_.active) txn_.failed = true;
  if (bytes == 0) return refuse_chunk(std::move(refusal));
  bdat_remaining_ = bytes;
  bdat_discard_ = true;
  bdat_refusal_ = std::move(refusal);
  phase_ = Phase::bdat;
}

void ServerSession::on_bdat(const Bdat& bdat) {
  bdat_last_ = bdat.last;  // a refused LAST chunk is answered per recipient in LMTP
  if (!config_.extensions.chunking) {
    return discard_chunk(bdat.chunk_bytes, replies::param_not_offered("BDAT"));
  }
  if (auto refusal = body_refusal(true)) return discard_chunk(bdat.chunk_bytes, *refusal);
  if (config_.message_bytes_max != 0 &&
      txn_.body_bytes + bdat.chunk_bytes > config_.message_bytes_max) {
    // The body of earlier chunks is worthless now: the application drops it at once (as
    // DATA's does), not when the client gets round to RSET or leaves.
    if (txn_.chunked) push_event(MessageAbortedEvent{AbortReason::too_large});
    return discard_chunk(bdat.chunk_bytes, replies::message_too_big());
  }
  if (!txn_.chunked) {
    txn_.chunked = true;
    bdat_scanner_ = BodyScanner(txn_.binary ? 0 : config_.limits.effective().text_line_bytes_max);
    push_event(BodyStartEvent{true});
  }
  if (!transfer_started_) transfer_started_ = last_activity_;  // the transaction's first BDAT
  bdat_remaining_ = bdat.chunk_bytes;
  bdat_last_ = bdat.last;
  bdat_discard_ = false;
  phase_ = Phase::bdat;
  if (bdat_remaining_ == 0) feed_bdat({}, last_activity_);
}

void ServerSession::on_rset() {
  reset_transaction(true);
  junk("RSET", replies::reset_ok());
}

void ServerSession::on_verify(bool expand, const std::string& text) {
  const bool asked = expand ? config_.extensions.expn : config_.extensions.vrfy;
  if (!asked)
    return junk(expand ? "EXPN" : "VRFY",
                expand ? replies::expn_disabled() : replies::cannot_verify());
  ask(Question::verify, VerifyEvent{next_ticket_, expand, text});
}

void ServerSession::on_starttls() {
  if (tls_active_) return refuse("STARTTLS", replies::tls_already_active());
  if (!config_.tls_available) return refuse("STARTTLS", replies::tls_unavailable());
  if (txn_.active) return refuse("STARTTLS", replies::transaction_in_progress());
  reply("STARTTLS", replies::ready_for_tls());
  push_event(StartTlsEvent{});
  phase_ = Phase::awaiting_tls;  // whatever else arrives before the handshake is dropped
}

void ServerSession::on_auth(const Auth& auth) {
  if (auto missing = hello_missing()) return refuse("AUTH", *missing);
  if (config_.auth_mechanisms.empty()) return refuse("AUTH", replies::auth_not_offered());
  if (authenticated_) return refuse("AUTH", replies::auth_already());
  if (txn_.active) return refuse("AUTH", replies::auth_in_transaction());
  if (!auth_offered()) return refuse("AUTH", replies::auth_needs_tls());
  const auto& offered = config_.auth_mechanisms;
  if (std::find(offered.begin(), offered.end(), auth.mechanism) == offered.end()) {
    return refuse("AUTH", replies::auth_unknown_mechanism());
  }
  auth_mechanism_ = auth.mechanism;
  std::optional<std::string> response;
  if (auth.initial_response) {
    const std::string& text = auth.initial_response->empty() ? "=" : *auth.initial_response;
    auto decoded = sasl::decode_client_line(text, sasl::LinePosition::initial_response,
                                            config_.auth_line_bytes_max);
    if (!decoded) return refuse("AUTH", replies::auth_bad_base64(decoded.error().message));
    if (std::holds_alternative<sasl::Cancel>(*decoded)) {
      push_event(AuthCancelledEvent{});
      return reply("AUTH", replies::auth_cancelled());
    }
    response = std::get<sasl::Bytes>(std::move(decoded).value()).data;
  }
  ask(Question::auth, AuthEvent{next_ticket_, auth.mechanism, std::move(response)});
}

void ServerSession::on_auth_line(std::string_view line) {
  phase_ = Phase::command;
  auto decoded =
      sasl::decode_client_line(line, sasl::LinePosition::continuation, config_.auth_line_bytes_max);
  if (!decoded) return refuse("AUTH", replies::auth_bad_base64(decoded.error().message));
  if (std::holds_alternative<sasl::Cancel>(*decoded)) {
    push_event(AuthCancelledEvent{});
    return reply("AUTH", replies::auth_cancelled());
  }
  ask(Question::auth, AuthEvent{next_ticket_, auth_mechanism_,
                                std::get<sasl::Bytes>(std::move(decoded).value()).data});
}

}  // namespace tern::protocol::smtp
