#include "runtime/queue.hpp"

#include <algorithm>

#include "protocol/smtp/chars.hpp"
#include "runtime/bounce.hpp"
#include "runtime/policy.hpp"

namespace tern::runtime {

namespace route = protocol::route;

namespace {

constexpr std::string_view kWaitingForOutbound = "waiting: MX delivery (DNS) is not available yet";

bool valid_account(std::string_view account) {
  if (account.empty() || account.size() > 255 || account.front() == '.') return false;
  return std::none_of(account.begin(), account.end(), [](char c) {
    return c == '/' || static_cast<unsigned char>(c) < 0x21 || c == 0x7F;
  });
}

}  // namespace

Queue::Queue(Io& io, LogSink& log, std::shared_ptr<const EngineSettings> settings)
    : io_(io), log_(log), settings_(std::move(settings)) {}

Queue::~Queue() {
  *alive_ = false;
  for (auto& [id, entry] : messages_) {
    if (entry.timer) io_.cancel_timer(*entry.timer);
    if (entry.delivery) entry.delivery->cancel();
  }
}

void Queue::set_settings(std::shared_ptr<const EngineSettings> settings) {
  settings_ = std::move(settings);
}

const SpoolEnvelope* Queue::find(const std::string& id) const {
  const auto found = messages_.find(id);
  return found == messages_.end() ? nullptr : &found->second.envelope;
}

IoStatus Queue::recover() {
  auto listed = io_.spool_list();
  if (!listed) return IoStatus{listed.error()};
  std::size_t recovered = 0;
  for (auto& entry : *listed) {
    auto parsed = parse_envelope(entry.envelope);
    if (!parsed) {
      log_.log(LogLevel::error, "-",
               "queue: envelope of " + entry.id + " does not parse (" + parsed.error().message +
                   " at byte " + std::to_string(parsed.error().offset) + "); left in the spool");
      continue;
    }
    enqueue(std::move(*parsed));
    ++recovered;
  }
  log_.log(LogLevel::info, "-", "queue: recovered " + std::to_string(recovered) + " messages");
  return IoStatus::success();
}

void Queue::enqueue(SpoolEnvelope envelope) {
  const std::string id = envelope.id;
  auto& entry = messages_[id];
  entry.envelope = std::move(envelope);
  // A message recovered after a restart keeps its retry schedule: it waits for the
  // earliest next attempt of its pending recipients instead of being retried at once.
  std::int64_t earliest = 0;
  bool any_pending = false;
  for (const auto& r : entry.envelope.recipients) {
    if (r.state != RecipientState::pending) continue;
    earliest = any_pending ? std::min(earliest, r.next_attempt_unix) : r.next_attempt_unix;
    any_pending = true;
  }
  const std::int64_t wait_seconds = earliest - io_.wall_unix_seconds();
  if (any_pending && wait_seconds > 0) {
    arm_timer(entry, id, Duration::seconds(wait_seconds));
    return;
  }
  make_ready(id);
}

void Queue::make_ready(const std::string& id) {
  auto& entry = messages_.at(id);
  if (entry.waiting || entry.busy) return;
  entry.waiting = true;
  ready_.push_back(id);
  pump();
}

void Queue::pump() {
  while (!ready_.empty() && in_flight_ < settings_->queue.deliveries_in_flight_max) {
    const std::string id = ready_.front();
    ready_.pop_front();
    auto found = messages_.find(id);
    if (found == messages_.end()) continue;
    found->second.waiting = false;
    found->second.busy = true;
    ++in_flight_;
    io_.post([this, alive = alive_, id] {
      if (*alive) attempt(id);
    });
  }
}

// Routes every pending recipient; returns the indices that go to the local store and
// records the others' situation.
std::vector<std::size_t> Queue::route_pending(Entry& entry) {
  auto& env = entry.envelope;
  route::RouteRequest request;
  request.envelope.sender = env.sender;
  for (const auto& r : env.recipients) request.envelope.recipients.push_back(r.address);
  request.facts.listener = env.listener;
  request.facts.remote_ip = env.remote_ip;
  request.facts.local_ip = env.local_ip;
  request.facts.helo_domain = env.helo;
  request.facts.authenticated_as = env.authenticated_as;
  const DirectoryAnswers answers(*settings_);
  const auto plan = route::route(request, settings_->routing, answers);
  std::vector<std::size_t> local;
  entry.remote_todo.clear();
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    auto& rcpt = env.recipients[i];
    if (rcpt.state != RecipientState::pending) continue;
    const auto& outcome = plan.recipients[i].outcome;
    if (const auto* r = std::get_if<route::Route>(&outcome)) {
      if (std::holds_alternative<route::LocalRoute>(*r)) {
        local.push_back(i);
      } else if (const auto* remote = std::get_if<route::RemoteRoute>(&*r)) {
        auto group =
            std::find_if(entry.remote_todo.begin(), entry.remote_todo.end(),
                         [&](const RemoteGroup& g) { return g.host.id == remote->host.id; });
        if (group == entry.remote_todo.end()) {
          entry.remote_todo.push_back(RemoteGroup{remote->host, {}});
          group = entry.remote_todo.end() - 1;
        }
        group->recipients.push_back(i);
      } else {
        rcpt.last_reply = std::string(kWaitingForOutbound) + " (" + route::describe(*r) + ")";
      }
    } else if (const auto* u = std::get_if<route::Unroutable>(&outcome)) {
      rcpt.state = RecipientState::failed;
      rcpt.last_reply = "550 5.4.4 unroutable: " + u->reason;
    } else {
      rcpt.last_reply = "waiting: routing needs lookups that are not available";
    }
  }
  return local;
}

