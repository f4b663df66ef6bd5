// The client machine: replies drive it; the expected-reply queue keeps pipelined commands
// and their replies paired in order (RFC 2920 §3.2).
#include "protocol/smtp/client_session.hpp"

#include <algorithm>
#include <cassert>

#include "protocol/sasl/base64.hpp"
#include "protocol/sasl/wire.hpp"

namespace tern::protocol::smtp {
namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.smtp.client"; }
  std::string message(int value) const override {
    switch (static_cast<client_errc>(value)) {
      case client_errc::not_ready: return "the session is not ready for a transaction";
      case client_errc::no_recipients: return "an envelope needs at least one recipient";
      case client_errc::body_not_wanted: return "no body is wanted now";
      case client_errc::not_awaiting_tls: return "no STARTTLS is waiting for a handshake";
      case client_errc::closed: return "the session has ended";
    }
    return "unknown client session error";
  }
};

Outcome outcome_of(const Reply& reply) {
  if (reply.code / 100 == 2) return Outcome::delivered;
  if (reply.code / 100 == 5) return Outcome::permanent_failure;
  return Outcome::temporary_failure;  // 4xx, and anything unexpected
}

Reply local_reply(std::uint16_t code, EnhancedStatus status, std::string text) {
  return Reply{code, status, {std::move(text)}};
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

}  // namespace

const std::error_category& client_category() {
  static const ClientCategory category;
  return category;
}

std::error_code make_error_code(client_errc e) {
  return {static_cast<int>(e), client_category()};
}

Capabilities parse_capabilities(const Reply& ehlo_reply) {
  Capabilities caps;
  caps.esmtp = true;
  for (std::size_t i = 1; i < ehlo_reply.lines.size(); ++i) {
    const std::string line = upper(ehlo_reply.lines[i]);
    const std::string keyword = line.substr(0, line.find(' '));
    const std::string argument =
        line.size() > keyword.size() ? line.substr(keyword.size() + 1) : "";
    if (keyword == "PIPELINING") caps.pipelining = true;
    if (keyword == "8BITMIME") caps.eight_bit_mime = true;
    if (keyword == "BINARYMIME") caps.binary_mime = true;
    if (keyword == "CHUNKING") caps.chunking = true;
    if (keyword == "SMTPUTF8") caps.smtputf8 = true;
    if (keyword == "ENHANCEDSTATUSCODES") caps.enhanced_status_codes = true;
    if (keyword == "STARTTLS") caps.starttls = true;
    if (keyword == "DSN") caps.dsn = true;
    if (keyword == "SIZE") {
      std::uint64_t size = 0;
      for (char c : argument) {
        if (c < '0' || c > '9' || size > UINT64_MAX / 10) break;
        size = size * 10 + static_cast<std::uint64_t>(c - '0');
      }
      caps.size = size;
    }
    if (keyword == "AUTH") {
      std::size_t start = 0;
      while (start < argument.size()) {
        std::size_t end = argument.find(' ', start);
        if (end == std::string::npos) end = argument.size();
        if (end > start) caps.auth.push_back(argument.substr(start, end - start));
        start = end + 1;
      }
    }
  }
  return caps;
}

ClientSession::ClientSession(ClientConfig config, Instant now)
    : config_(std::move(config)),
      tls_active_(config_.tls_active),
      parser_(config_.replies),
      now_(now) {
  expected_.push_back({Expect::greeting, 0, config_.greeting_timeout});
  deadline_ = now + config_.greeting_timeout;
}

// ---- input -------------------------------------------------------------------------------

