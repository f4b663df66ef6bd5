// The IMAP server machine's command handlers: what each command of the subset does in each
// state, and the answers Dovecot 2.3 gives to the rest.
#include <array>

#include "protocol/imap/server_session.hpp"
#include "protocol/sasl/messages.hpp"

namespace tern::protocol::imap {
namespace {

// Commands of RFC 9051 and common extensions that this subset knows but does not serve.
constexpr std::array<std::string_view, 28> kOutsideSubset{
    "APPEND",  "CHECK",     "CLOSE",     "COPY",     "CREATE",      "DELETE", "ENABLE",
    "EXAMINE", "EXPUNGE",   "FETCH",     "GETQUOTA", "ID",          "IDLE",   "LIST",
    "LSUB",    "MOVE",      "NAMESPACE", "RENAME",   "SEARCH",      "SELECT", "STATUS",
    "STORE",   "SUBSCRIBE", "UID",       "UNSELECT", "UNSUBSCRIBE", "GETACL", "SETACL"};

constexpr std::array<std::string_view, 6> kSubset{"CAPABILITY", "NOOP",         "LOGOUT",
                                                  "STARTTLS",   "AUTHENTICATE", "LOGIN"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  for (const auto n : names) {
    if (iequals(n, name)) return true;
  }
  return false;
}

std::string user_of(const sasl::Credentials& credentials) {
  if (const auto* p = std::get_if<sasl::PasswordCredentials>(&credentials)) return p->authcid;
  if (const auto* s = std::get_if<sasl::SecretRequest>(&credentials)) return s->username;
  return std::get<sasl::BearerCredentials>(credentials).authzid;
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return s;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

bool ServerSession::login_usable() const {
  return config_.login_command && (tls_ || config_.plaintext_without_tls);
}

bool ServerSession::mechanism_usable(std::string_view mechanism) const {
  bool configured = false;
  for (const auto& m : config_.auth_mechanisms) configured = configured || iequals(m, mechanism);
  const auto known = sasl::parse_mechanism(mechanism);
  if (!configured || !known) return false;
  if (*known == sasl::Mechanism::cram_md5) {
    return sasl::is_cram_md5_challenge(config_.sasl.cram_md5_challenge, config_.sasl.limits);
  }
  return tls_ || config_.plaintext_without_tls;
}

std::vector<std::string> ServerSession::capabilities() const {
  std::vector<std::string> caps;
  if (config_.imap4rev1) caps.emplace_back("IMAP4rev1");
  if (config_.imap4rev2) caps.emplace_back("IMAP4rev2");
  if (config_.literal_plus) caps.emplace_back("LITERAL+");
  if (authenticated_) return caps;
  if (config_.sasl_ir) caps.emplace_back("SASL-IR");
  if (config_.tls_available && !tls_) caps.emplace_back("STARTTLS");
  for (const auto& m : config_.auth_mechanisms) {
    if (mechanism_usable(m)) caps.push_back("AUTH=" + upper(m));
  }
  if (!login_usable()) caps.emplace_back("LOGINDISABLED");
  return caps;
}

void ServerSession::on_command(const std::vector<CommandPart>& parts, bool bare_lf, bool oversize) {
  std::string tag;
  const auto head = parse_command_head(parts.front().line, &tag);
  if (bare_lf) return bad(tag, head ? head->name : "", "Line not terminated by CRLF.");
  if (!head) return bad(tag, "", "Error in IMAP command received by server.");
  if (oversize) return bad(tag, head->name, "Literal too large.", ResponseCode{"TOOBIG", ""});
  dispatch(tag, head->name, parts);
}

void ServerSession::dispatch(const std::string& tag, const std::string& name,
                             const std::vector<CommandPart>& parts) {
  if (answer_outside_subset(tag, name)) return;
  const auto command = parse_command(parts, config_.limits);
  if (!command)
    return bad(tag, name,
               "Error in IMAP command " + upper(name) + ": " + command.error().message + ".");
  if (iequals(name, "AUTHENTICATE")) return on_authenticate(tag, command->args);
  if (iequals(name, "LOGIN")) return on_login(tag, command->args);
  if (!command->args.empty())
    return bad(tag, name, "Error in IMAP command " + upper(name) + ": Unexpected arguments.");
  on_simple(tag, name, parts);
}

bool ServerSession::answer_outside_subset(const std::string& tag, const std::string& name) {
  if (contains(kSubset, name)) return false;
  if (contains(kOutsideSubset, name)) {
    tagged(tag, name, Status::no, std::nullopt, "Command not available in this service.");
  } else {
    bad(tag, name, "Unknown command.");
  }
  return true;
}

void ServerSession::on_simple(const std::string& tag, const std::string& name,
                              const std::vector<CommandPart>&) {
  if (iequals(name, "CAPABILITY")) {
    respond(CapabilityResponse{capabilities()});
    return tagged(tag, "CAPABILITY", Status::ok, std::nullopt, "Capability completed.");
  }
  if (iequals(name, "NOOP"))
    return tagged(tag, "NOOP", Status::ok, std::nullopt, "NOOP completed.");
  if (iequals(name, "LOGOUT")) {
    respond(StatusResponse{"", Status::bye, std::nullopt, "Logging out"});
    tagged(tag, "LOGOUT", Status::ok, std::nullopt, "Logout completed.");
    return close(CloseReason::logout, std::nullopt);
  }
  on_starttls(tag);
}

void ServerSession::on_starttls(const std::string& tag) {
  if (tls_) return bad(tag, "STARTTLS", "TLS is already active.");
  if (!config_.tls_available) return bad(tag, "STARTTLS", "TLS support isn't enabled.");
  if (authenticated_) return bad(tag, "STARTTLS", "STARTTLS is not valid once authenticated.");
  tagged(tag, "STARTTLS", Status::ok, std::nullopt, "Begin TLS negotiation now.");
  events_.push(StartTlsEvent{});
  phase_ = Phase::awaiting_tls;  // the rest of the input is dropped (RFC 9051 §6.2.1)
  reader_.reset();
}

void ServerSession::on_authenticate(const std::string& tag, const std::vector<std::string>& args) {
  if (authenticated_) return bad(tag, "AUTHENTICATE", "Already authenticated.");
  if (args.empty() || args.size() > 2) return bad(tag, "AUTHENTICATE", "Invalid arguments.");
  if (!mechanism_usable(args[0])) {
    bool configured = false;
    for (const auto& m : config_.auth_mechanisms) configured = configured || iequals(m, args[0]);
    if (configured && !tls_) {
      return tagged(tag, "AUTHENTICATE", Status::no, ResponseCode{"PRIVACYREQUIRED", ""},
                    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.");
    }
    return tagged(tag, "AUTHENTICATE", Status::no, std::nullopt,
                  "Unsupported authentication mechanism.");
  }
  std::optional<std::string> initial;
  if (args.size() == 2) {
    if (!config_.sasl_ir) return bad(tag, "AUTHENTICATE", "SASL-IR is not supported.");
    auto line = sasl::decode_client_line(args[1], sasl::LinePosition::initial_response,
                                         config_.sasl.limits.message_bytes_max);
    if (!line) return bad(tag, "AUTHENTICATE", "Invalid base64 data in initial response.");
    if (std::holds_alternative<sasl::Cancel>(*line)) {
      return tagged(tag, "AUTHENTICATE", Status::bad, std::nullopt,
                    "Authentication aborted by client.");
    }
    initial = std::get<sasl::Bytes>(*line).data;
  }
  auto server = sasl::make_server(args[0], config_.sasl);
  if (!server)
    return tagged(tag, "AUTHENTICATE", Status::no, std::nullopt,
                  "Unsupported authentication mechanism.");
  sasl_.emplace(std::move(*server));
  auth_tag_ = tag;
  auth_command_ = "AUTHENTICATE";
  auth_mechanism_ = std::string(sasl::mechanism_name(sasl_->mechanism()));
  auth_user_.clear();
  on_step(sasl_->start(initial));
}

void ServerSession::on_login(const std::string& tag, const std::vector<std::string>& args) {
  if (authenticated_) return bad(tag, "LOGIN", "Already authenticated.");
  if (!login_usable()) {
    return tagged(tag, "LOGIN", Status::no, ResponseCode{"PRIVACYREQUIRED", ""},
                  "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.");
  }
  if (args.size() != 2) return bad(tag, "LOGIN", "Invalid arguments.");
  sasl_.reset();
  auth_tag_ = tag;
  auth_command_ = "LOGIN";
  auth_mechanism_ = "LOGIN";
  auth_user_ = args[0];
  const sasl::Limits& limits = config_.sasl.limits;
  if (sasl::check_field(args[0], limits.authcid_bytes_max, true, 0, "username") ||
      sasl::check_field(args[1], limits.password_bytes_max, true, 0, "password")) {
    return auth_failed(sasl::Failure{sasl::FailureReason::malformed, "unusable credentials", true});
  }
  pending_ = next_ticket_++;
  events_.push(VerifyEvent{*pending_, AuthMethod::login, "LOGIN",
                           sasl::PasswordCredentials{"", args[0], args[1]}});
}

void ServerSession::on_auth_line(std::string_view line, bool bare_lf) {
  phase_ = Phase::command;
  reader_.set_raw(false);
  if (bare_lf) {
    sasl_.reset();
    return bad(auth_tag_, "AUTHENTICATE", "Line not terminated by CRLF.");
  }
  auto decoded = sasl::decode_client_line(line, sasl::LinePosition::continuation,
                                          config_.sasl.limits.message_bytes_max);
  if (!decoded) {
    sasl_.reset();
    events_.push(AuthFailedEvent{sasl::FailureReason::malformed, decoded.error().message});
    return bad(auth_tag_, "AUTHENTICATE", "Invalid base64 data in continued response.");
  }
  on_step(sasl_->feed(*decoded));
}

void ServerSession::on_step(const sasl::StepResult& step) {
  if (!step) {  // the machine only makes calls the sasl phase allows
    return auth_failed(
        sasl::Failure{sasl::FailureReason::unavailable, step.error().message(), false});
  }
  const sasl::Step& s = *step;
  if (const auto* c = std::get_if<sasl::Challenge>(&s)) {
    respond(ContinuationRequest{sasl::encode_challenge(c->bytes)});
    phase_ = Phase::auth_response;
    reader_.set_raw(true);
  } else if (const auto* v = std::get_if<sasl::Verify>(&s)) {
    auth_user_ = user_of(v->credentials);
    pending_ = next_ticket_++;
    events_.push(VerifyEvent{*pending_, AuthMethod::authenticate, auth_mechanism_, v->credentials});
  } else if (std::holds_alternative<sasl::Success>(s)) {
    auth_succeeded();
  } else {
    auth_failed(std::get<sasl::Failure>(s));
  }
}

void ServerSession::auth_succeeded() {
  sasl_.reset();
  authenticated_ = true;
  events_.push(AuthenticatedEvent{auth_user_, auth_mechanism_});
  tagged(auth_tag_, auth_command_, Status::ok, ResponseCode{"CAPABILITY", joined(capabilities())},
         "Logged in");
}

void ServerSession::auth_failed(const sasl::Failure& failure) {
  sasl_.reset();
  events_.push(AuthFailedEvent{failure.reason, failure.detail});
  switch (failure.reason) {
    case sasl::FailureReason::cancelled:
      tagged(auth_tag_, auth_command_, Status::bad, std::nullopt,
             "Authentication aborted by client.");
      break;
    case sasl::FailureReason::unavailable:
      tagged(auth_tag_, auth_command_, Status::no, ResponseCode{"UNAVAILABLE", ""},
             "Temporary authentication failure.");
      return;
    case sasl::FailureReason::malformed:
    case sasl::FailureReason::rejected:
      tagged(auth_tag_, auth_command_, Status::no, ResponseCode{"AUTHENTICATIONFAILED", ""},
             "Authentication failed.");
      break;
  }
  if (++auth_failures_ >= config_.auth_failures_max && phase_ != Phase::closed) {
    close(CloseReason::too_many_auth_failures, "Too many authentication failures.");
  }
}

}  // namespace tern::protocol::imap