void Queue::attempt(const std::string& id) {
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  auto todo = std::make_shared<std::vector<std::size_t>>(route_pending(found->second));
  log_.log(LogLevel::debug, "-",
           "queue " + id + ": attempt, " + std::to_string(todo->size()) + " local recipients");
  std::reverse(todo->begin(), todo->end());  // pop from the back in envelope order
  deliver_next_local(id, std::move(todo));
}

std::string Queue::prefix_for(const SpoolEnvelope& envelope, const SpoolRecipient& rcpt) const {
  return "Return-Path: <" + envelope.sender + ">\r\nDelivered-To: " + rcpt.address + "\r\n";
}

void Queue::deliver_next_local(const std::string& id,
                               std::shared_ptr<std::vector<std::size_t>> todo) {
  auto& entry = messages_.at(id);
  if (todo->empty()) {
    deliver_next_remote(id);
    return;
  }
  const std::size_t index = todo->back();
  todo->pop_back();
  auto& rcpt = entry.envelope.recipients[index];
  const std::string account =
      rcpt.account.empty() ? protocol::smtp::chars::to_lower_ascii(rcpt.address) : rcpt.account;
  if (!valid_account(account)) {
    rcpt.state = RecipientState::failed;
    rcpt.last_reply = "550 5.1.1 no valid local mailbox name for this recipient";
    deliver_next_local(id, std::move(todo));
    return;
  }
  io_.maildir_deliver(account, prefix_for(entry.envelope, rcpt), id,
                      [this, alive = alive_, id, todo, index](IoResult<std::string> result) {
                        if (*alive) on_local_result(id, todo, index, std::move(result));
                      });
}

void Queue::on_local_result(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo,
                            std::size_t index, IoResult<std::string> result) {
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  auto& rcpt = found->second.envelope.recipients[index];
  ++rcpt.attempts;
  if (result) {
    rcpt.state = RecipientState::delivered;
    rcpt.last_reply = "250 2.0.0 delivered to maildir as " + *result;
    log_.log(LogLevel::info, "-", "queue " + id + ": <" + rcpt.address + "> delivered to maildir");
    // The delivered state is made durable before anything else happens to this message.
    persist_then(id, [this, id, todo] { deliver_next_local(id, todo); });
    return;
  }
  const auto& error = result.error();
  if (error.code == IoErrc::invalid || error.code == IoErrc::not_found) {
    rcpt.state = RecipientState::failed;
    rcpt.last_reply = "550 5.2.0 local delivery refused: " + error.detail;
  } else {
    rcpt.last_reply = "451 4.3.0 local delivery failed: " + error.detail;
  }
  log_.log(LogLevel::warning, "-", "queue " + id + ": <" + rcpt.address + "> " + rcpt.last_reply);
  deliver_next_local(id, std::move(todo));
}

