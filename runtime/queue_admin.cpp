// The Queue as QueueAdmin (runtime/queue_admin.hpp): what `tern queue` sees and does.
// The delivery half of the class is queue.cpp.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "runtime/queue.hpp"

namespace tern::runtime {

MessageView Queue::view_of(const Entry& entry) const {
  const auto& env = entry.envelope;
  MessageView view;
  view.id = env.id;
  view.sender = env.sender;
  view.received_unix = env.received_unix;
  view.size = env.body_bytes;
  view.held = env.held;
  view.in_flight = entry.busy;
  view.delay_notices_sent = env.delay_notices_sent;
  for (const auto& r : env.recipients) {
    RecipientView rv;
    rv.address = r.address;
    rv.state = std::string(to_string(r.state));
    rv.route = r.route;
    rv.next_attempt_unix = r.state == RecipientState::pending ? r.next_attempt_unix : 0;
    rv.attempts = r.attempts;
    rv.last_reply = r.last_reply;
    rv.dsn_sent = r.dsn_sent;
    rv.history = r.history;
    view.recipients.push_back(std::move(rv));
  }
  return view;
}

std::vector<MessageView> Queue::list() const {
  std::vector<const Entry*> entries;
  for (const auto& [id, entry] : messages_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const Entry* a, const Entry* b) { return a->arrival < b->arrival; });
  std::vector<MessageView> out;
  for (const Entry* entry : entries) out.push_back(view_of(*entry));
  return out;
}

std::optional<MessageView> Queue::show(std::string_view id) const {
  auto found = messages_.find(std::string(id));
  if (found == messages_.end()) return std::nullopt;
  return view_of(found->second);
}

namespace {
void answer_later(Io& io, QueueAdmin::Done on_done, AdminResult result) {
  io.post([on_done = std::move(on_done), result = std::move(result)] { on_done(result); });
}
AdminResult not_found(std::string_view id) {
  return AdminResult{AdminStatus::not_found, "no message " + std::string(id) + " in the queue", 0};
}
}  // namespace

void Queue::admin_persist(const std::string& id, std::string what, Done on_done) {
  io_.spool_update_envelope(
      id, serialize_envelope(messages_.at(id).envelope),
      [alive = alive_, what = std::move(what), on_done = std::move(on_done)](IoStatus status) {
        if (!*alive) return;
        if (!status.ok()) {
          on_done(AdminResult{AdminStatus::failed,
                              "envelope update failed: " + status.error->detail, 0});
          return;
        }
        on_done(AdminResult{AdminStatus::done, what, 1});
      });
}

void Queue::retry(std::string_view id, Done on_done) {
  std::vector<std::string> ids;
  if (id.empty()) {
    for (const auto& [key, entry] : messages_) {
      if (!entry.envelope.held && !entry.busy && any_pending(entry.envelope)) ids.push_back(key);
    }
  } else {
    auto found = messages_.find(std::string(id));
    if (found == messages_.end()) return answer_later(io_, std::move(on_done), not_found(id));
    if (!any_pending(found->second.envelope)) {
      return answer_later(io_, std::move(on_done),
                          AdminResult{AdminStatus::refused, "no recipient is pending", 0});
    }
    if (found->second.busy) {
      return answer_later(io_, std::move(on_done),
                          AdminResult{AdminStatus::refused, "an attempt is in flight now", 0});
    }
    ids.push_back(found->first);
  }
  if (ids.empty()) {
    return answer_later(io_, std::move(on_done),
                        AdminResult{AdminStatus::done, "nothing to retry", 0});
  }
  // Every message is due now; the answer waits for every envelope to be written.
  struct Tally {
    std::size_t due = 0, written = 0;
    std::string failure;
    Done on_done;
  };
  auto tally = std::make_shared<Tally>(Tally{ids.size(), 0, {}, std::move(on_done)});
  for (const std::string& key : ids) {
    auto& entry = messages_.at(key);
    for (auto& r : entry.envelope.recipients) {
      if (r.state == RecipientState::pending) r.next_attempt_unix = io_.wall_unix_seconds();
    }
    if (entry.timer) io_.cancel_timer(*entry.timer);
    entry.timer.reset();
    const bool held = entry.envelope.held;
    admin_persist(key, "", [this, tally, key, held](AdminResult result) {
      if (result.status == AdminStatus::done) {
        ++tally->written;
        if (!held && messages_.count(key) != 0) make_ready(key);
      } else if (tally->failure.empty()) {
        tally->failure = result.message;
      }
      if (--tally->due != 0) return;
      if (!tally->failure.empty()) {
        tally->on_done(AdminResult{AdminStatus::failed, tally->failure, tally->written});
      } else {
        tally->on_done(AdminResult{AdminStatus::done,
                                   std::to_string(tally->written) + " message(s) due now",
                                   tally->written});
      }
    });
  }
}

