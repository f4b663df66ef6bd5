#include "runtime/queue.hpp"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <utility>

#include "protocol/mail/dsn.hpp"
#include "protocol/smtp/chars.hpp"
#include "runtime/bounce.hpp"
#include "runtime/buggify.hpp"
#include "runtime/outbound/mx_resolver.hpp"
#include "runtime/policy.hpp"

namespace tern::runtime {

namespace route = protocol::route;

namespace {

namespace mail = protocol::mail;

bool valid_account(std::string_view account) {
  if (account.empty() || account.size() > 255 || account.front() == '.') return false;
  return std::none_of(account.begin(), account.end(), [](char c) {
    return c == '/' || static_cast<unsigned char>(c) < 0x21 || c == 0x7F;
  });
}

bool owes_dsn(const SpoolEnvelope& envelope) {
  return std::any_of(
      envelope.recipients.begin(), envelope.recipients.end(), [](const SpoolRecipient& r) {
        return (r.state == RecipientState::failed && !r.dsn_sent) ||
               (r.state == RecipientState::delivered && r.success_notice != SuccessNotice::none);
      });
}

// Nothing left to do: every recipient delivered or failed, and no DSN owed.
bool finished(const SpoolEnvelope& envelope) {
  return !any_pending(envelope) && !owes_dsn(envelope);
}

std::int64_t seconds_of(Duration d) {
  return d.ns / Duration::seconds(1).ns;
}

}  // namespace

Queue::Queue(Io& io, LogSink& log, std::shared_ptr<const EngineSettings> settings)
    : io_(io),
      log_(log),
      settings_(std::move(settings)),
      // As many kept connections per destination as deliveries may run to it: a smaller
      // cache closes connections that the next burst opens again (the benchmark's profile).
      connections_(std::make_shared<outbound::ConnectionCache>(
          Duration::seconds(5), Duration::minutes(5),
          std::max<std::size_t>(1, settings_->outbound.concurrency_per_destination))) {}

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
  entry.arrival = ++arrivals_;
  if (entry.envelope.held) return;  // until `tern queue release`
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
  if (entry.waiting || entry.busy || entry.envelope.held) return;
  entry.waiting = true;
  ready_.push_back(id);
  pump();
}

void Queue::begin_work(Entry& entry) {
  assert(!entry.busy);
  entry.busy = true;
  take_slot(entry);
}

void Queue::end_work(Entry& entry) {
  assert(entry.busy);
  give_slot(entry);
  entry.busy = false;
}

void Queue::take_slot(Entry& entry) {
  assert(entry.busy && !entry.holds_slot);
  entry.holds_slot = true;
  ++in_flight_;
}

void Queue::give_slot(Entry& entry) {
  assert(entry.holds_slot && in_flight_ > 0);
  entry.holds_slot = false;
  --in_flight_;
}

// Every message holding a slot is busy and counted; a parked message is busy without one;
// O(messages): compiled only without NDEBUG.
void Queue::check_invariants() const {
#ifndef NDEBUG
  std::size_t holding = 0;
  for (const auto& [id, entry] : messages_) {
    assert(!entry.holds_slot || entry.busy);
    holding += entry.holds_slot ? 1 : 0;
  }
  assert(holding == in_flight_);
  for (const auto& [destination, ids] : parked_) {
    for (const auto& id : ids) {
      const auto found = messages_.find(id);
      assert(found == messages_.end() || (found->second.busy && !found->second.holds_slot));
      (void)found;
    }
  }
#endif
}

void Queue::pump() {
  while (!ready_.empty() && in_flight_ < settings_->queue.deliveries_in_flight_max) {
    const std::string id = ready_.front();
    ready_.pop_front();
    auto found = messages_.find(id);
    if (found == messages_.end()) continue;
    found->second.waiting = false;
    if (found->second.busy || found->second.envelope.held) continue;
    begin_work(found->second);
    io_.post([this, alive = alive_, id] {
      if (*alive) attempt(id);
    });
  }
  check_invariants();
}