void Queue::deliver_next_remote(const std::string& id) {
  auto& entry = messages_.at(id);
  if (entry.remote_todo.empty()) {
    persist_then(id, [this, id] { finish_attempt(id); });
    return;
  }
  RemoteGroup group = std::move(entry.remote_todo.front());
  entry.remote_todo.erase(entry.remote_todo.begin());
  auto body = io_.spool_read_body(id);
  if (!body) {
    for (const auto index : group.recipients) {
      entry.envelope.recipients[index].last_reply =
          "451 4.3.0 cannot read the spooled message: " + body.error().detail;
      ++entry.envelope.recipients[index].attempts;
    }
    deliver_next_remote(id);
    return;
  }
  outbound::DeliveryRequest request;
  request.host = group.host;
  request.helo_name = settings_->hostname;
  request.sender = entry.envelope.sender;
  request.sender_params = entry.envelope.sender_params;
  for (const auto index : group.recipients) {
    const auto& r = entry.envelope.recipients[index];
    request.recipients.push_back(outbound::DeliveryRecipient{r.address, r.params});
  }
  request.body = std::move(*body);
  entry.delivery = outbound::RemoteDelivery::start(
      io_, std::move(request), [this, alive = alive_, id, group](outbound::DeliveryReport report) {
        if (*alive) on_remote_report(id, group, std::move(report));
      });
}

void Queue::on_remote_report(const std::string& id, const RemoteGroup& group,
                             outbound::DeliveryReport report) {
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  auto& entry = found->second;
  entry.delivery.reset();
  const std::string where = " (remote " + group.host.id + ", " +
                            (report.endpoint ? report.endpoint->text() : report.host) + ")";
  for (std::size_t k = 0; k < group.recipients.size() && k < report.recipients.size(); ++k) {
    auto& rcpt = entry.envelope.recipients[group.recipients[k]];
    const auto& result = report.recipients[k];
    ++rcpt.attempts;
    switch (result.status) {
      case outbound::DeliveryStatus::delivered:
        rcpt.state = RecipientState::delivered;
        rcpt.last_reply = result.text + where;
        break;
      case outbound::DeliveryStatus::permanent_failure:
        rcpt.state = RecipientState::failed;
        rcpt.last_reply = result.text + where;
        break;
      case outbound::DeliveryStatus::temporary_failure:
        // Our own reasons get a 4xx code so that every pending reply reads the same way.
        rcpt.last_reply = (result.from_server ? "" : "451 4.4.0 ") + result.text + where;
        break;
    }
    log_.log(LogLevel::info, "-",
             "queue " + id + ": <" + rcpt.address + "> " + std::string(to_string(result.status)) +
                 ": " + rcpt.last_reply);
  }
  // Outcomes are durable before the next group is tried.
  persist_then(id, [this, id] { deliver_next_remote(id); });
}

void Queue::persist_then(const std::string& id, std::function<void()> next) {
  auto& entry = messages_.at(id);
  io_.spool_update_envelope(id, serialize_envelope(entry.envelope),
                            [this, alive = alive_, id, next = std::move(next)](IoStatus status) {
                              if (!*alive) return;
                              if (!status.ok()) {
                                log_.log(LogLevel::error, "-",
                                         "queue " + id + ": envelope update failed: " +
                                             status.error->detail + "; retrying later");
                                finish_attempt(id, false);
                                return;
                              }
                              next();
                            });
}

namespace {
bool owes_dsn(const SpoolEnvelope& envelope) {
  return std::any_of(
      envelope.recipients.begin(), envelope.recipients.end(),
      [](const SpoolRecipient& r) { return r.state == RecipientState::failed && !r.dsn_sent; });
}
}  // namespace

// The DSN for newly failed recipients is spooled (durably) before they are marked as
// notified, so a crash in between sends it twice at worst, never zero times.
void Queue::send_dsn(const std::string& id) {
  auto& entry = messages_.at(id);
  auto& env = entry.envelope;
  std::vector<std::size_t> failed;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    if (env.recipients[i].state == RecipientState::failed && !env.recipients[i].dsn_sent) {
      failed.push_back(i);
    }
  }
  auto mark_sent = [this, id, failed] {
    auto& e = messages_.at(id);
    for (const auto index : failed) e.envelope.recipients[index].dsn_sent = true;
    persist_then(id, [this, id] { finish_attempt(id, false); });
  };
  const auto body = io_.spool_read_body(id);
  std::string error;
  auto bounce = make_failure_bounce(env, body ? std::string_view(*body) : std::string_view(),
                                    failed, settings_->hostname, queue_id_from(io_.random_u64()),
                                    io_.wall_unix_seconds(), error);
  if (!bounce) {
    if (!error.empty()) log_.log(LogLevel::error, "-", "queue " + id + ": no DSN: " + error);
    mark_sent();  // none owed (null sender, NOTIFY), or none can be built: do not loop
    return;
  }
  auto writer = io_.spool_create(bounce->envelope.id);
  auto appended = writer ? io_.spool_append(*writer, bounce->body) : IoStatus{writer.error()};
  if (!appended.ok()) {
    if (writer) io_.spool_discard(*writer);
    log_.log(LogLevel::error, "-", "queue " + id + ": DSN not spooled: " + appended.error->detail);
    finish_attempt(id, false);  // still owed: retried with the schedule
    return;
  }
  auto dsn_envelope = bounce->envelope;
  io_.spool_commit(*writer, serialize_envelope(dsn_envelope),
                   [this, alive = alive_, id, dsn_envelope, mark_sent](IoStatus status) {
                     if (!*alive) return;
                     if (!status.ok()) {
                       log_.log(LogLevel::error, "-",
                                "queue " + id + ": DSN not spooled: " + status.error->detail);
                       finish_attempt(id, false);
                       return;
                     }
                     log_.log(LogLevel::info, "-",
                              "queue " + id + ": DSN " + dsn_envelope.id + " to <" +
                                  dsn_envelope.recipients[0].address + ">");
                     enqueue(dsn_envelope);
                     mark_sent();
                   });
}