std::size_t ClientSession::feed(std::span<const char> bytes, Instant now) {
  now_ = now;
  if (phase_ == Phase::closed) return 0;
  if (phase_ == Phase::awaiting_tls) return bytes.size();  // injected before TLS: dropped
  std::size_t used = 0;
  while (used < bytes.size() && phase_ != Phase::closed && phase_ != Phase::awaiting_tls) {
    const std::size_t n = parser_.feed(bytes.subspan(used));
    used += n;
    if (parser_.failed()) {
      fail(Outcome::temporary_failure, std::nullopt,
           "malformed reply from the server: " + parser_.error()->message, false);
      return bytes.size();
    }
    const bool progressed = process_replies();
    if (n == 0 && !progressed) break;  // replies wait for commands the application has not sent
  }
  if (phase_ == Phase::awaiting_tls) used = bytes.size();
  return used;
}

// Pairs complete replies with the commands waiting for them. A reply that comes before
// its command (a server running ahead, or an unsolicited 421) waits in the parser and
// answers the next command, as RFC 5321 §4.2 has the client read it.
bool ClientSession::process_replies() {
  bool progressed = false;
  while (!expected_.empty() && phase_ != Phase::closed && phase_ != Phase::awaiting_tls) {
    auto reply = parser_.poll();
    if (!reply) break;
    progressed = true;
    Expected expected = expected_.front();
    expected_.pop_front();
    if (caps_.enhanced_status_codes) *reply = extract_enhanced_status(std::move(*reply));
    on_reply(std::move(*reply), expected);
  }
  deadline_ =
      expected_.empty() ? std::nullopt : std::optional<Instant>(now_ + expected_.front().timeout);
  return progressed;
}

void ClientSession::feed_eof(Instant now) {
  now_ = now;
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::quitting) {
    phase_ = Phase::closed;
    events_.push(ClientClosedEvent{});
    return;
  }
  fail(Outcome::temporary_failure, std::nullopt, "connection closed by the server", false);
}

void ClientSession::on_timeout(Instant now) {
  now_ = now;
  if (!deadline_ || now < *deadline_ || phase_ == Phase::closed) return;
  fail(Outcome::temporary_failure, std::nullopt, "timeout waiting for the server's reply", false);
}

std::error_code ClientSession::on_tls_established(Instant now) {
  if (phase_ != Phase::awaiting_tls) return client_errc::not_awaiting_tls;
  now_ = now;
  tls_active_ = true;
  caps_ = Capabilities{};
  parser_ = ReplyParser(config_.replies);  // nothing from before the handshake survives
  phase_ = Phase::hello;
  send((config_.mode == ClientMode::lmtp ? "LHLO " : "EHLO ") + config_.helo_name, Expect::ehlo);
  return {};
}

// ---- replies -----------------------------------------------------------------------------

void ClientSession::on_reply(Reply reply, Expected expected) {
  switch (expected.kind) {
    case Expect::greeting: return on_greeting(reply);
    case Expect::ehlo: return on_hello(reply, true);
    case Expect::helo: return on_hello(reply, false);
    case Expect::starttls: return on_starttls(reply);
    case Expect::auth: return on_auth(reply);
    case Expect::rset: return;  // whatever it says, the next MAIL starts afresh
    case Expect::mail: return on_mail(reply);
    case Expect::rcpt: return on_rcpt(reply, expected.index);
    case Expect::data: return on_data(reply);
    case Expect::data_end:
    case Expect::bdat_last: return on_final(reply, expected.index);
    case Expect::bdat: return on_bdat(reply);
    case Expect::quit:
      phase_ = Phase::closed;
      events_.push(ClientClosedEvent{});
      return;
  }
}

void ClientSession::on_greeting(const Reply& reply) {
  if (reply.code != 220) {
    return fail(outcome_of(reply) == Outcome::permanent_failure ? Outcome::permanent_failure
                                                                : Outcome::temporary_failure,
                reply, "the server refused the connection", true);
  }
  phase_ = Phase::hello;
  send((config_.mode == ClientMode::lmtp ? "LHLO " : "EHLO ") + config_.helo_name, Expect::ehlo);
}

