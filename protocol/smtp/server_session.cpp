// The server machine's core: input framing, decisions, output and bookkeeping. The
// command handlers are in server_commands.cpp.
#include "protocol/smtp/server_session.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "protocol/sasl/wire.hpp"
#include "protocol/smtp/server_replies.hpp"

namespace tern::protocol::smtp {
namespace {

class ServerCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.smtp.server"; }
  std::string message(int value) const override {
    switch (static_cast<server_errc>(value)) {
      case server_errc::no_pending_decision: return "no decision is pending with that ticket";
      case server_errc::wrong_decision_kind:
        return "this decision does not answer the pending question";
      case server_errc::bad_reply: return "the reply has the wrong class or cannot be sent";
      case server_errc::wrong_reply_count: return "one reply per accepted recipient is needed";
      case server_errc::not_awaiting_tls: return "no STARTTLS is waiting for a handshake";
    }
    return "unknown server session error";
  }
};

bool reply_in_class(const Reply& reply, int first_digit) {
  return reply.code / 100 == first_digit && !check(reply).has_value();
}

bool is_failure(const Reply& reply) {
  return reply_in_class(reply, 4) || reply_in_class(reply, 5);
}

std::optional<AbortReason> abort_reason(DataViolation violation) {
  switch (violation) {
    case DataViolation::none: return std::nullopt;
    case DataViolation::bare_lf: return AbortReason::bare_lf;
    case DataViolation::bare_cr: return AbortReason::bare_cr;
    case DataViolation::line_too_long: return AbortReason::line_too_long;
    case DataViolation::nul: return AbortReason::nul;
    case DataViolation::too_large: return AbortReason::too_large;
  }
  return AbortReason::connection_lost;
}

}  // namespace

const std::error_category& server_category() {
  static const ServerCategory category;
  return category;
}

std::error_code make_error_code(server_errc e) {
  return {static_cast<int>(e), server_category()};
}

ServerSession::ServerSession(ServerConfig config, Instant now)
    : config_(std::move(config)),
      started_(now),
      last_activity_(now),
      tls_active_(config_.tls_active) {
  if (config_.greeting_text.empty()) {
    config_.greeting_text = config_.mode == ServerMode::lmtp ? "LMTP Tern" : "ESMTP Tern";
  }
  if (config_.refusal) {
    reply("", *config_.refusal);
  } else {
    reply("", replies::plain(220, config_.hostname + " " + config_.greeting_text));
  }
}

// ---- input -------------------------------------------------------------------------------

bool ServerSession::may_consume() const {
  return phase_ != Phase::closed && !pending_ && out_.size() < config_.output_backlog_bytes_max;
}

bool ServerSession::wants_read() const {
  return may_consume() && phase_ != Phase::awaiting_tls;
}

std::size_t ServerSession::feed(std::span<const char> bytes, Instant now) {
  // Body bytes are activity (RFC 5321's timeout is per block); a partial command line is not,
  // so a client dripping one byte at a time still meets the command timeout (on_line).
  if (!bytes.empty() && may_consume() && (phase_ == Phase::data || phase_ == Phase::bdat)) {
    touch(now);
  }
  std::size_t used = 0;
  while (used < bytes.size() && may_consume()) {
    const auto rest = bytes.subspan(used);
    switch (phase_) {
      case Phase::command:
      case Phase::auth_response: used += feed_line(rest, now); break;
      case Phase::data: used += feed_data(rest, now); break;
      case Phase::bdat: used += feed_bdat(rest, now); break;
      case Phase::awaiting_tls: used = bytes.size(); break;  // injected before TLS: dropped
      case Phase::closed: break;
    }
  }
  flush_body();
  return used;
}

std::size_t ServerSession::feed_line(std::span<const char> bytes, Instant now) {
  const std::size_t line_max = phase_ == Phase::auth_response
                                   ? config_.auth_line_bytes_max
                                   : config_.limits.effective().command_line_bytes_max;
  const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
  const std::size_t take =
      lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - bytes.data()) + 1 : bytes.size();
  if (!line_overflow_ && line_.size() + take > line_max) {
    line_overflow_ = true;  // keep reading to the LF, then answer once
    line_.clear();
  }
  if (!line_overflow_) line_.append(bytes.data(), take);
  if (lf == nullptr) return take;
  if (line_overflow_) {
    line_overflow_ = false;
    const bool in_auth = phase_ == Phase::auth_response;
    phase_ = Phase::command;
    refuse("", in_auth ? replies::auth_line_too_long() : replies::command_line_too_long());
    return take;
  }
  std::string line = std::exchange(line_, {});
  on_line(line, now);
  return take;
}