void Queue::finish_attempt(const std::string& id, bool try_dsn) {
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  auto& entry = found->second;
  if (try_dsn && owes_dsn(entry.envelope)) {
    send_dsn(id);
    return;
  }
  entry.busy = false;
  --in_flight_;
  const bool done =
      std::all_of(entry.envelope.recipients.begin(), entry.envelope.recipients.end(),
                  [](const SpoolRecipient& r) { return r.state != RecipientState::pending; }) &&
      !owes_dsn(entry.envelope);
  if (!done && owes_dsn(entry.envelope)) {
    // The DSN could not be spooled: try again after the first retry step.
    arm_timer(
        entry, id,
        settings_->queue.retry.empty() ? Duration::minutes(2) : settings_->queue.retry.front());
  }
  if (done) {
    io_.spool_remove(id, [this, alive = alive_, id](IoStatus status) {
      if (!*alive) return;
      if (!status.ok()) {
        log_.log(LogLevel::error, "-", "queue " + id + ": remove failed: " + status.error->detail);
        return;
      }
      log_.log(LogLevel::info, "-", "queue " + id + ": done, removed from the spool");
      messages_.erase(id);
    });
  } else {
    schedule_retry(entry, id);
  }
  pump();
}

void Queue::schedule_retry(Entry& entry, const std::string& id) {
  // Recipients that were tried and failed temporarily are retried on the schedule; the
  // ones that were never tried (MX routes, waiting for DNS) stay until a restart.
  std::uint32_t attempts = 0;
  bool retry = false;
  for (const auto& r : entry.envelope.recipients) {
    if (r.state == RecipientState::pending && r.attempts > 0) {
      retry = true;
      attempts = std::max(attempts, r.attempts);
    }
  }
  if (!retry) return;
  const auto& schedule = settings_->queue.retry;
  const Duration wait = schedule.empty()
                            ? Duration::minutes(5)
                            : schedule[std::min<std::size_t>(attempts, schedule.size()) - 1];
  const std::int64_t age = io_.wall_unix_seconds() - entry.envelope.received_unix;
  if (Duration::seconds(age) > settings_->queue.expire) {
    for (auto& r : entry.envelope.recipients) {
      if (r.state == RecipientState::pending) {
        r.state = RecipientState::failed;
        r.last_reply = "550 5.4.7 expired in the queue; last: " + r.last_reply;
      }
    }
    entry.busy = true;
    ++in_flight_;
    persist_then(id, [this, id] { finish_attempt(id); });
    return;
  }
  for (auto& r : entry.envelope.recipients) {
    if (r.state == RecipientState::pending && r.attempts > 0) {
      r.next_attempt_unix = io_.wall_unix_seconds() + wait.ns / 1'000'000'000;
    }
  }
  arm_timer(entry, id, wait);
  // The schedule survives a restart: the next attempt times are written down (a failure
  // to write them only means an earlier retry after a crash).
  io_.spool_update_envelope(id, serialize_envelope(entry.envelope), [](IoStatus) {});
}

void Queue::arm_timer(Entry& entry, const std::string& id, Duration wait) {
  if (entry.timer) io_.cancel_timer(*entry.timer);
  entry.timer = io_.start_timer(io_.now() + wait, [this, alive = alive_, id] {
    if (!*alive) return;
    auto found = messages_.find(id);
    if (found == messages_.end()) return;
    found->second.timer.reset();
    make_ready(id);
  });
}

}  // namespace tern::runtime
