// runtime/queue.hpp — the queue manager: every spooled message, every recipient's state,
// delivery attempts and their retry schedule. It delivers the `local` route (Maildir
// through the Io) and named remote hosts (remote.<id>, runtime/outbound); recipients routed
// to DNS MX wait, pending, for the resolver, and say so in their last_reply.
// - Failure DSNs (runtime/bounce.hpp) are spooled as new messages from <> before the failed
//   recipients are marked dsn_sent; a message leaves the spool only when no DSN is owed.
//
// Contract:
// - recover() reads the spool (Io::spool_list) once at start and takes every message in;
//   enqueue(envelope) takes a message the inbound side has just made durable.
// - A state change is durable before it is acted on: after a Maildir delivery succeeds,
//   the recipient is marked delivered in the envelope (spool_update_envelope) and only
//   then is the next step taken; a message whose recipients are all delivered or failed
//   is removed from the spool. A crash between the Maildir rename and the envelope update
//   delivers that recipient again after restart: at least once, never zero times.
// - Remote groups: recipients with the same remote host share one connection and one
//   transaction; their outcomes (delivered, permanent, temporary) are recorded per
//   recipient and made durable before the next group.
// - A failed local delivery (disk full, I/O error) is a temporary failure: the recipient
//   is retried after settings.queue.retry[attempts-1] (the last step repeats) until
//   `expire` after reception, then failed permanently. The next attempt time is written to
//   the envelope, so a restart keeps the schedule instead of retrying at once. An account the store
//   refuses (invalid) fails permanently at once. DSNs come with issue 7: a failed recipient is
//   recorded with dsn_sent = false.
// - At most deliveries_in_flight_max messages are being worked on at once; the others
//   wait in arrival order. Nothing here blocks; everything completes through Io callbacks.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/outbound/remote_delivery.hpp"
#include "runtime/settings.hpp"
#include "runtime/spool_format.hpp"

namespace tern::runtime {

class Queue {
 public:
  Queue(Io& io, LogSink& log, std::shared_ptr<const EngineSettings> settings);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Fails when the spool cannot be listed; envelopes that do not parse are logged and
  // left in place (never deleted: a human must look at them).
  IoStatus recover();
  void enqueue(SpoolEnvelope envelope);
  void set_settings(std::shared_ptr<const EngineSettings> settings);

  std::size_t size() const { return messages_.size(); }
  std::size_t in_flight() const { return in_flight_; }
  const SpoolEnvelope* find(const std::string& id) const;
  // False once the queue is destroyed: for callbacks that may outlive it.
  std::shared_ptr<const bool> alive_token() const { return alive_; }

 private:
  struct RemoteGroup {
    protocol::route::RemoteHost host;
    std::vector<std::size_t> recipients;  // indices into envelope.recipients
  };
  struct Entry {
    SpoolEnvelope envelope;
    std::vector<RemoteGroup> remote_todo;              // this attempt's remote groups
    std::optional<outbound::RemoteDelivery> delivery;  // the remote delivery in flight
    bool busy = false;
    bool waiting = false;  // in ready_
    std::optional<TimerId> timer;
  };

  void make_ready(const std::string& id);
  void pump();
  void attempt(const std::string& id);
  void deliver_next_local(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo);
  void deliver_next_remote(const std::string& id);
  void on_remote_report(const std::string& id, const RemoteGroup& group,
                        outbound::DeliveryReport report);
  void on_local_result(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo,
                       std::size_t index, IoResult<std::string> result);
  void persist_then(const std::string& id, std::function<void()> next);
  void finish_attempt(const std::string& id, bool try_dsn = true);
  void send_dsn(const std::string& id);
  void schedule_retry(Entry& entry, const std::string& id);
  void arm_timer(Entry& entry, const std::string& id, Duration wait);
  std::vector<std::size_t> route_pending(Entry& entry);
  std::string prefix_for(const SpoolEnvelope& envelope, const SpoolRecipient& rcpt) const;

  Io& io_;
  LogSink& log_;
  std::shared_ptr<const EngineSettings> settings_;
  std::map<std::string, Entry> messages_;
  std::deque<std::string> ready_;
  std::size_t in_flight_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tern::runtime
