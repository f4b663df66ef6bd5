#include "runtime/server.hpp"

namespace tern::runtime {

namespace {
constexpr std::string_view kTooMany = "421 4.7.0 Too many connections, try again later\r\n";
}

Server::Server(Io& io, LogSink& log, std::shared_ptr<const EngineSettings> settings)
    : io_(io), log_(log), settings_(settings), queue_(io, log, settings) {
  session_prefix_ = io_.random_u64() & 0xFFFFFF;
}

Server::~Server() {
  *alive_ = false;
  for (const auto id : listeners_) io_.stop_listening(id);
  sessions_.clear();
}

IoStatus Server::start() {
  if (auto recovered = queue_.recover(); !recovered.ok()) {
    return IoStatus::failure(recovered.error->code, "spool: " + recovered.error->detail);
  }
  for (const auto& listener : settings_->listeners) {
    for (const auto& bind : listener.binds) {
      auto opened =
          io_.listen(bind, [this, alive = alive_, listener](ConnId conn, ConnectionFacts facts) {
            if (*alive) on_accept(listener, conn, std::move(facts));
          });
      if (!opened) {
        return IoStatus::failure(
            opened.error().code,
            "listener '" + listener.id + "' on " + bind.text() + ": " + opened.error().detail);
      }
      listeners_.push_back(*opened);
      log_.log(LogLevel::info, "-",
               "listening on " + bind.text() + " (" + listener.id + ", " +
                   (listener.lmtp ? "lmtp" : "smtp") +
                   (listener.implicit_tls ? ", implicit TLS" : "") + ")");
    }
  }
  return IoStatus::success();
}

void Server::reload(std::shared_ptr<const EngineSettings> settings) {
  settings_ = std::move(settings);
  queue_.set_settings(settings_);
  log_.log(LogLevel::info, "-", "configuration reloaded; new sessions use it");
}

void Server::refuse(ConnId conn, const std::string& reason) {
  log_.log(LogLevel::warning, "-", "refused a connection: " + reason);
  auto message = std::make_shared<std::string>(kTooMany);
  io_.write(conn, std::span<const char>(message->data(), message->size()),
            [this, alive = alive_, conn, message](IoStatus) {
              if (*alive) io_.close(conn);
            });
}

void Server::on_accept(const ListenerSettings& listener, ConnId conn, ConnectionFacts facts) {
  if (stopping_) {
    io_.close(conn);
    return;
  }
  const auto& s = *settings_;
  auto& from_ip = per_ip_[facts.remote.ip];
  if (sessions_.size() >= s.connections_max) {
    if (from_ip == 0) per_ip_.erase(facts.remote.ip);
    refuse(conn, "connections_max reached");
    return;
  }
  // One address may hold neither more than connections_per_ip_max nor more than its share of
  // all slots: slow clients from one address never take every slot from the others.
  const std::size_t share =
      std::max<std::size_t>(1, s.connections_max * s.connections_per_ip_share / 100);
  if (from_ip >= std::min(s.connections_per_ip_max, share)) {
    refuse(conn,
           "connections_per_ip_max or its share of max-connections reached for " + facts.remote.ip);
    return;
  }
  ++from_ip;
  const auto key = next_session_++;
  char id[32];
  std::snprintf(id, sizeof id, "%06llX-%llu", static_cast<unsigned long long>(session_prefix_),
                static_cast<unsigned long long>(key));
  const std::string remote_ip = facts.remote.ip;
  auto session = std::make_unique<InboundSession>(
      InboundContext{io_, log_, queue_, auth_lockout_}, settings_, listener, conn, std::move(facts),
      id, [this, key, remote_ip] { on_session_finished(key, remote_ip); });
  auto* raw = session.get();
  sessions_.emplace(key, std::move(session));
  raw->start();
}

void Server::on_session_finished(std::uint64_t key, std::string remote_ip) {
  sessions_.erase(key);
  auto found = per_ip_.find(remote_ip);
  if (found != per_ip_.end() && --found->second == 0) per_ip_.erase(found);
  maybe_done();
}

void Server::shutdown(std::function<void()> on_done) {
  stopping_ = true;
  on_stopped_ = std::move(on_done);
  for (const auto id : listeners_) io_.stop_listening(id);
  listeners_.clear();
  log_.log(LogLevel::info, "-",
           "shutting down: " + std::to_string(sessions_.size()) + " sessions to finish");
  for (auto& [key, session] : sessions_) session->shutdown();
  io_.start_timer(io_.now() + settings_->shutdown_grace, [this, alive = alive_] {
    if (!*alive || !on_stopped_) return;
    log_.log(LogLevel::warning, "-",
             "shutdown grace over: dropping " + std::to_string(sessions_.size()) + " sessions");
    sessions_.clear();
    maybe_done();
  });
  maybe_done();
}

void Server::maybe_done() {
  if (!stopping_ || !sessions_.empty() || !on_stopped_) return;
  auto done = std::move(on_stopped_);
  on_stopped_ = nullptr;
  io_.post([done = std::move(done)] { done(); });
}

}  // namespace tern::runtime
