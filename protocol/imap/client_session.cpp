// The IMAP client machine (client_session.hpp).
#include "protocol/imap/client_session.hpp"

#include <cstdio>

#include "protocol/sasl/base64.hpp"
#include "protocol/sasl/wire.hpp"

namespace tern::protocol::imap {
namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.imap.client"; }
  std::string message(int value) const override {
    switch (static_cast<client_errc>(value)) {
      case client_errc::already_requested: return "an authentication was already requested";
      case client_errc::closed: return "the session is closed";
      case client_errc::not_awaiting_tls: return "no STARTTLS is waiting for a handshake";
    }
    return "unknown IMAP client error";
  }
};

// Codes that say the server could not decide now (RFC 5530): the directory answers 4xx.
bool is_temporary_code(const ResponseCode& code) {
  return code.is("UNAVAILABLE") || code.is("SERVERBUG") || code.is("LIMIT") || code.is("INUSE") ||
         code.is("PRIVACYREQUIRED");
}

bool is_plaintext(std::string_view mechanism) {
  return !iequals(mechanism, "CRAM-MD5");
}

}  // namespace

const std::error_category& client_category() {
  static const ClientCategory category;
  return category;
}

std::error_code make_error_code(client_errc e) {
  return {static_cast<int>(e), client_category()};
}

ClientSession::ClientSession(ClientConfig config, Instant now)
    : config_(config),
      parser_(config_.limits),
      now_(now),
      last_activity_(now),
      tls_(config_.tls_active) {}

std::error_code ClientSession::authenticate(AuthRequest request, Instant now) {
  if (phase_ == Phase::closed) return client_errc::closed;
  if (request_) return client_errc::already_requested;
  request_ = std::move(request);
  if (phase_ == Phase::ready) {
    now_ = now;
    advance();
  }
  return {};
}

// ---- input -------------------------------------------------------------------------------

std::size_t ClientSession::feed(std::span<const char> bytes, Instant now) {
  now_ = now;
  std::size_t used = 0;
  while (phase_ != Phase::closed) {
    if (phase_ == Phase::awaiting_tls) {  // sent before the handshake: never trusted
      used = bytes.size();
      break;
    }
    used += parser_.feed(bytes.subspan(used));
    while (phase_ != Phase::closed && phase_ != Phase::awaiting_tls) {
      auto response = parser_.poll();
      if (!response) break;
      on_response(std::move(*response));
    }
    if (phase_ == Phase::awaiting_tls) continue;
    if (phase_ != Phase::closed && parser_.failed())
      fail(OutcomeReason::protocol_error, parser_.error()->message);
    if (used == bytes.size()) break;
  }
  return used;
}

void ClientSession::on_response(Response response) {
  if (phase_ == Phase::greeting) return on_greeting(response);
  if (const auto* c = std::get_if<ContinuationRequest>(&response)) return on_continuation(*c);
  if (const auto* s = std::get_if<StatusResponse>(&response); s != nullptr && !s->tag.empty()) {
    return on_tagged(*s);
  }
  on_untagged(response);
}

void ClientSession::on_greeting(const Response& response) {
  const auto* s = std::get_if<StatusResponse>(&response);
  if (s == nullptr || !s->tag.empty() || s->status == Status::no || s->status == Status::bad) {
    return fail(OutcomeReason::protocol_error, "unexpected greeting");
  }
  if (s->status == Status::bye) return fail(OutcomeReason::refused, s->text);
  preauth_ = s->status == Status::preauth;
  if (s->code && s->code->is("CAPABILITY")) {
    if (auto caps = parse_capability_list(s->code->text, config_.limits))
      set_capabilities(std::move(*caps));
  }
  phase_ = Phase::ready;
  advance();
}

void ClientSession::on_untagged(const Response& response) {
  if (const auto* caps = std::get_if<CapabilityResponse>(&response)) {
    if (phase_ == Phase::capability) set_capabilities(caps->capabilities);
    return;
  }
  const auto* s = std::get_if<StatusResponse>(&response);
  if (s == nullptr || s->status != Status::bye || phase_ == Phase::logout) return;
  fail(OutcomeReason::bye, s->text);  // the server is going away before it answered
}