void ServerSession::on_line(std::string_view line, Instant now) {
  touch(now);             // a complete line: before the command, which may read the time
  line.remove_suffix(1);  // the LF
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  } else if (!config_.allow_bare_lf_in_commands) {
    phase_ = Phase::command;  // an AUTH exchange ends here too
    refuse("", replies::bare_lf_in_command());
    return;
  }
  if (phase_ == Phase::auth_response) {
    on_auth_line(line);
  } else {
    on_command_line(line);
  }
}

std::size_t ServerSession::feed_data(std::span<const char> bytes, Instant) {
  const DecodeStep step = decoder_.decode(bytes, body_);
  transfer_bytes_ += step.consumed;
  if (step.finished) end_body(abort_reason(decoder_.violation()));
  return step.consumed;
}

std::size_t ServerSession::feed_bdat(std::span<const char> bytes, Instant) {
  const auto take =
      static_cast<std::size_t>(std::min<std::uint64_t>(bdat_remaining_, bytes.size()));
  transfer_bytes_ += take;
  if (!bdat_discard_) {
    // A text body obeys DATA's rules (no NUL, lines of at most 1000 octets): it may be
    // relayed over DATA, where a long line or a NUL is what smuggling is made of.
    if (!txn_.binary) bdat_scanner_.scan(std::string_view(bytes.data(), take));
    if (bdat_scanner_.violation() == DataViolation::none) body_.append(bytes.data(), take);
    txn_.body_bytes += take;
  }
  bdat_remaining_ -= take;
  if (bdat_remaining_ == 0) {
    phase_ = Phase::command;
    const DataViolation violation = bdat_discard_ ? DataViolation::none : bdat_scanner_.violation();
    if (bdat_discard_) {
      bdat_discard_ = false;
      refuse_chunk(*std::exchange(bdat_refusal_, std::nullopt));
    } else if (violation != DataViolation::none) {
      // The chunk that carried the fault is refused, the body so far dropped, and the
      // transaction failed (further BDAT: 503 until RSET), as for an oversize chunk.
      push_event(MessageAbortedEvent{*abort_reason(violation)});
      txn_.failed = true;
      refuse_chunk(
          violation == DataViolation::nul
              ? replies::body_nul()
              : replies::body_line_too_long(config_.limits.effective().text_line_bytes_max));
    } else if (!bdat_last_) {
      reply("BDAT", replies::chunk_received(txn_.body_bytes));
    } else {
      end_body(std::nullopt);
    }
  }
  return take;
}

// A refused BDAT chunk: one reply, or in LMTP for the LAST chunk of a transaction one per
// accepted recipient (RFC 2033 §4.2), as the client of a LAST chunk waits for.
void ServerSession::refuse_chunk(Reply refusal) {
  const bool per_recipient =
      config_.mode == ServerMode::lmtp && bdat_last_ && txn_.active && txn_.recipients > 0;
  for (std::size_t i = 1; per_recipient && i < txn_.recipients; ++i) reply("BDAT", refusal);
  refuse("BDAT", std::move(refusal));
}

void ServerSession::end_body(std::optional<AbortReason> abort) {
  phase_ = Phase::command;
  transfer_started_.reset();
  transfer_bytes_ = 0;
  flush_body();
  if (!abort) {
    const std::uint64_t size = txn_.chunked ? txn_.body_bytes : decoder_.body_bytes();
    ask(Question::message, MessageEvent{next_ticket_, size, txn_.recipients});
    return;
  }
  Reply refusal = replies::message_too_big();
  if (*abort == AbortReason::bare_lf) refusal = replies::body_bare_lf();
  if (*abort == AbortReason::bare_cr) refusal = replies::body_bare_cr();
  if (*abort == AbortReason::line_too_long) {
    refusal = replies::body_line_too_long(config_.limits.effective().text_line_bytes_max);
  }
  if (*abort == AbortReason::nul) refusal = replies::body_nul();
  push_event(MessageAbortedEvent{*abort});
  const std::size_t count = config_.mode == ServerMode::lmtp ? txn_.recipients : 1;
  for (std::size_t i = 0; i < count; ++i) reply("DATA", refusal);
  reset_transaction(false);
}

