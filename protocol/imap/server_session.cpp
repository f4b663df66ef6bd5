// The IMAP server machine's core: framing, decisions, output and bookkeeping. The command
// handlers are in server_commands.cpp.
#include "protocol/imap/server_session.hpp"

#include <cassert>

namespace tern::protocol::imap {
namespace {

class ServerCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.imap.server"; }
  std::string message(int value) const override {
    switch (static_cast<server_errc>(value)) {
      case server_errc::no_pending_decision: return "no decision is pending with that ticket";
      case server_errc::wrong_decision_kind:
        return "this decision does not answer the pending question";
      case server_errc::not_awaiting_tls: return "no STARTTLS is waiting for a handshake";
    }
    return "unknown IMAP server error";
  }
};

// The greeting text is configuration: keep it to what a resp-text may carry.
std::string clean_text(std::string text) {
  std::erase_if(text, [](char c) { return c == '\0' || c == '\r' || c == '\n'; });
  if (!text.empty() && text[0] == '[') text.insert(0, " ");
  return text;
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
      reader_(config_.limits),
      last_activity_(now),
      tls_(config_.tls_active) {
  std::string caps;
  for (const auto& c : capabilities()) caps += (caps.empty() ? "" : " ") + c;
  respond(StatusResponse{"", Status::ok, ResponseCode{"CAPABILITY", caps},
                         clean_text(config_.greeting_text)});
}

// ---- input -------------------------------------------------------------------------------

bool ServerSession::may_consume() const {
  return phase_ != Phase::closed && !pending_ && out_.size() < config_.output_backlog_bytes_max;
}

std::size_t ServerSession::feed(std::span<const char> bytes, Instant now) {
  std::size_t used = 0;
  while (used < bytes.size() && may_consume()) {
    if (phase_ == Phase::awaiting_tls) {  // pipelined after STARTTLS: dropped (RFC 9051 §6.2.1)
      used = bytes.size();
      break;
    }
    used += reader_.feed(bytes.subspan(used));
    switch (reader_.state()) {
      case CommandReader::State::reading: break;
      case CommandReader::State::literal_wanted: on_literal_wanted(); break;
      case CommandReader::State::complete: on_complete(); break;
      case CommandReader::State::line_too_long:
        close(CloseReason::line_too_long, "Command line too long.", ResponseCode{"TOOBIG", ""});
        break;
    }
  }
  if (used != 0) last_activity_ = now;
  return used;
}

void ServerSession::on_complete() {
  const std::vector<CommandPart> parts = reader_.parts();
  const bool bare_lf = reader_.bare_lf();
  const bool oversize = reader_.oversize();
  reader_.reset();
  if (phase_ == Phase::auth_response) return on_auth_line(parts.front().line, bare_lf);
  on_command(parts, bare_lf, oversize);
}

// A synchronizing literal: invite it only for a LOGIN that may go on (RFC 9051 §7.5: the
// client abandons a command whose literal is answered with a tagged response instead).
void ServerSession::on_literal_wanted() {
  const std::vector<CommandPart> parts = reader_.parts();
  const LiteralHeader header = reader_.literal();
  std::string tag;
  const auto head = parse_command_head(parts.front().line, &tag);
  const bool login = head && iequals(head->name, "LOGIN");
  const bool fits = header.bytes <= config_.limits.literal_bytes_max &&
                    parts.size() <= config_.limits.literals_max;
  if (login && login_usable() && !authenticated_ && fits) {
    respond(ContinuationRequest{"Ready for literal data"});
    reader_.accept_literal();
    return;
  }
  reader_.reset();
  if (!head) return bad(tag, "", "Error in IMAP command received by server.");
  if (login && login_usable() && !authenticated_) {
    return bad(tag, "LOGIN", "Literal too large.", ResponseCode{"TOOBIG", ""});
  }
  if (answer_outside_subset(tag, head->name)) return;
  if (login) return on_login(tag, {});  // refused before it needs its arguments
  bad(tag, head->name, "Error in IMAP command " + head->name + ": Invalid arguments.");
}

// ---- decisions ---------------------------------------------------------------------------

std::error_code ServerSession::decide(Ticket ticket, ServerDecision decision, Instant now) {
  if (!pending_ || *pending_ != ticket) return server_errc::no_pending_decision;
  if (!sasl_) {  // the LOGIN command
    if (std::holds_alternative<Secret>(decision)) return server_errc::wrong_decision_kind;
    pending_.reset();
    if (const auto* v = std::get_if<Verified>(&decision); v != nullptr && v->ok) {
      auth_succeeded();
    } else if (v != nullptr) {
      auth_failed(sasl::Failure{sasl::FailureReason::rejected, "credentials rejected", true});
    } else {
      auth_failed(sasl::Failure{sasl::FailureReason::unavailable,
                                "credentials could not be checked", false});
    }
  } else {
    sasl::StepResult step = std::error_code(sasl::Misuse::wrong_decision);
    if (const auto* v = std::get_if<Verified>(&decision)) step = sasl_->verified(v->ok);
    if (const auto* s = std::get_if<Secret>(&decision)) step = sasl_->supply_secret(s->secret);
    if (std::holds_alternative<Unavailable>(decision)) step = sasl_->unavailable();
    if (!step) return server_errc::wrong_decision_kind;
    pending_.reset();
    on_step(step);
  }
  last_activity_ = now;
  if (shutdown_requested_ && phase_ != Phase::closed) shutdown(now);
  if (eof_ && phase_ != Phase::closed) feed_eof(now);
  return {};
}

// ---- other inputs ------------------------------------------------------------------------

void ServerSession::feed_eof(Instant) {
  eof_ = true;
  if (pending_ || phase_ == Phase::closed) return;
  close(CloseReason::peer_closed, std::nullopt);
}

void ServerSession::on_timeout(Instant now) {
  const auto deadline = poll_timeout();
  if (!deadline || now < *deadline) return;
  close(CloseReason::timeout, "Disconnected for inactivity.");
}

void ServerSession::shutdown(Instant) {
  shutdown_requested_ = true;
  if (pending_ || phase_ == Phase::closed) return;
  close(CloseReason::shutdown, "Server shutting down.");
}

std::error_code ServerSession::on_tls_established(Instant now) {
  if (phase_ != Phase::awaiting_tls) return server_errc::not_awaiting_tls;
  tls_ = true;
  authenticated_ = false;
  sasl_.reset();
  reader_.reset();
  reader_.set_raw(false);
  phase_ = Phase::command;
  last_activity_ = now;
  return {};
}

// ---- output ------------------------------------------------------------------------------

std::optional<Instant> ServerSession::poll_timeout() const {
  if (phase_ == Phase::closed || phase_ == Phase::awaiting_tls || pending_) return std::nullopt;
  return last_activity_ + config_.idle_timeout;
}

void ServerSession::respond(const Response& response) {
  // The input limits bound what the client sends; what we send is bounded by construction.
  static constexpr Limits kOutputLimits{std::size_t{1} << 30, std::size_t{1} << 30, 1024, 1 << 16,
                                        16};
  auto wire = serialize(response, kOutputLimits);
  assert(wire.has_value() && "the machine only sends responses it can serialize");
  if (wire) out_.append(*wire);
}

void ServerSession::tagged(const std::string& tag, std::string_view command, Status status,
                           std::optional<ResponseCode> code, std::string text) {
  respond(StatusResponse{tag, status, std::move(code), std::move(text)});
  if (!tag.empty()) events_.push(CompletedEvent{tag, std::string(command), status});
}

void ServerSession::bad(const std::string& tag, std::string_view command, std::string text,
                        std::optional<ResponseCode> code) {
  tagged(tag, command, Status::bad, std::move(code), std::move(text));
  if (++bad_commands_ >= config_.bad_commands_max && phase_ != Phase::closed) {
    close(CloseReason::too_many_bad_commands, "Too many invalid IMAP commands.");
  }
}

void ServerSession::close(CloseReason reason, std::optional<std::string> bye,
                          std::optional<ResponseCode> code) {
  if (bye) respond(StatusResponse{"", Status::bye, std::move(code), std::move(*bye)});
  phase_ = Phase::closed;
  pending_.reset();
  events_.push(ClosedEvent{reason});
}

}  // namespace tern::protocol::imap