// The delivery group of a remote or MX route: one transaction per group and attempt.
Queue::RemoteGroup Queue::group_for(const route::Route& r) const {
  RemoteGroup group;
  if (const auto* remote = std::get_if<route::RemoteRoute>(&r)) {
    group.host = remote->host;
    group.route = "remote " + remote->host.id;
    return group;
  }
  const auto& mx = std::get<route::MxRoute>(r);
  group.mx = true;
  group.route = "mx " + mx.domain;
  group.host.id = "mx";
  group.host.address = mx.domain;
  group.host.port = 25;
  group.host.protocol = route::RemoteProtocol::smtp;
  group.host.allow_invalid_certs = settings_->outbound.mx_allow_invalid_certs;
  switch (mx.tls.starttls) {
    case route::TlsPolicy::optional:
      group.host.tls = route::TlsMode::starttls;
      group.opportunistic_tls = true;
      break;
    case route::TlsPolicy::require: group.host.tls = route::TlsMode::starttls; break;
    case route::TlsPolicy::disable: group.host.tls = route::TlsMode::none; break;
  }
  return group;
}

outbound::Resolver Queue::resolver_for(const RemoteGroup& group) {
  outbound::MxOptions options;
  options.mx_max = settings_->outbound.mx_max;
  options.addresses_per_host_max = settings_->outbound.multihomed_max;
  options.query_timeout = settings_->outbound.dns_timeout;
  options.self_hostname = protocol::smtp::chars::to_lower_ascii(settings_->hostname);
  return group.mx ? outbound::mx_resolver(io_, options) : outbound::host_resolver(io_, options);
}