void ClientSession::on_continuation(const ContinuationRequest& request) {
  if (phase_ == Phase::login && !login_rest_.empty()) {
    out_.append(login_rest_.front());
    login_rest_.erase(login_rest_.begin());
    last_activity_ = now_;
    return;
  }
  if (phase_ != Phase::authenticate || cancelled_ || !sasl_) {
    return fail(OutcomeReason::protocol_error, "unexpected continuation request");
  }
  auto challenge = sasl::base64_decode(request.text, config_.sasl_limits.message_bytes_max);
  auto answer = challenge ? sasl_->respond(*challenge) : Result<std::string>(challenge.error());
  if (!answer) {  // RFC 9051 §6.2.2: "*" cancels; the server answers BAD
    cancelled_ = true;
    out_.append(std::string(sasl::cancel_line()) + "\r\n");
  } else {
    out_.append(sasl::encode_response(*answer) + "\r\n");
  }
  last_activity_ = now_;
}

void ClientSession::on_tagged(const StatusResponse& response) {
  if (response.tag != tag_)
    return fail(OutcomeReason::protocol_error, "response with an unknown tag");
  switch (phase_) {
    case Phase::capability: return on_capability_done(response);
    case Phase::starttls: return on_starttls_done(response);
    case Phase::authenticate:
    case Phase::login: return on_auth_done(response);
    case Phase::logout: return close();
    case Phase::greeting:
    case Phase::awaiting_tls:
    case Phase::ready:
    case Phase::closed: break;
  }
  fail(OutcomeReason::protocol_error, "tagged response without a command");
}

void ClientSession::on_capability_done(const StatusResponse& response) {
  if (!caps_known_ && response.status == Status::ok && response.code &&
      response.code->is("CAPABILITY")) {
    if (auto caps = parse_capability_list(response.code->text, config_.limits))
      set_capabilities(std::move(*caps));
  }
  if (!caps_known_) set_capabilities({});  // a server without CAPABILITY: only LOGIN may do
  phase_ = Phase::ready;
  advance();
}

void ClientSession::on_starttls_done(const StatusResponse& response) {
  if (response.status != Status::ok) {
    if (config_.starttls == TlsPolicy::required)
      return fail(OutcomeReason::tls_unavailable, response.text);
    tls_refused_ = true;
    phase_ = Phase::ready;
    return advance();
  }
  phase_ = Phase::awaiting_tls;
  parser_.reset();  // RFC 9051 §6.2.1: what came before the handshake is discarded
  caps_.clear();
  caps_known_ = false;
  events_.push(StartTlsEvent{});
}

void ClientSession::on_auth_done(const StatusResponse& response) {
  login_rest_.clear();
  sasl_.reset();
  if (response.status == Status::ok) {
    report(Outcome::accepted, OutcomeReason::success, response.text);
  } else if (response.status == Status::bad) {
    report(Outcome::temporary_failure, OutcomeReason::protocol_error, response.text);
  } else if (response.code && is_temporary_code(*response.code)) {
    report(Outcome::temporary_failure, OutcomeReason::unavailable, response.text);
  } else {
    report(Outcome::rejected, OutcomeReason::credentials, response.text);
  }
  finish();
}

// ---- decisions of the machine ------------------------------------------------------------

// What to do when no command is in flight.
void ClientSession::advance() {
  if (phase_ != Phase::ready) return;
  if (!caps_known_) return send("CAPABILITY", "");
  const bool want_tls = !tls_ && !tls_refused_ && !preauth_ && config_.starttls != TlsPolicy::never;
  if (want_tls && has_capability(caps_, "STARTTLS")) return send("STARTTLS", "");
  if (!tls_ && config_.starttls == TlsPolicy::required) {
    return fail(OutcomeReason::tls_unavailable, "the server does not offer STARTTLS");
  }
  if (!request_) return;
  if (preauth_) {
    if (config_.preauth_accepts) {
      report(Outcome::accepted, OutcomeReason::success, "PREAUTH");
    } else {
      report(Outcome::temporary_failure, OutcomeReason::preauthenticated,
             "PREAUTH: credentials not checked");
    }
    return finish();
  }
  start_auth();
}

void ClientSession::start_auth() {
  bool bad_credentials = false;
  for (const auto& mechanism : request_->mechanisms) {
    if (mechanism_allowed(mechanism) && start_authenticate(mechanism, bad_credentials)) return;
  }
  const auto& c = request_->credentials;
  if (login_allowed() && !c.username.empty() && !c.password.empty()) return start_login();
  if (bad_credentials) {
    report(Outcome::rejected, OutcomeReason::invalid_credentials, "credentials not usable");
    return finish();
  }
  fail(OutcomeReason::no_mechanism, "no usable authentication method");
}

bool ClientSession::mechanism_allowed(std::string_view mechanism) const {
  if (!has_capability(caps_, "AUTH=" + std::string(mechanism))) return false;
  return tls_ || config_.plaintext_without_tls || !is_plaintext(mechanism);
}