// ---- decisions ---------------------------------------------------------------------------

void ServerSession::ask(Question question, ServerEvent event) {
  pending_ = Pending{next_ticket_++, question};
  push_event(std::move(event));
}

std::error_code ServerSession::decide(Ticket ticket, ServerDecision decision, Instant now) {
  if (!pending_ || pending_->ticket != ticket) return server_errc::no_pending_decision;
  const Instant before = last_activity_;
  touch(now);  // the time the application took is not the client's idleness
  std::error_code error;
  switch (pending_->question) {
    case Question::hello: error = decide_hello(decision); break;
    case Question::mail: error = decide_mail(decision); break;
    case Question::rcpt: error = decide_rcpt(decision); break;
    case Question::message: error = decide_message(decision); break;
    case Question::auth: error = decide_auth(decision); break;
    case Question::verify: error = decide_verify(decision); break;
  }
  if (error) {
    last_activity_ = before;  // a refused decision changes nothing
    return error;
  }
  if (shutdown_requested_ && phase_ != Phase::closed) {
    close(CloseReason::shutdown, replies::shutting_down(config_.hostname));
  }
  if (eof_ && phase_ != Phase::closed && !pending_) feed_eof(now);
  return {};
}

// Validates a plain accept-or-reject answer; on success `out` is the reply to send.
std::error_code ServerSession::simple_answer(const ServerDecision& decision, Reply standard,
                                             Reply& out, bool& accepted) {
  if (const auto* accept = std::get_if<Accept>(&decision)) {
    out = accept->reply.value_or(std::move(standard));
    if (!reply_in_class(out, 2)) return server_errc::bad_reply;
    accepted = true;
    return {};
  }
  if (const auto* reject = std::get_if<Reject>(&decision)) {
    if (!is_failure(reject->reply)) return server_errc::bad_reply;
    out = reject->reply;
    accepted = false;
    return {};
  }
  return server_errc::wrong_decision_kind;
}

std::error_code ServerSession::set_extensions(const ServerExtensions& extensions) {
  if (!pending_ || pending_->question != Question::hello) return server_errc::no_pending_decision;
  config_.extensions = extensions;
  return {};
}

std::error_code ServerSession::decide_hello(const ServerDecision& decision) {
  const HelloKind kind = pending_hello_;
  if (kind != HelloKind::helo) {
    const auto* accept = std::get_if<Accept>(&decision);
    if (accept != nullptr && accept->reply) return server_errc::wrong_decision_kind;
  }
  Reply answer;
  bool accepted = false;
  auto error = simple_answer(decision, replies::plain(250, config_.hostname), answer, accepted);
  if (error) return error;
  pending_.reset();
  if (!accepted) {
    reply(verb_of(kind), std::move(answer));
    return {};
  }
  hello_ = kind;
  hello_utf8_ = pending_hello_utf8_;
  if (kind == HelloKind::helo) {
    reply("HELO", std::move(answer));
  } else {
    Reply ehlo{250, std::nullopt, {config_.hostname}};
    for (auto& keyword : ehlo_keywords()) ehlo.lines.push_back(std::move(keyword));
    reply(verb_of(kind), std::move(ehlo));
  }
  return {};
}

std::error_code ServerSession::decide_mail(const ServerDecision& decision) {
  Reply answer;
  bool accepted = false;
  auto error = simple_answer(decision, replies::sender_ok(), answer, accepted);
  if (error) return error;
  pending_.reset();
  if (accepted) {
    txn_ = Transaction{};
    txn_.active = true;
    txn_.smtputf8 = pending_mail_.smtputf8;
    txn_.binary = pending_mail_.body == BodyType::binary_mime;
  }
  reply("MAIL", std::move(answer));
  return {};
}

