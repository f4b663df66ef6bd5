// runtime/server.hpp — the receiving engine: listeners, connection limits, sessions, the
// queue, graceful shutdown and reload. Generic over the Io; cmd/ternd wires it to Asio and
// the tests to the simulated Io.
//
// Contract:
// - start() recovers the spool into the queue, then opens every listener's addresses;
//   it fails (and opens nothing more) when the spool cannot be read or an address cannot
//   be bound, naming the listener and the address.
// - Connections beyond connections_max, or beyond connections_per_ip_max from one remote
//   IP, get "421 4.7.0 Too many connections" and are closed at once.
// - reload(settings): new sessions use the new settings; sessions in flight finish on the
//   old ones. Listeners are not re-bound (a changed bind needs a restart; it is logged).
// - shutdown(on_done): stop listening, ask every session to close (421 at its next reply
//   point), and call on_done once every session has ended, or after shutdown_grace by
//   dropping those left (a message not yet committed gets no 250, so nothing is lost).
//   The queue's in-flight deliveries are left to complete or to be redone after restart.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "runtime/inbound_session.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/queue.hpp"
#include "runtime/settings.hpp"

namespace tern::runtime {

class Server {
 public:
  Server(Io& io, LogSink& log, std::shared_ptr<const EngineSettings> settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] IoStatus start();
  void reload(std::shared_ptr<const EngineSettings> settings);
  void shutdown(std::function<void()> on_done);

  std::size_t sessions() const { return sessions_.size(); }
  Queue& queue() { return queue_; }

 private:
  void on_accept(const ListenerSettings& listener, ConnId conn, ConnectionFacts facts);
  void refuse(ConnId conn, const std::string& reason);
  void on_session_finished(std::uint64_t key, std::string remote_ip);
  void maybe_done();

  Io& io_;
  LogSink& log_;
  std::shared_ptr<const EngineSettings> settings_;
  Queue queue_;
  inbound::AuthLockout auth_lockout_;  // shared by every session: survives reconnects
  std::vector<ListenerId> listeners_;
  std::map<std::uint64_t, std::unique_ptr<InboundSession>> sessions_;
  std::map<std::string, std::size_t> per_ip_;
  std::uint64_t next_session_ = 1;
  std::uint64_t session_prefix_ = 0;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tern::runtime