void ClientSession::on_hello(const Reply& reply, bool was_ehlo) {
  if (reply.code / 100 == 2) {
    caps_ = was_ehlo ? parse_capabilities(reply) : Capabilities{};
    return after_hello();
  }
  // RFC 5321 §4.1.4: a server that does not know EHLO answers 5xx; try HELO once.
  if (was_ehlo && config_.mode == ClientMode::smtp && reply.code / 100 == 5 &&
      !helo_fallback_tried_) {
    helo_fallback_tried_ = true;
    return send("HELO " + config_.helo_name, Expect::helo);
  }
  fail(outcome_of(reply), reply, "the server refused our greeting", true);
}

void ClientSession::after_hello() {
  if (!tls_active_ && config_.starttls != StartTlsPolicy::disable && caps_.starttls) {
    phase_ = Phase::starttls;
    return send("STARTTLS", Expect::starttls);
  }
  if (!tls_active_ && config_.starttls == StartTlsPolicy::require) {
    return fail(Outcome::temporary_failure, std::nullopt,
                "TLS is required but the server does not offer STARTTLS", true);
  }
  if (config_.auth && !authenticated_) return start_auth();
  become_ready();
}

void ClientSession::on_starttls(const Reply& reply) {
  if (reply.code == 220) {
    phase_ = Phase::awaiting_tls;
    events_.push(ClientStartTlsEvent{});
    return;
  }
  if (config_.starttls == StartTlsPolicy::require) {
    return fail(Outcome::temporary_failure, reply, "TLS is required but STARTTLS failed", true);
  }
  if (config_.auth && !authenticated_) return start_auth();
  become_ready();
}

void ClientSession::start_auth() {
  if (config_.auth_only_when_offered && caps_.auth.empty()) return become_ready();
  if (config_.auth_requires_tls && !tls_active_) {
    return fail(Outcome::temporary_failure, std::nullopt,
                "refusing to send credentials without TLS", true);
  }
  std::optional<std::string> chosen;
  for (const auto& mechanism : config_.auth->mechanisms) {
    if (std::find(caps_.auth.begin(), caps_.auth.end(), upper(mechanism)) != caps_.auth.end()) {
      chosen = upper(mechanism);
      break;
    }
  }
  if (!chosen)
    return fail(Outcome::temporary_failure, std::nullopt,
                "no AUTH mechanism in common with the server", true);
  auto client = sasl::Client::create(*chosen, config_.auth->credentials);
  if (!client)
    return fail(Outcome::temporary_failure, std::nullopt, "AUTH: " + client.error().message, true);
  sasl_ = std::move(client).value();
  phase_ = Phase::auth;
  auto initial = sasl_->initial_response();
  send("AUTH " + *chosen + (initial ? " " + sasl::encode_initial_response(*initial) : ""),
       Expect::auth);
}

void ClientSession::on_auth(const Reply& reply) {
  if (reply.code == 235) {
    authenticated_ = true;
    sasl_.reset();
    return become_ready();
  }
  if (reply.code == 334 && sasl_) {
    auto challenge = sasl::base64_decode(reply.lines.front(), std::size_t{64} * 1024);
    auto answer = challenge ? sasl_->respond(*challenge) : Result<std::string>(challenge.error());
    if (!answer) {
      send("*", Expect::auth);  // cancel: the server answers 501 and we fail below
      return;
    }
    return send(sasl::encode_response(*answer), Expect::auth);
  }
  sasl_.reset();
  fail(Outcome::temporary_failure, reply, "authentication failed", true);
}

void ClientSession::become_ready() {
  phase_ = Phase::ready;
  if (quit_requested_) return quit(now_);
  events_.push(ReadyEvent{caps_, tls_active_, authenticated_});
}

// ---- the transaction ---------------------------------------------------------------------