std::error_code ServerSession::decide_rcpt(const ServerDecision& decision) {
  Reply answer;
  bool accepted = false;
  auto error = simple_answer(decision, replies::recipient_ok(), answer, accepted);
  if (error) return error;
  pending_.reset();
  ++txn_.rcpt_attempts;
  if (accepted) ++txn_.recipients;
  const bool permanent = reply_in_class(answer, 5);
  reply("RCPT", std::move(answer));
  // Recipient enumeration and floods: the session ends after rcpt_errors_max recipients
  // refused for good (a 4xx, a directory that cannot answer, is not the client's fault).
  if (permanent && config_.rcpt_errors_max != 0 && ++rcpt_errors_ > config_.rcpt_errors_max &&
      phase_ != Phase::closed) {
    close(CloseReason::too_many_errors, replies::too_many_rcpt_errors(config_.hostname));
  }
  return {};
}

std::error_code ServerSession::decide_verify(const ServerDecision& decision) {
  Reply answer;
  bool accepted = false;
  auto error = simple_answer(decision, replies::cannot_verify(), answer, accepted);
  if (error) return error;
  pending_.reset();
  junk("VRFY", std::move(answer));
  return {};
}

std::error_code ServerSession::decide_message(const ServerDecision& decision) {
  const bool lmtp = config_.mode == ServerMode::lmtp;
  std::vector<Reply> answers;
  if (const auto* each = std::get_if<PerRecipient>(&decision)) {
    if (!lmtp) return server_errc::wrong_decision_kind;
    if (each->replies.size() != txn_.recipients) return server_errc::wrong_reply_count;
    for (const Reply& r : each->replies) {
      if (!reply_in_class(r, 2) && !is_failure(r)) return server_errc::bad_reply;
    }
    answers = each->replies;
  } else {
    Reply answer;
    bool accepted = false;
    auto error = simple_answer(decision, replies::message_accepted(), answer, accepted);
    if (error) return error;
    answers.assign(lmtp ? txn_.recipients : 1, answer);
  }
  pending_.reset();
  // Junk commands (RSET, NOOP ...) are counted between messages, as Postfix does: a client
  // that keeps delivering on one connection is never cut off for its RSETs.
  if (std::any_of(answers.begin(), answers.end(), [](const Reply& r) { return r.code / 100 == 2; }))
    junk_ = 0;
  for (auto& answer : answers) reply(txn_.chunked ? "BDAT" : "DATA", std::move(answer));
  reset_transaction(false);
  return {};
}

std::error_code ServerSession::decide_auth(const ServerDecision& decision) {
  if (const auto* challenge = std::get_if<Challenge>(&decision)) {
    pending_.reset();
    const std::string encoded = sasl::encode_challenge(challenge->data);
    out_.append("334 " + encoded + "\r\n");  // RFC 4954 §4: "334" SP [base64], even when empty
    push_event(RepliedEvent{"AUTH", Reply{334, std::nullopt, {encoded}}});
    phase_ = Phase::auth_response;
    return {};
  }
  if (std::holds_alternative<Authenticated>(decision)) {
    pending_.reset();
    authenticated_ = true;
    reply("AUTH", replies::auth_success());
    return {};
  }
  if (const auto* reject = std::get_if<Reject>(&decision)) {
    if (!is_failure(reject->reply)) return server_errc::bad_reply;
    pending_.reset();
    reply("AUTH", reject->reply);
    if (++auth_failures_ >= config_.auth_failures_max) {
      close(CloseReason::too_many_auth_failures, replies::too_many_auth_failures(config_.hostname));
    }
    return {};
  }
  return server_errc::wrong_decision_kind;
}

// ---- other inputs ------------------------------------------------------------------------

void ServerSession::feed_eof(Instant) {
  eof_ = true;
  if (pending_ || phase_ == Phase::closed) return;
  if (phase_ == Phase::data || phase_ == Phase::bdat) {
    push_event(MessageAbortedEvent{AbortReason::connection_lost});
    body_.clear();
  }
  close(CloseReason::peer_closed, std::nullopt);
}

