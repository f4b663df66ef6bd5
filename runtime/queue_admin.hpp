// runtime/queue_admin.hpp — what an administrator can see and do with the queue (`tern
// queue ...` through ternd's control socket). The Queue implements it; the control server
// (cmd/ternd/control_server) calls it on the engine's thread.
//
// Contract:
// - list() gives every message in the queue in arrival order; show(id) one message, or
//   nullopt for an unknown id. Views are copies: they stay valid after the queue changes.
// - Every recipient keeps a short history of its delivery attempts (the last
//   kAttemptHistoryMax, oldest first: time, route, host, reply), kept in the spool
//   envelope so that it survives a restart: "why is it still here?" has an answer.
// - The actions complete through `on_done`, exactly once, never inside the call, and only
//   after the change they make is durable (the envelope rewritten, or the message removed):
//   retry(id) makes every pending recipient of the message due now (and starts an attempt
//   unless the message is held); retry("") does so for every message that is not held;
//   hold(id) stops new attempts (one in flight finishes) until release(id); remove(id,
//   silent) deletes the message once no attempt is in flight, after spooling a failure DSN
//   ("deleted by the administrator") for the recipients still pending unless `silent`.
//   An unknown id answers AdminStatus::not_found; an action refused in the current state
//   (release of a message not held) answers AdminStatus::refused, with a message saying
//   why; a failure to write answers AdminStatus::failed and changes nothing in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/spool_format.hpp"

namespace tern::runtime {

struct RecipientView {
  std::string address;
  std::string state;                   // "pending", "delivered", "failed"
  std::string route;                   // route of the last attempt ("" before any)
  std::int64_t next_attempt_unix = 0;  // when pending
  std::uint32_t attempts = 0;
  std::string last_reply;
  bool dsn_sent = false;
  std::vector<AttemptRecord> history;  // oldest first
};

struct MessageView {
  std::string id;
  std::string sender;  // "" for the null reverse-path
  std::int64_t received_unix = 0;
  std::uint64_t size = 0;  // body bytes
  bool held = false;
  bool in_flight = false;  // an attempt is running now
  std::uint32_t delay_notices_sent = 0;
  std::vector<RecipientView> recipients;
};

enum class AdminStatus { done, not_found, refused, failed };

struct AdminResult {
  AdminStatus status = AdminStatus::done;
  std::string message;       // for people: "3 recipients due now", "no such message"
  std::size_t affected = 0;  // messages changed
};

class QueueAdmin {
 public:
  using Done = std::function<void(AdminResult)>;
  virtual ~QueueAdmin() = default;

  virtual std::vector<MessageView> list() const = 0;
  virtual std::optional<MessageView> show(std::string_view id) const = 0;
  virtual void retry(std::string_view id, Done on_done) = 0;  // "" = every message not held
  virtual void hold(std::string_view id, Done on_done) = 0;
  virtual void release(std::string_view id, Done on_done) = 0;
  virtual void remove(std::string_view id, bool silent, Done on_done) = 0;
};

}  // namespace tern::runtime
