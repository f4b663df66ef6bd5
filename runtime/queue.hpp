// runtime/queue.hpp — the queue manager: every spooled message, every recipient's state,
// delivery attempts and their retry schedule. It delivers the `local` route (Maildir
// through the Io), named remote hosts (remote.<id>) and DNS MX routes (runtime/outbound:
// mx_resolver, opportunistic or required STARTTLS per queue.outbound.tls.starttls).
// - DSNs (runtime/bounce.hpp) are spooled as new messages from <> before the recipients
//   they report on are marked as notified; a message leaves the spool only when no DSN is
//   owed. Failure notices for failed recipients; success notices for recipients delivered
//   locally or relayed to a next hop without DSN when they asked NOTIFY=SUCCESS; delay
//   notices for pending recipients at each queue.schedule.notify age (checked when an
//   attempt ends), counted in the envelope so that each step is sent once.
// - Every attempt on a recipient is recorded in its history (kAttemptHistoryMax kept).
// - The Queue is the QueueAdmin of `tern queue` (runtime/queue_admin.hpp).
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
//   transaction, and the connection is kept a few seconds for the next message to the
//   same destination (outbound::ConnectionCache); their outcomes (delivered, permanent,
//   temporary) are recorded per recipient and made durable before the next group.
// - A temporary failure (disk full, a 4xx, a DNS failure, a host that does not answer) is
//   retried after settings.queue.retry[attempts-1] (the last step repeats) until `expire`
//   after reception, then failed permanently. The next attempt time is written in the same
//   envelope update as the failure, so a restart keeps the schedule instead of retrying at
//   once. An account the store refuses (invalid) fails permanently at once.
// - An envelope update that fails is written again after a pause, the message staying in
//   flight until it is on disk: nothing is acted on before its state is durable, and a
//   crash meanwhile may repeat the step, never lose it. A failed spool_remove is retried.
// - A local recipient without an account (a DSN to a sender who did not authenticate) is
//   looked up in the default directory first: its principal names the Maildir; an
//   address the directory does not know fails (5.1.1), a directory that cannot answer is
//   a temporary failure. Without a default directory the lowercased address names it.
// - At most deliveries_in_flight_max messages are being worked on at once; the others
//   wait in arrival order. At most outbound.concurrency_per_destination remote deliveries
//   run at once to one destination (a remote.<id>, or one MX domain); a message whose turn
//   has not come waits without an in-flight slot (so a slow destination never stalls the
//   others) and takes one again when its turn comes, even if that briefly makes one more
//   than the limit. Nothing here blocks; everything completes through Io callbacks.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "runtime/bounce.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/outbound/remote_delivery.hpp"
#include "runtime/queue_admin.hpp"
#include "runtime/settings.hpp"
#include "runtime/spool_format.hpp"

namespace tern::runtime {

class Queue final : public QueueAdmin {
 public:
  Queue(Io& io, LogSink& log, std::shared_ptr<const EngineSettings> settings);
  ~Queue() override;
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

  // ---- QueueAdmin.
  std::vector<MessageView> list() const override;
  std::optional<MessageView> show(std::string_view id) const override;
  void retry(std::string_view id, Done on_done) override;
  void hold(std::string_view id, Done on_done) override;
  void release(std::string_view id, Done on_done) override;
  void remove(std::string_view id, bool silent, Done on_done) override;

 private:
  struct RemoteGroup {
    protocol::route::RemoteHost host;
    std::string route;  // "remote relay", "mx example.org": the grouping key and history
    bool mx = false;
    bool opportunistic_tls = false;
    std::vector<std::size_t> recipients;  // indices into envelope.recipients
  };
  struct Entry {
    SpoolEnvelope envelope;
    std::vector<RemoteGroup> remote_todo;              // this attempt's remote groups
    std::optional<outbound::RemoteDelivery> delivery;  // the remote delivery in flight
    // Busy from the start of an attempt (or an admin removal, or an expiry) to its end;
    // a busy entry holds one of the in-flight slots unless it is parked in parked_.
    bool busy = false;
    bool holds_slot = false;
    bool waiting = false;  // in ready_
    std::optional<TimerId> timer;
    std::vector<Done> on_removed;   // admin removals waiting for the spool_remove
    std::uint64_t arrival = 0;      // list() order
    bool notice_in_flight = false;  // a delay notice is being spooled
    std::string on_disk;            // the envelope as this queue last wrote it ("": not yet)
  };

  // The only places in_flight_ changes: in_flight_ is the number of entries holding a
  // slot, which check_invariants() asserts (in builds without NDEBUG).
  void begin_work(Entry& entry);
  void end_work(Entry& entry);
  void take_slot(Entry& entry);
  void give_slot(Entry& entry);
  void check_invariants() const;
  void make_ready(const std::string& id);
  void pump();
  void attempt(const std::string& id);
  void deliver_next_local(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo);
  void deliver_next_remote(const std::string& id);
  directory::Directory* default_directory() const;
  void find_account(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo,
                    std::size_t index, directory::Directory& directory);
  void on_remote_report(const std::string& id, const RemoteGroup& group,
                        outbound::DeliveryReport report);
  void destination_done(const std::string& destination);
  void on_local_result(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo,
                       std::size_t index, IoResult<std::string> result);
  void persist_then(const std::string& id, std::function<void()> next);
  void write_unawaited(const std::string& id);
  void persist_failed(const std::string& id, const IoError& error, std::function<void()> next);
  Duration retry_step(std::uint32_t attempts) const;
  void due_later(SpoolRecipient& rcpt);
  void finish_attempt(const std::string& id, bool try_dsn = true);
  void send_dsn(const std::string& id);
  void maybe_send_delay_notice(const std::string& id);
  void spool_report(const std::string& id, const std::vector<ReportEntry>& entries,
                    std::int64_t will_retry_until, std::function<void(bool)> then);
  void record_attempt(SpoolRecipient& rcpt, const std::string& route, const std::string& host);
  MessageView view_of(const Entry& entry) const;
  void admin_persist(const std::string& id, std::string what, Done on_done);
  void schedule_retry(Entry& entry, const std::string& id);
  void arm_timer(Entry& entry, const std::string& id, Duration wait);
  outbound::Resolver resolver_for(const RemoteGroup& group);
  RemoteGroup group_for(const protocol::route::Route& route) const;
  std::vector<std::size_t> route_pending(Entry& entry);
  std::string prefix_for(const SpoolEnvelope& envelope, const SpoolRecipient& rcpt) const;

  Io& io_;
  LogSink& log_;
  std::shared_ptr<const EngineSettings> settings_;
  std::map<std::string, Entry> messages_;
  std::uint64_t arrivals_ = 0;
  std::map<std::string, std::size_t> active_;              // deliveries per destination
  std::map<std::string, std::deque<std::string>> parked_;  // messages waiting for one
  std::deque<std::string> ready_;
  std::size_t in_flight_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Kept connections between messages (runtime/outbound): last, so it goes first.
  std::shared_ptr<outbound::ConnectionCache> connections_;
};

}  // namespace tern::runtime