void ServerSession::on_timeout(Instant now) {
  const auto deadline = poll_timeout();
  if (!deadline || now < *deadline) return;
  if (phase_ == Phase::data || phase_ == Phase::bdat) {
    push_event(MessageAbortedEvent{AbortReason::connection_lost});
  }
  close(CloseReason::timeout, replies::timeout(config_.hostname));
}

std::error_code ServerSession::on_tls_established(Instant now) {
  if (phase_ != Phase::awaiting_tls) return server_errc::not_awaiting_tls;
  // RFC 3207 §4.2: forget everything the client said before TLS.
  tls_active_ = true;
  hello_.reset();
  hello_utf8_ = false;
  authenticated_ = false;
  txn_ = Transaction{};
  line_.clear();
  phase_ = Phase::command;
  touch(now);
  return {};
}

void ServerSession::shutdown(Instant) {
  shutdown_requested_ = true;
  // A message being received is let to finish: its end is the next point where a reply
  // may be sent, and the application decides it (and so may still accept it) before the
  // 421. A BDAT chunk's reply point is after the chunk; the next command gets the 421.
  if (pending_ || phase_ == Phase::closed || phase_ == Phase::data || phase_ == Phase::bdat ||
      phase_ == Phase::awaiting_tls) {
    return;
  }
  close(CloseReason::shutdown, replies::shutting_down(config_.hostname));
}

// ---- output ------------------------------------------------------------------------------

std::optional<Instant> ServerSession::poll_timeout() const {
  if (phase_ == Phase::closed || phase_ == Phase::awaiting_tls || pending_) return std::nullopt;
  const bool in_body = phase_ == Phase::data || phase_ == Phase::bdat;
  Instant deadline = last_activity_ + (in_body ? config_.data_timeout : config_.command_timeout);
  if (transfer_started_) {
    const Instant start = *transfer_started_;
    if (config_.data_total_max.ns > 0)
      deadline = std::min(deadline, start + config_.data_total_max);
    if (config_.data_rate_min > 0) {
      // The transfer may last data_timeout plus one second per data_rate_min octets so far.
      const auto allowed_ns = static_cast<std::int64_t>(
          std::min<std::uint64_t>(transfer_bytes_ / config_.data_rate_min, 1ull << 32) *
          1'000'000'000ull);
      deadline = std::min(deadline, start + config_.data_timeout + Duration{allowed_ns});
    }
  }
  return deadline;
}

void ServerSession::touch(Instant now) {
  last_activity_ = now;
}

void ServerSession::flush_body() {
  if (!body_.empty()) events_.push(BodyChunkEvent{std::exchange(body_, {})});
}

// Every event goes through here so decoded body bytes always precede what follows them.
void ServerSession::push_event(ServerEvent event) {
  flush_body();
  events_.push(std::move(event));
}

void ServerSession::reply(std::string_view verb, Reply r) {
  if (!config_.extensions.enhanced_status_codes) r.enhanced.reset();
  auto wire = serialize(r);
  assert(wire.has_value() && "the machine only sends replies it can serialize");
  if (wire) out_.append(*wire);
  push_event(RepliedEvent{std::string(verb), std::move(r)});
}

void ServerSession::refuse(std::string_view verb, Reply r) {
  reply(verb, std::move(r));
  if (++errors_ >= config_.errors_max && phase_ != Phase::closed) {
    close(CloseReason::too_many_errors, replies::too_many_errors(config_.hostname));
  }
}

void ServerSession::junk(std::string_view verb, Reply r) {
  reply(verb, std::move(r));
  if (++junk_ > config_.junk_commands_max && phase_ != Phase::closed) {
    close(CloseReason::too_many_errors, replies::too_many_errors(config_.hostname));
  }
}

void ServerSession::reset_transaction(bool announce) {
  if (announce) push_event(ResetEvent{});
  txn_ = Transaction{};
  transfer_started_.reset();
  transfer_bytes_ = 0;
}

void ServerSession::close(CloseReason reason, std::optional<Reply> last_reply) {
  if (last_reply) reply("", std::move(*last_reply));
  phase_ = Phase::closed;
  pending_.reset();
  push_event(ClosedEvent{reason});
}

}  // namespace tern::protocol::smtp