bool ClientSession::login_allowed() const {
  return config_.login_fallback && !has_capability(caps_, "LOGINDISABLED") &&
         (tls_ || config_.plaintext_without_tls);
}

bool ClientSession::start_authenticate(const std::string& mechanism, bool& bad_credentials) {
  auto client = sasl::Client::create(mechanism, request_->credentials, config_.sasl_limits);
  if (!client) {
    bad_credentials = true;
    return false;
  }
  sasl_.emplace(std::move(*client));
  const std::string name(sasl::mechanism_name(sasl_->mechanism()));
  std::string args = name;
  if (config_.sasl_ir && has_capability(caps_, "SASL-IR")) {
    if (auto ir = sasl_->initial_response()) args += " " + sasl::encode_initial_response(*ir);
  }
  method_ = "AUTHENTICATE " + name;
  send("AUTHENTICATE", args);
  phase_ = Phase::authenticate;
  return true;
}

void ClientSession::start_login() {
  const auto& c = request_->credentials;
  LiteralMode mode = LiteralMode::sync;
  if (has_capability(caps_, "LITERAL+"))
    mode = LiteralMode::non_sync;
  else if (has_capability(caps_, "LITERAL-"))
    mode = LiteralMode::non_sync_small;
  const std::string tag = next_tag();
  auto segments =
      serialize_command(Command{tag, "LOGIN", {c.username, c.password}}, mode, config_.limits);
  if (!segments) {
    report(Outcome::rejected, OutcomeReason::invalid_credentials, segments.error().message);
    return finish();
  }
  method_ = "LOGIN";
  tag_ = tag;
  out_.append(segments->front());
  last_activity_ = now_;
  login_rest_.assign(segments->begin() + 1, segments->end());
  phase_ = Phase::login;
}

// ---- output and bookkeeping --------------------------------------------------------------

std::string ClientSession::next_tag() {
  char buf[16];
  std::snprintf(buf, sizeof buf, "A%04u", ++tag_counter_);
  return buf;
}

void ClientSession::send(const std::string& name, const std::string& args) {
  tag_ = next_tag();
  last_activity_ = now_;
  out_.append(tag_ + " " + name + (args.empty() ? "" : " " + args) + "\r\n");
  if (name == "CAPABILITY") phase_ = Phase::capability;
  if (name == "STARTTLS") phase_ = Phase::starttls;
  if (name == "LOGOUT") phase_ = Phase::logout;
}

void ClientSession::set_capabilities(std::vector<std::string> caps) {
  caps_ = std::move(caps);
  caps_known_ = true;
  events_.push(CapabilitiesEvent{caps_});
}

void ClientSession::report(Outcome outcome, OutcomeReason reason, std::string text) {
  if (reported_ || !request_) return;
  reported_ = true;
  events_.push(OutcomeEvent{outcome, reason, method_, std::move(text)});
}

void ClientSession::fail(OutcomeReason reason, std::string text) {
  report(Outcome::temporary_failure, reason, std::move(text));
  close();
}

void ClientSession::finish() {
  if (!config_.logout) return close();
  send("LOGOUT", "");
}

void ClientSession::close() {
  if (phase_ == Phase::closed) return;
  report(Outcome::temporary_failure, OutcomeReason::connection_closed, "closed");
  phase_ = Phase::closed;
  events_.push(ClientClosedEvent{});
}

void ClientSession::feed_eof(Instant) {
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::logout) return close();
  fail(OutcomeReason::connection_closed, "the server closed the connection");
}

void ClientSession::on_timeout(Instant now) {
  const auto deadline = poll_timeout();
  if (!deadline || now < *deadline) return;
  if (phase_ == Phase::logout) return close();
  fail(OutcomeReason::timeout, "the server did not answer in time");
}

std::error_code ClientSession::on_tls_established(Instant now) {
  if (phase_ != Phase::awaiting_tls) return client_errc::not_awaiting_tls;
  tls_ = true;
  now_ = now;
  last_activity_ = now;
  phase_ = Phase::ready;
  advance();  // capabilities are read again (RFC 9051 §6.2.1)
  return {};
}

std::optional<Instant> ClientSession::poll_timeout() const {
  if (phase_ == Phase::closed || phase_ == Phase::ready) return std::nullopt;
  return last_activity_ +
         (phase_ == Phase::greeting ? config_.greeting_timeout : config_.command_timeout);
}

}  // namespace tern::protocol::imap