void Queue::hold(std::string_view id, Done on_done) {
  auto found = messages_.find(std::string(id));
  if (found == messages_.end()) return answer_later(io_, std::move(on_done), not_found(id));
  if (found->second.envelope.held) {
    return answer_later(io_, std::move(on_done),
                        AdminResult{AdminStatus::refused, std::string(id) + " is already held", 0});
  }
  found->second.envelope.held = true;
  admin_persist(
      found->first,
      "held " + found->first + (found->second.busy ? " (the attempt in flight finishes)" : ""),
      std::move(on_done));
}

void Queue::release(std::string_view id, Done on_done) {
  auto found = messages_.find(std::string(id));
  if (found == messages_.end()) return answer_later(io_, std::move(on_done), not_found(id));
  if (!found->second.envelope.held) {
    return answer_later(io_, std::move(on_done),
                        AdminResult{AdminStatus::refused, std::string(id) + " is not held", 0});
  }
  found->second.envelope.held = false;
  const std::string key = found->first;
  admin_persist(key, "released " + key, [this, key, on_done = std::move(on_done)](AdminResult r) {
    auto it = messages_.find(key);
    if (r.status == AdminStatus::done && it != messages_.end()) {
      // Due at its scheduled time: a release is not a retry.
      std::int64_t earliest = INT64_MAX;
      for (const auto& rc : it->second.envelope.recipients) {
        if (rc.state == RecipientState::pending)
          earliest = std::min(earliest, rc.next_attempt_unix);
      }
      const std::int64_t wait = earliest == INT64_MAX ? 0 : earliest - io_.wall_unix_seconds();
      if (wait > 0) {
        arm_timer(it->second, key, Duration::seconds(wait));
      } else {
        make_ready(key);
      }
    }
    on_done(std::move(r));
  });
}

// Pending recipients fail with a DSN (unless silent); once no DSN is owed the message
// leaves the spool and on_done runs (finish_attempt).
void Queue::remove(std::string_view id, bool silent, Done on_done) {
  auto found = messages_.find(std::string(id));
  if (found == messages_.end()) return answer_later(io_, std::move(on_done), not_found(id));
  auto& entry = found->second;
  if (entry.busy) {
    return answer_later(io_, std::move(on_done),
                        AdminResult{AdminStatus::refused,
                                    "a delivery attempt is in flight; try again in a moment", 0});
  }
  for (auto& r : entry.envelope.recipients) {
    if (r.state == RecipientState::pending) {
      r.state = RecipientState::failed;
      r.last_reply = "550 5.0.0 deleted from the queue by the administrator";
      record_attempt(r, "deleted", "");
    }
    if (silent) {
      if (r.state == RecipientState::failed) r.dsn_sent = true;
      r.success_notice = SuccessNotice::none;
    }
  }
  if (entry.timer) io_.cancel_timer(*entry.timer);
  entry.timer.reset();
  begin_work(entry);
  entry.on_removed.push_back(std::move(on_done));
  const std::string key = found->first;
  persist_then(key, [this, key] { finish_attempt(key); });
}

}  // namespace tern::runtime