void Queue::record_attempt(SpoolRecipient& rcpt, const std::string& route,
                           const std::string& host) {
  rcpt.route = route;
  rcpt.history.push_back(AttemptRecord{io_.wall_unix_seconds(), route, host, rcpt.last_reply});
  if (rcpt.history.size() > kAttemptHistoryMax) rcpt.history.erase(rcpt.history.begin());
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
  const std::int64_t now = io_.wall_unix_seconds();
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    auto& rcpt = env.recipients[i];
    if (rcpt.state != RecipientState::pending) continue;
    // Each recipient keeps its own schedule: one that failed later than another of the
    // same message is not tried again with it before its own time.
    if (rcpt.next_attempt_unix > now) continue;
    const auto& outcome = plan.recipients[i].outcome;
    if (const auto* r = std::get_if<route::Route>(&outcome)) {
      if (std::holds_alternative<route::LocalRoute>(*r)) {
        local.push_back(i);
      } else {
        RemoteGroup wanted = group_for(*r);
        auto group = std::find_if(entry.remote_todo.begin(), entry.remote_todo.end(),
                                  [&](const RemoteGroup& g) { return g.route == wanted.route; });
        if (group == entry.remote_todo.end()) {
          entry.remote_todo.push_back(std::move(wanted));
          group = entry.remote_todo.end() - 1;
        }
        group->recipients.push_back(i);
      }
    } else if (const auto* u = std::get_if<route::Unroutable>(&outcome)) {
      rcpt.state = RecipientState::failed;
      rcpt.last_reply = "550 5.4.4 unroutable: " + u->reason;
      record_attempt(rcpt, "unroutable", "");
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
  if (rcpt.account.empty()) {
    if (auto* directory = default_directory()) return find_account(id, todo, index, *directory);
  }
  const std::string account =
      rcpt.account.empty() ? protocol::smtp::chars::to_lower_ascii(rcpt.address) : rcpt.account;
  if (!valid_account(account)) {
    rcpt.state = RecipientState::failed;
    rcpt.last_reply = "550 5.1.1 no valid local mailbox name for this recipient";
    record_attempt(rcpt, "local", "");
    deliver_next_local(id, std::move(todo));
    return;
  }
  if (buggify::on(buggify::Site::skip_maildir_write)) {  // a deliberately broken engine
    io_.post([this, alive = alive_, id, todo, index] {
      if (*alive) on_local_result(id, todo, index, std::string("never.written"));
    });
    return;
  }
  io_.maildir_deliver(account, prefix_for(entry.envelope, rcpt), id,
                      [this, alive = alive_, id, todo, index](IoResult<std::string> result) {
                        if (*alive) on_local_result(id, todo, index, std::move(result));
                      });
}

directory::Directory* Queue::default_directory() const {
  if (!settings_->default_directory) return nullptr;
  auto found = settings_->directories.find(*settings_->default_directory);
  return found == settings_->directories.end() ? nullptr : found->second.get();
}

// A local recipient the inbound side did not look up (a DSN to a sender who did not log
// in): the directory says which mailbox is theirs, as it would have at RCPT time.
void Queue::find_account(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo,
                         std::size_t index, directory::Directory& directory) {
  const std::string address = messages_.at(id).envelope.recipients[index].address;
  directory.check_recipient(
      address, [this, alive = alive_, id, todo, index](directory::RecipientOutcome outcome) {
        if (!*alive) return;
        auto found = messages_.find(id);
        if (found == messages_.end()) return;
        auto& rcpt = found->second.envelope.recipients[index];
        switch (outcome.status) {
          case directory::RecipientStatus::local:
            rcpt.account = outcome.principal.empty() ? rcpt.address : outcome.principal;
            todo->push_back(index);  // delivered on the next step, now with its account
            break;
          case directory::RecipientStatus::unknown:
            rcpt.state = RecipientState::failed;
            rcpt.last_reply = "550 5.1.1 no local mailbox has this address";
            ++rcpt.attempts;
            record_attempt(rcpt, "local", "");
            break;
          case directory::RecipientStatus::unavailable:
            rcpt.last_reply = "451 4.4.3 the directory is unavailable";
            ++rcpt.attempts;
            due_later(rcpt);
            record_attempt(rcpt, "local", "");
            break;
        }
        deliver_next_local(id, todo);
      });
}

void Queue::on_local_result(const std::string& id, std::shared_ptr<std::vector<std::size_t>> todo,
                            std::size_t index, IoResult<std::string> result) {
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  auto& rcpt = found->second.envelope.recipients[index];
  ++rcpt.attempts;
  const std::string store =
      "maildir " +
      (rcpt.account.empty() ? protocol::smtp::chars::to_lower_ascii(rcpt.address) : rcpt.account);
  if (result) {
    rcpt.state = RecipientState::delivered;
    rcpt.last_reply = "250 2.0.0 delivered to maildir as " + *result;
    record_attempt(rcpt, "local", store);
    // Only an explicit NOTIFY=SUCCESS wants one (RFC 3461's default is FAILURE,DELAY).
    if (mail::notify_wants(rcpt.params, mail::Action::delivered))
      rcpt.success_notice = SuccessNotice::delivered;
    log_.log(LogLevel::info, "-", "queue " + id + ": <" + rcpt.address + "> delivered to maildir");
    // The delivered state is made durable before anything else happens to this message.
    if (todo->empty() && found->second.remote_todo.empty() && finished(found->second.envelope)) {
      deliver_next_local(id, todo);  // nothing left: the removal itself records it
      return;
    }
    persist_then(id, [this, id, todo] { deliver_next_local(id, todo); });
    return;
  }
  const auto& error = result.error();
  if (error.code == IoErrc::invalid || error.code == IoErrc::not_found) {
    rcpt.state = RecipientState::failed;
    rcpt.last_reply = "550 5.2.0 local delivery refused: " + error.detail;
  } else {
    rcpt.last_reply = "451 4.3.0 local delivery failed: " + error.detail;
    due_later(rcpt);
  }
  record_attempt(rcpt, "local", store);
  log_.log(LogLevel::warning, "-", "queue " + id + ": <" + rcpt.address + "> " + rcpt.last_reply);
  deliver_next_local(id, std::move(todo));
}

void Queue::deliver_next_remote(const std::string& id) {
  auto& entry = messages_.at(id);
  if (entry.remote_todo.empty()) {
    // A message with nothing left to do leaves the spool: its removal is the durable
    // record (a crash before it repeats what was in flight, as any crash may). Otherwise
    // the envelope is written when it says something the disk does not know yet.
    if (finished(entry.envelope) || serialize_envelope(entry.envelope) == entry.on_disk) {
      finish_attempt(id);
    } else {
      persist_then(id, [this, id] { finish_attempt(id); });
    }
    return;
  }
  // At most limits.concurrency deliveries to one destination at once: the others wait
  // their turn here, in order. A waiting message gives its in-flight slot back (it holds
  // no connection and no body), so a slow destination cannot stall the others; it takes
  // one again when its turn comes.
  const std::string destination = entry.remote_todo.front().route;
  if (active_[destination] >= settings_->outbound.concurrency_per_destination) {
    parked_[destination].push_back(id);
    give_slot(entry);
    pump();
    return;
  }
  RemoteGroup group = std::move(entry.remote_todo.front());
  entry.remote_todo.erase(entry.remote_todo.begin());
  auto body = io_.spool_read_body(id);
  if (!body) {
    for (const auto index : group.recipients) {
      auto& rcpt = entry.envelope.recipients[index];
      rcpt.last_reply = "451 4.3.0 cannot read the spooled message: " + body.error().detail;
      ++rcpt.attempts;
      due_later(rcpt);
      record_attempt(rcpt, group.route, "");
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
  request.opportunistic_tls = group.opportunistic_tls;
  const auto& o = settings_->outbound;
  auto& t = request.timeouts;
  t.connect = o.connect_timeout;
  t.greeting = o.greeting_timeout;
  t.command = o.command_timeout;
  t.data_end = o.data_timeout;
  if (group.host.timeout) {
    t.connect = t.greeting = t.command = t.data_start = t.data_block = t.data_end =
        *group.host.timeout;
  }
  request.endpoints_max = group.mx ? o.mx_max * o.multihomed_max : o.multihomed_max;
  ++active_[group.route];
  entry.delivery = outbound::RemoteDelivery::start(
      io_, std::move(request),
      [this, alive = alive_, id, group](outbound::DeliveryReport report) {
        if (*alive) on_remote_report(id, group, std::move(report));
      },
      resolver_for(group), connections_);
}

void Queue::destination_done(const std::string& destination) {
  auto active = active_.find(destination);
  if (active != active_.end() && --active->second == 0) active_.erase(active);
  auto parked = parked_.find(destination);
  if (parked == parked_.end()) return;
  const std::string next = parked->second.front();
  parked->second.pop_front();
  if (parked->second.empty()) parked_.erase(parked);
  // Its slot again (briefly past the limit at most: a delivery just ended). A parked
  // message is busy, so nothing removes it meanwhile.
  auto waiting = messages_.find(next);
  assert(waiting != messages_.end());
  if (waiting == messages_.end()) return;
  take_slot(waiting->second);
  io_.post([this, alive = alive_, next] {
    if (!*alive) return;
    if (messages_.count(next) == 0) return;
    deliver_next_remote(next);
  });
}

void Queue::on_remote_report(const std::string& id, const RemoteGroup& group,
                             outbound::DeliveryReport report) {
  destination_done(group.route);
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  auto& entry = found->second;
  entry.delivery.reset();
  const std::string host = !report.last_target.empty() ? report.last_target : report.host;
  const std::string where = " (" + group.route + ", " + host + ")";
  for (std::size_t k = 0; k < group.recipients.size() && k < report.recipients.size(); ++k) {
    auto& rcpt = entry.envelope.recipients[group.recipients[k]];
    const auto& result = report.recipients[k];
    ++rcpt.attempts;
    switch (result.status) {
      case outbound::DeliveryStatus::delivered:
        rcpt.state = RecipientState::delivered;
        rcpt.last_reply = result.text;
        // A next hop without DSN cannot send the success notice asked for: we do, as
        // "relayed" (RFC 3461 §5.2.2.1).
        if (!report.dsn_supported && mail::notify_wants(rcpt.params, mail::Action::relayed)) {
          rcpt.success_notice = SuccessNotice::relayed;
        }
        break;
      case outbound::DeliveryStatus::permanent_failure:
        rcpt.state = RecipientState::failed;
        rcpt.last_reply = result.text;
        break;
      case outbound::DeliveryStatus::temporary_failure:
        // Our own reasons get a 4xx code so that every pending reply reads the same way.
        rcpt.last_reply = (result.from_server ? "" : "451 4.4.0 ") + result.text;
        due_later(rcpt);
        break;
    }
    record_attempt(rcpt, group.route, host);
    log_.log(LogLevel::info, "-",
             "queue " + id + ": <" + rcpt.address + "> " + std::string(to_string(result.status)) +
                 ": " + rcpt.last_reply + where);
  }
  // Outcomes are durable before the next group is tried.
  if (entry.remote_todo.empty() && finished(entry.envelope)) return deliver_next_remote(id);
  persist_then(id, [this, id] { deliver_next_remote(id); });
}

void Queue::persist_then(const std::string& id, std::function<void()> next) {
  auto& entry = messages_.at(id);
  std::string written = serialize_envelope(entry.envelope);
  io_.spool_update_envelope(
      id, written,
      [this, alive = alive_, id, written, next = std::move(next)](IoStatus status) mutable {
        if (!*alive) return;
        if (!status.ok()) return persist_failed(id, *status.error, next);
        if (auto it = messages_.find(id); it != messages_.end())
          it->second.on_disk = std::move(written);
        next();
      });
}

// The outcome is not on disk: nothing may follow it until it is. The message stays in
// flight (a crash now may repeat what was just done, never lose it) and the same write is
// tried again after a pause.
void Queue::persist_failed(const std::string& id, const IoError& error,
                           std::function<void()> next) {
  const Duration pause = std::min(retry_step(1), Duration::minutes(1));
  log_.log(LogLevel::error, "-",
           "queue " + id + ": envelope update failed: " + error.detail + "; writing it again in " +
               std::to_string(seconds_of(pause)) + "s");
  io_.start_timer(io_.now() + pause, [this, alive = alive_, id, next = std::move(next)] {
    if (*alive && messages_.count(id) != 0) persist_then(id, next);
  });
}

Duration Queue::retry_step(std::uint32_t attempts) const {
  const auto& schedule = settings_->queue.retry;
  if (schedule.empty()) return Duration::minutes(5);
  const std::size_t step = std::max<std::uint32_t>(attempts, 1);
  return schedule[std::min(step, schedule.size()) - 1];
}

// A temporary failure's next attempt is decided with it and written in the same envelope
// update: a crash right after cannot make the restarted queue retry early.
void Queue::due_later(SpoolRecipient& rcpt) {
  rcpt.next_attempt_unix = io_.wall_unix_seconds() + seconds_of(retry_step(rcpt.attempts));
}

// Builds and spools one DSN about `entries` of message `id`; `then(true)` once it is
// durable (or when none is owed: NOTIFY, the null sender, or it cannot be built, which is
// logged: looping on it would help nobody), `then(false)` when the spool refused it.
void Queue::spool_report(const std::string& id, const std::vector<ReportEntry>& entries,
                         std::int64_t will_retry_until, std::function<void(bool)> then) {
  const auto& env = messages_.at(id).envelope;
  const auto body = io_.spool_read_body(id);
  std::string error;
  auto report = make_report(env, body ? std::string_view(*body) : std::string_view(), entries,
                            settings_->hostname, queue_id_from(io_.random_u64()),
                            io_.wall_unix_seconds(), will_retry_until, error);
  if (!report || buggify::on(buggify::Site::skip_dsn)) {
    if (!error.empty()) log_.log(LogLevel::error, "-", "queue " + id + ": no DSN: " + error);
    io_.post([then = std::move(then)] { then(true); });
    return;
  }
  auto writer = io_.spool_create(report->envelope.id);
  auto appended = writer ? io_.spool_append(*writer, report->body) : IoStatus{writer.error()};
  if (!appended.ok()) {
    if (writer) io_.spool_discard(*writer);
    log_.log(LogLevel::error, "-", "queue " + id + ": DSN not spooled: " + appended.error->detail);
    io_.post([then = std::move(then)] { then(false); });
    return;
  }
  auto dsn_envelope = report->envelope;
  io_.spool_commit(*writer, serialize_envelope(dsn_envelope),
                   [this, alive = alive_, id, dsn_envelope, then](IoStatus status) {
                     if (!*alive) return;
                     if (!status.ok()) {
                       log_.log(LogLevel::error, "-",
                                "queue " + id + ": DSN not spooled: " + status.error->detail);
                       then(false);
                       return;
                     }
                     log_.log(LogLevel::info, "-",
                              "queue " + id + ": DSN " + dsn_envelope.id + " to <" +
                                  dsn_envelope.recipients[0].address + ">");
                     enqueue(dsn_envelope);
                     then(true);
                   });
}

// The DSN for newly failed (or successfully delivered, when asked) recipients is spooled
// durably before they are marked as notified, so a crash in between sends it twice at
// worst, never zero times.
void Queue::send_dsn(const std::string& id) {
  const auto& env = messages_.at(id).envelope;
  std::vector<ReportEntry> entries;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& r = env.recipients[i];
    if (r.state == RecipientState::failed && !r.dsn_sent) {
      entries.push_back(ReportEntry{i, mail::Action::failed});
    } else if (r.state == RecipientState::delivered && r.success_notice != SuccessNotice::none) {
      entries.push_back(ReportEntry{i, r.success_notice == SuccessNotice::delivered
                                           ? mail::Action::delivered
                                           : mail::Action::relayed});
    }
  }
  spool_report(id, entries, 0, [this, id, entries](bool spooled) {
    auto found = messages_.find(id);
    if (found == messages_.end()) return;
    if (!spooled) return finish_attempt(id, false);  // still owed: retried on the schedule
    for (const auto& e : entries) {
      auto& r = found->second.envelope.recipients[e.index];
      if (r.state == RecipientState::failed) r.dsn_sent = true;
      r.success_notice = SuccessNotice::none;
    }
    persist_then(id, [this, id] { finish_attempt(id, false); });
  });
}

// queue.schedule.notify: once a message is older than the next step, its sender hears that
// the pending recipients are still being tried. The count goes up only once the notice is
// durable; `notice_in_flight` keeps a second one from starting meanwhile.
void Queue::maybe_send_delay_notice(const std::string& id) {
  auto& entry = messages_.at(id);
  auto& env = entry.envelope;
  const auto& steps = settings_->queue.notify;
  if (entry.notice_in_flight || env.delay_notices_sent >= steps.size()) return;
  const std::int64_t age = io_.wall_unix_seconds() - env.received_unix;
  if (age < seconds_of(steps[env.delay_notices_sent])) return;
  std::vector<ReportEntry> entries;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& r = env.recipients[i];
    if (r.state == RecipientState::pending && r.attempts > 0)
      entries.push_back(ReportEntry{i, mail::Action::delayed});
  }
  if (entries.empty()) return;
  entry.notice_in_flight = true;
  const std::int64_t until = env.received_unix + seconds_of(settings_->queue.expire);
  spool_report(id, entries, until, [this, id](bool spooled) {
    auto found = messages_.find(id);
    if (found == messages_.end()) return;
    found->second.notice_in_flight = false;
    if (!spooled) return;  // tried again when the next attempt ends
    ++found->second.envelope.delay_notices_sent;
    write_unawaited(id);
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
  const bool done = finished(entry.envelope);
  // A finished message stays in flight until its removal is durable: until then the disk
  // may still say otherwise, and a crash would repeat it.
  if (!done) end_work(entry);
  if (!done && !entry.on_removed.empty()) {
    for (auto& on_done : std::exchange(entry.on_removed, {})) {
      on_done(AdminResult{AdminStatus::failed,
                          "the deletion could not be written; it completes on a later attempt", 0});
    }
  }
  if (!done && owes_dsn(entry.envelope)) {
    // The DSN could not be spooled: try again after the first retry step.
    arm_timer(
        entry, id,
        settings_->queue.retry.empty() ? Duration::minutes(2) : settings_->queue.retry.front());
  }
  if (done) {
    io_.spool_remove(id, [this, alive = alive_, id](IoStatus status) {
      if (!*alive) return;
      auto it = messages_.find(id);
      if (it == messages_.end()) return;
      if (!status.ok()) {
        // Still in flight. The finished state is written down first (the removal was its
        // only record), then the removal is tried again, after a pause if the disk keeps
        // refusing (persist_failed).
        log_.log(LogLevel::error, "-",
                 "queue " + id + ": remove failed: " + status.error->detail + "; trying again");
        persist_then(id, [this, id] { finish_attempt(id); });
        return;
      }
      auto waiting = std::exchange(it->second.on_removed, {});
      end_work(it->second);
      pump();
      log_.log(LogLevel::info, "-", "queue " + id + ": done, removed from the spool");
      messages_.erase(it);
      for (auto& on_done : waiting) on_done(AdminResult{AdminStatus::done, "deleted " + id, 1});
    });
  } else {
    schedule_retry(entry, id);
    if (!owes_dsn(entry.envelope)) maybe_send_delay_notice(id);
  }
  pump();
}

void Queue::schedule_retry(Entry& entry, const std::string& id) {
  if (!any_pending(entry.envelope)) return;
  const std::int64_t now = io_.wall_unix_seconds();
  if (Duration::seconds(now - entry.envelope.received_unix) > settings_->queue.expire) {
    for (auto& r : entry.envelope.recipients) {
      if (r.state == RecipientState::pending) {
        r.state = RecipientState::failed;
        r.last_reply = "550 5.4.7 expired in the queue; last: " + r.last_reply;
      }
    }
    begin_work(entry);
    persist_then(id, [this, id] { finish_attempt(id); });
    return;
  }
  // Tried recipients already carry their next attempt (due_later, written with their
  // outcome). One that was not tried (its turn never came) is due after the first step;
  // writing that down is a courtesy: losing it means an earlier first attempt, no harm.
  std::int64_t earliest = INT64_MAX;
  bool untried = false;
  for (auto& r : entry.envelope.recipients) {
    if (r.state != RecipientState::pending) continue;
    if (r.next_attempt_unix <= now) {
      r.next_attempt_unix = now + seconds_of(retry_step(r.attempts));
      untried = true;
    }
    earliest = std::min(earliest, r.next_attempt_unix);
  }
  arm_timer(entry, id, Duration::seconds(std::max<std::int64_t>(earliest - now, 1)));
  if (untried) write_unawaited(id);
}

// An envelope write nothing waits for: a delay notice's count, a first retry time. A
// failure is logged and the state stays in memory: the end of the next attempt writes the
// envelope whenever it differs from what is on disk. A crash before then sends the notice
// again or retries earlier: at least once, never lost.
void Queue::write_unawaited(const std::string& id) {
  auto text = serialize_envelope(messages_.at(id).envelope);
  io_.spool_update_envelope(id, text, [this, alive = alive_, id, text](IoStatus status) {
    if (!*alive) return;
    auto found = messages_.find(id);
    if (found == messages_.end()) return;
    if (status.ok()) {
      found->second.on_disk = text;
      return;
    }
    log_.log(LogLevel::warning, "-",
             "queue " + id + ": envelope not written (" + status.error->detail +
                 "); the next attempt writes it");
  });
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
