// cmd/ternd/control_server.hpp — ternd's control socket: the local Unix-domain stream
// socket through which `tern queue ...` sees and changes the queue.
//
// Contract:
// - Threading: the server runs on the daemon's io_context, on the engine's thread, and
//   calls runtime::QueueAdmin directly; no method may be called from another thread.
// - start() binds `options.path`: a socket file left there by a dead daemon (connect is
//   refused) is removed first; a path where a process still accepts, or that is not a
//   socket, or that is longer than sockaddr_un allows, is an error and nothing is touched.
//   The socket is chmod 0600 before listen(), so no other user can ever connect.
//   Returns nullopt on success, or a sentence saying what failed (errno text included).
// - stop() (also run by the destructor) closes the listener and every client, and removes
//   the socket file if it is still the one start() made. Actions already handed to the
//   queue complete there; their answers are dropped.
// - Protocol, one exchange per connection: the client sends ONE request line of at most
//   kControlLineBytesMax bytes before its LF (a CR before the LF is ignored); its grammar is
//   cmd/common/control_request.hpp. The answer's first line is `ok` or `error: <why>` (one
//   line, terminal-safe), then the body: the rendered list/show (cmd/common/queue_render),
//   or the AdminResult message and '\n' (nothing when it is empty); then the server closes.
//   An unknown command, wrong arguments, a bad id, a line over the limit, or EOF before
//   the LF get `error: ...`. Bytes after the LF are ignored.
// - Limits: a client that has not sent its whole line within request_timeout (10 s) is
//   dropped without an answer; writing the answer may take at most reply_timeout (60 s). An
//   action waits for its QueueAdmin completion however long it takes (delete waits for
//   an attempt in flight), holding its client slot. At most clients_max (16) clients are
//   served at once: one more gets `error: too many control clients` and is closed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cmd/common/control_request.hpp"
#include "cmd/common/queue_render.hpp"  // valid_queue_id
#include "protocol/core/result.hpp"
#include "runtime/queue_admin.hpp"

namespace boost::asio {
class io_context;
}

namespace tern::cmd {

inline constexpr std::size_t kControlClientsMax = 16;

struct ControlServerOptions {
  std::string path;
  std::size_t clients_max = kControlClientsMax;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds reply_timeout{60'000};
  std::function<std::int64_t()> now_unix;  // wall clock for ages; empty: the system clock
};

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& context, runtime::QueueAdmin& admin,
                ControlServerOptions options);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  [[nodiscard]] std::optional<std::string> start();
  void stop();
  std::size_t clients() const;  // connected now

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tern::cmd
