#include "protocol/sasl/server.hpp"

namespace tern::protocol::sasl {
namespace {

class MisuseCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.sasl.misuse"; }
  std::string message(int code) const override {
    switch (static_cast<Misuse>(code)) {
      case Misuse::already_started: return "SASL exchange already started";
      case Misuse::not_awaiting_response: return "SASL machine is not waiting for a client message";
      case Misuse::not_awaiting_decision: return "SASL machine is not waiting for a decision";
      case Misuse::wrong_decision: return "this kind of decision does not fit the mechanism";
      case Misuse::finished: return "SASL exchange is finished";
      case Misuse::bad_challenge: return "CRAM-MD5 challenge is not <nonce.timestamp@hostname>";
    }
    return "unknown SASL misuse";
  }
};

Server::Machine make_machine(Mechanism m, const ServerConfig& c) {
  switch (m) {
    case Mechanism::plain: return PlainServer(c.limits);
    case Mechanism::login: return LoginServer(c.limits);
    case Mechanism::cram_md5: return CramMd5Server(c.cram_md5_challenge, c.limits);
    case Mechanism::xoauth2: return Xoauth2Server(c.limits, c.oauth);
    case Mechanism::oauthbearer: return OauthBearerServer(c.limits, c.oauth);
  }
  return PlainServer(c.limits);
}

}  // namespace

const std::error_category& misuse_category() {
  static const MisuseCategory category;  // immutable: the one static std::error_code needs
  return category;
}

std::error_code make_error_code(Misuse m) {
  return {static_cast<int>(m), misuse_category()};
}

std::error_code ServerCore::check(Phase expected) const {
  if (phase_ == expected) return {};
  if (phase_ == Phase::finished) return Misuse::finished;
  switch (expected) {
    case Phase::idle: return Misuse::already_started;
    case Phase::awaiting_response: return Misuse::not_awaiting_response;
    case Phase::awaiting_decision: return Misuse::not_awaiting_decision;
    case Phase::finished: break;
  }
  return Misuse::finished;
}

StepResult ServerCore::cancel() {
  if (auto e = check(Phase::awaiting_response)) return e;
  return failure(FailureReason::cancelled, "client cancelled the exchange");
}

StepResult ServerCore::unavailable() {
  if (auto e = check(Phase::awaiting_decision)) return e;
  return failure(FailureReason::unavailable, "credentials could not be checked", false);
}

StepResult ServerCore::verified(bool /*ok*/) {
  if (auto e = check(Phase::awaiting_decision)) return e;
  return std::error_code(Misuse::wrong_decision);
}

StepResult ServerCore::supply_secret(std::optional<std::string_view> /*secret*/) {
  if (auto e = check(Phase::awaiting_decision)) return e;
  return std::error_code(Misuse::wrong_decision);
}

Step ServerCore::challenge(std::string bytes) {
  phase_ = Phase::awaiting_response;
  return Challenge{std::move(bytes)};
}

Step ServerCore::verify(Credentials credentials) {
  phase_ = Phase::awaiting_decision;
  return Verify{std::move(credentials)};
}

Step ServerCore::succeed() {
  phase_ = Phase::finished;
  return Success{};
}

Step ServerCore::failure(FailureReason reason, std::string detail, bool client_fault) {
  phase_ = Phase::finished;
  return Failure{reason, std::move(detail), client_fault};
}

Server::Server(Mechanism m, const ServerConfig& config)
    : mechanism_(m), machine_(make_machine(m, config)) {}

Phase Server::phase() const {
  return std::visit([](const auto& s) { return s.phase(); }, machine_);
}

StepResult Server::start(std::optional<std::string_view> initial_response) {
  return std::visit([&](auto& s) { return s.start(initial_response); }, machine_);
}

StepResult Server::step(std::string_view response) {
  return std::visit([&](auto& s) { return s.step(response); }, machine_);
}

StepResult Server::feed(const ClientLine& line) {
  if (std::holds_alternative<Cancel>(line)) return cancel();
  return step(std::get<Bytes>(line).data);
}

StepResult Server::cancel() {
  return std::visit([](auto& s) { return s.cancel(); }, machine_);
}

StepResult Server::verified(bool ok) {
  return std::visit([&](auto& s) { return s.verified(ok); }, machine_);
}

StepResult Server::supply_secret(std::optional<std::string_view> secret) {
  return std::visit([&](auto& s) { return s.supply_secret(secret); }, machine_);
}

StepResult Server::unavailable() {
  return std::visit([](auto& s) { return s.unavailable(); }, machine_);
}

Result<Server> make_server(std::string_view mechanism, const ServerConfig& config) {
  const auto m = parse_mechanism(mechanism);
  if (!m) return fail(0, "unsupported SASL mechanism");
  return Server(*m, config);
}

}  // namespace tern::protocol::sasl