std::error_code ClientSession::submit(Envelope envelope, Instant now) {
  if (phase_ == Phase::closed) return client_errc::closed;
  if (phase_ != Phase::ready) return client_errc::not_ready;
  if (envelope.recipients.empty()) return client_errc::no_recipients;
  now_ = now;
  Transaction txn;
  txn.decided.assign(envelope.recipients.size(), false);
  const bool probe = envelope.probe_only;
  const bool binary = !probe && envelope.params.body == BodyType::binary_mime;
  const bool long_lines = !probe && envelope.long_lines;
  txn.chunked = !probe && caps_.chunking && caps_.pipelining &&
                (binary || long_lines || config_.use_chunking);
  txn.envelope = std::move(envelope);
  txn_ = std::move(txn);
  phase_ = Phase::transaction;
  if (binary && !(txn_->chunked && caps_.binary_mime)) {
    decide_open(Outcome::permanent_failure,
                local_reply(554, {5, 6, 3}, "the next hop cannot take a BINARYMIME body"));
    finish_transaction();
    return {};
  }
  if (long_lines && !txn_->chunked) {
    decide_open(Outcome::permanent_failure,
                local_reply(554, {5, 6, 0},
                            "a line is longer than 998 octets and the next hop offers no "
                            "CHUNKING to carry it"));
    finish_transaction();
    return {};
  }
  if (needs_rset_) {
    needs_rset_ = false;
    send("RSET", Expect::rset);
  }
  send(mail_line(), Expect::mail);
  if (caps_.pipelining && config_.use_pipelining) {
    while (txn_->rcpts_sent < txn_->envelope.recipients.size()) send_next_rcpt();
    if (!txn_->chunked && !probe) {
      txn_->data_sent = true;
      send("DATA", Expect::data);
    }
  }
  process_replies();
  return {};
}

// MAIL FROM with the parameters the server offers; the rest are dropped (RFC 5321 §4.1.1.11).
std::string ClientSession::mail_line() const {
  Mail mail{txn_->envelope.sender, txn_->envelope.params};
  MailParams& p = mail.params;
  if (!caps_.size) p.size.reset();
  if (p.body == BodyType::eight_bit_mime && !caps_.eight_bit_mime) p.body.reset();
  if (!caps_.smtputf8) p.smtputf8 = false;
  if (!caps_.dsn) {
    p.ret.reset();
    p.envid.reset();
  }
  p.auth.reset();
  p.hold_for_seconds.reset();
  p.hold_until.reset();
  p.by.reset();
  p.mt_priority.reset();
  p.requiretls = false;
  p.unknown.clear();
  auto line = serialize(Command{std::move(mail)});
  assert(line.has_value());
  std::string text = line ? *line : "MAIL FROM:<>\r\n";
  text.resize(text.size() - 2);  // send() adds the CRLF
  return text;
}

void ClientSession::send_next_rcpt() {
  const std::size_t index = txn_->rcpts_sent++;
  Rcpt rcpt = txn_->envelope.recipients[index];
  if (!caps_.dsn) rcpt.params = RcptParams{};
  rcpt.params.unknown.clear();
  auto line = serialize(Command{std::move(rcpt)});
  assert(line.has_value());
  std::string text = line ? *line : "RCPT TO:<postmaster>\r\n";
  text.resize(text.size() - 2);
  send(text, Expect::rcpt, index);
}

void ClientSession::on_mail(const Reply& reply) {
  if (reply.code / 100 != 2) {
    txn_->mail_failure = reply;
    needs_rset_ = true;
    if (!caps_.pipelining || !config_.use_pipelining) {
      decide_open(txn_->envelope.probe_only ? Outcome::temporary_failure : outcome_of(reply),
                  reply);
      return finish_transaction();
    }
    return;  // the pipelined RCPT and DATA replies still come
  }
  if (!caps_.pipelining || !config_.use_pipelining) send_next_rcpt();
}

void ClientSession::on_rcpt(const Reply& reply, std::size_t index) {
  if (txn_->mail_failure) {
    decide(index,
           txn_->envelope.probe_only ? Outcome::temporary_failure : outcome_of(*txn_->mail_failure),
           *txn_->mail_failure);
  } else if (reply.code / 100 == 2) {
    txn_->accepted.push_back(index);
    if (txn_->envelope.probe_only) txn_->accepted_replies.push_back(reply);
  } else {
    decide(index, outcome_of(reply), reply);
  }
  const bool last = index + 1 == txn_->envelope.recipients.size();
  if (!last) {
    if (!caps_.pipelining || !config_.use_pipelining) send_next_rcpt();
    return;
  }
  after_rcpts();
}

void ClientSession::after_rcpts() {
  if (txn_->data_sent) return;  // pipelined: the DATA reply decides
  if (txn_->envelope.probe_only) return finish_probe();
  if (txn_->accepted.empty()) {
    needs_rset_ = true;
    return finish_transaction();
  }
  if (txn_->chunked) return want_body();
  txn_->data_sent = true;
  send("DATA", Expect::data);
}

// The RCPT replies were the answer: report them and leave the transaction for the next
// submit's RSET (or QUIT) to clear.
void ClientSession::finish_probe() {
  for (std::size_t i = 0; i < txn_->accepted.size(); ++i) {
    decide(txn_->accepted[i], Outcome::delivered, txn_->accepted_replies[i]);
  }
  needs_rset_ = true;
  finish_transaction();
}

void ClientSession::on_data(const Reply& reply) {
  if (reply.code == 354) {
    if (txn_->accepted.empty()) {  // a server that said 354 with no recipient: end it empty
      out_.append(".\r\n");
      expected_.push_back({Expect::data_end, SIZE_MAX, config_.data_end_timeout});
      return;
    }
    return want_body();
  }
  if (!txn_->accepted.empty()) decide_open(outcome_of(reply), reply);
  needs_rset_ = true;  // a refused DATA leaves the server inside the transaction
  finish_transaction();
}

void ClientSession::want_body() {
  txn_->body_wanted = true;
  encoder_ = DataEncoder(!txn_->chunked);
  events_.push(BodyWantedEvent{});
}

std::error_code ClientSession::send_body(std::span<const char> bytes, Instant now) {
  if (phase_ == Phase::closed) return client_errc::closed;
  if (!txn_ || !txn_->body_wanted || txn_->body_ended) return client_errc::body_not_wanted;
  now_ = now;
  if (!txn_->chunked) {
    encoder_.encode(bytes, out_.append_target());
    return {};
  }
  if (bytes.empty()) return {};
  std::string chunk;
  if (txn_->envelope.params.body == BodyType::binary_mime) {
    chunk.assign(bytes.data(), bytes.size());
  } else {
    encoder_.encode(bytes, chunk);
  }
  if (chunk.empty()) return {};  // a lone CR waits for its LF
  send("BDAT " + std::to_string(chunk.size()), Expect::bdat);
  out_.append(chunk);
  process_replies();
  return {};
}

std::error_code ClientSession::end_body(Instant now) {
  if (phase_ == Phase::closed) return client_errc::closed;
  if (!txn_ || !txn_->body_wanted || txn_->body_ended) return client_errc::body_not_wanted;
  now_ = now;
  txn_->body_ended = true;
  const std::size_t replies = config_.mode == ClientMode::lmtp ? txn_->accepted.size() : 1;
  if (!txn_->chunked) {
    encoder_.finish(out_.append_target());
    for (std::size_t i = 0; i < replies; ++i) {
      expected_.push_back({Expect::data_end, i, config_.data_end_timeout});
    }
  } else {
    std::string tail;
    if (txn_->envelope.params.body != BodyType::binary_mime) encoder_.end_lines(tail);
    out_.append("BDAT " + std::to_string(tail.size()) + " LAST\r\n" + tail);
    for (std::size_t i = 0; i < replies; ++i) {
      expected_.push_back({Expect::bdat_last, i, config_.data_end_timeout});
    }
  }
  process_replies();
  return {};
}

void ClientSession::on_bdat(const Reply& reply) {
  if (reply.code / 100 != 2 && !txn_->body_failure) txn_->body_failure = reply;
}

void ClientSession::on_final(const Reply& reply, std::size_t index) {
  if (index == SIZE_MAX) {  // the empty body ended after a stray 354
    needs_rset_ = false;
    return finish_transaction();
  }
  const Reply& decisive = txn_->body_failure ? *txn_->body_failure : reply;
  if (config_.mode == ClientMode::lmtp) {
    decide(txn_->accepted[index], outcome_of(decisive), decisive);
    if (index + 1 < txn_->accepted.size()) return;
  } else {
    decide_open(outcome_of(decisive), decisive);
  }
  finish_transaction();
}

void ClientSession::decide(std::size_t index, Outcome outcome, const Reply& reply) {
  if (txn_->decided[index]) return;
  txn_->decided[index] = true;
  events_.push(RecipientEvent{index, outcome, reply});
}

void ClientSession::decide_open(Outcome outcome, const Reply& reply) {
  for (std::size_t i = 0; i < txn_->decided.size(); ++i) decide(i, outcome, reply);
}

void ClientSession::finish_transaction() {
  txn_.reset();
  events_.push(MessageDoneEvent{});
  become_ready();
}

void ClientSession::quit(Instant now) {
  now_ = now;
  if (phase_ == Phase::closed || phase_ == Phase::quitting) return;
  if (phase_ != Phase::ready) {
    quit_requested_ = true;  // after the transaction, or once the session is ready
    return;
  }
  phase_ = Phase::quitting;
  send("QUIT", Expect::quit);
  process_replies();
}

void ClientSession::fail(Outcome outcome, std::optional<Reply> reply, std::string reason,
                         bool usable) {
  if (phase_ == Phase::quitting) {  // nothing is open any more: just end
    expected_.clear();
    deadline_.reset();
    phase_ = Phase::closed;
    events_.push(ClientClosedEvent{});
    return;
  }
  if (txn_) {
    // A refused MAIL already said why (a 421 before the server hung up on the pipelined
    // RCPT and DATA): that reply, not our stand-in, is every open recipient's outcome.
    if (!reply && txn_->mail_failure && !txn_->envelope.probe_only) {
      decide_open(outcome_of(*txn_->mail_failure), *txn_->mail_failure);
    }
    const Reply stand_in = reply.value_or(local_reply(
        outcome == Outcome::permanent_failure ? 554 : 451,
        {static_cast<std::uint16_t>(outcome == Outcome::permanent_failure ? 5 : 4), 4, 0}, reason));
    decide_open(outcome, stand_in);
    txn_.reset();
    events_.push(MessageDoneEvent{});
  }
  events_.push(SessionFailedEvent{outcome, std::move(reply), std::move(reason)});
  expected_.clear();
  deadline_.reset();
  if (usable) {
    phase_ = Phase::quitting;
    send("QUIT", Expect::quit);
    return;
  }
  phase_ = Phase::closed;
  events_.push(ClientClosedEvent{});
}

// ---- output ------------------------------------------------------------------------------

Duration ClientSession::timeout_for(Expect kind) const {
  switch (kind) {
    case Expect::greeting: return config_.greeting_timeout;
    case Expect::data: return config_.data_start_timeout;
    case Expect::data_end:
    case Expect::bdat_last: return config_.data_end_timeout;
    default: return config_.command_timeout;
  }
}

void ClientSession::send(std::string_view line, Expect kind, std::size_t index) {
  out_.append(line);
  out_.append("\r\n");
  expected_.push_back({kind, index, timeout_for(kind)});
  if (!deadline_) deadline_ = now_ + timeout_for(kind);
}

std::optional<Instant> ClientSession::poll_timeout() const {
  if (phase_ == Phase::closed || phase_ == Phase::awaiting_tls) return std::nullopt;
  return deadline_;
}

}  // namespace tern::protocol::smtp
