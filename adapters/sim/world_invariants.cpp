// The simulated world's observations and its invariant checks (docs/simulation.md): what
// it reads off the Maildirs and the spool, and the five rules it holds the engine to.
#include <algorithm>

#include "adapters/sim/world_internal.hpp"
#include "runtime/spool_format.hpp"

namespace tern::adapters::sim::world {

// ---- Observations.

// Mailboxes are named by the directory's principal: "u<i>" (the world's own directory) or
// the address (remote ones, where an imap directory also takes the unknown "nobody<k>").
void World::scan_maildirs() {
  for (const auto& account : accounts_) {
    for (const auto& [name, content] : io_.maildir(account)) {
      if (!seen_files_.insert(account + "/" + name).second) continue;
      std::string rcpt =
          account.find('@') == std::string::npos ? account + "@example.org" : account;
      const auto at = content.find("Delivered-To: ");
      if (at != std::string::npos) {
        const auto end = content.find("\r\n", at);
        rcpt = content.substr(at + 14, end - at - 14);
      }
      ledger_.observe(content, rcpt, "maildir " + account);
    }
  }
}

std::optional<std::size_t> World::token_for(const std::string& id) {
  if (auto known = token_of_id_.find(id); known != token_of_id_.end()) return known->second;
  const auto body = io_.spool_body(id);
  const auto index = body ? ledger_.index_of(*body) : std::nullopt;
  if (index) token_of_id_.emplace(id, *index);
  return index;
}

std::set<std::size_t> World::tokens_in_spool() {
  std::set<std::size_t> found;
  for (const auto& [id, envelope] : io_.spool_envelopes()) {
    (void)envelope;
    auto known = token_of_id_.find(id);
    if (known == token_of_id_.end()) {
      const auto body = io_.spool_body(id);
      const auto index = body ? ledger_.index_of(*body) : std::nullopt;
      if (!index) continue;
      known = token_of_id_.emplace(id, *index).first;
    }
    found.insert(known->second);
  }
  return found;
}

// Invariant 2 at the moment a 250 reaches the client: the message (or the DSN that
// replaced it) is in the durable spool, or it is already finished.
void World::check_acked(std::size_t index) {
  const auto& truth = ledger_.message(index);
  if (!truth.queue_id.empty() && io_.spool_body(truth.queue_id)) return;
  scan_maildirs();
  if (ledger_.finished(index) || tokens_in_spool().count(index) != 0) return;
  ledger_.violation("inv2: " + truth.token + " (queue id " + truth.queue_id +
                    "): the client saw 250 but the message is not in the durable spool");
}

void World::check_durable(const std::string& when) {
  scan_maildirs();
  const auto durable = tokens_in_spool();
  for (std::size_t i = 0; i < ledger_.messages().size(); ++i) {
    const auto& truth = ledger_.message(i);
    if (truth.fate != Fate::acked || ledger_.finished(i) || durable.count(i) != 0) continue;
    ledger_.violation("inv2: at " + when + ", " + truth.token + " (queue id " + truth.queue_id +
                      ") got 250, is not finished and is not in the durable spool");
  }
}

void World::sample_spool() {
  for (const auto& [id, text] : io_.spool_envelopes()) {
    auto parsed = runtime::parse_envelope(text);
    if (!parsed) continue;
    for (const auto& r : parsed->recipients) {
      auto& set = attempts_[AttemptKey{id, r.address}];
      for (const auto& a : r.history) set.emplace(a.at_unix, a.route, a.reply);
    }
  }
}

// ---- The invariants checked at the end.

void World::check_exactly_once() {
  const auto& messages = ledger_.messages();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.fate != Fate::acked) continue;
    for (const auto& rcpt : m.accepted) {
      const auto key = std::make_pair(i, rcpt);
      const int d = ledger_.deliveries.count(key) ? ledger_.deliveries.at(key) : 0;
      const int b = ledger_.bounces.count(key) ? ledger_.bounces.at(key) : 0;
      if (d + b == 0) {
        ledger_.violation("inv1: " + m.token + " (queue id " + m.queue_id + ") rcpt " + rcpt +
                          ": acknowledged with 250 but never delivered nor bounced");
      } else if (d + b > 1 && m.repeat_reason.empty()) {
        ledger_.violation("inv1: " + m.token + " (queue id " + m.queue_id + ") rcpt " + rcpt +
                          ": delivered " + std::to_string(d) + " times and bounced " +
                          std::to_string(b) + " times, with no attempt in flight at a crash");
      }
    }
    for (const auto& [key, count] : ledger_.deliveries) {
      if (key.first == i && m.accepted.count(key.second) == 0)
        ledger_.violation("inv2: " + m.token + " was delivered to " + key.second +
                          ", a recipient the client saw refused");
    }
  }
}

void World::check_schedule() {
  const std::int64_t drift_ppm = static_cast<std::int64_t>(profile_.io.wall_drift_ppm);
  for (const auto& [key, set] : attempts_) {
    std::vector<std::int64_t> times;
    for (const auto& a : set) times.push_back(std::get<0>(a));
    for (std::size_t k = 0; k + 1 < times.size(); ++k) {
      const std::int64_t step = kRetryStepsS[std::min<std::size_t>(k, 2)];
      const std::int64_t slack = 1 + step * (drift_ppm < 0 ? -drift_ppm : drift_ppm) / 1'000'000;
      const std::int64_t gap = times[k + 1] - times[k];
      if (gap + slack >= step) continue;
      const auto token = token_of_id_.count(key.id) ? ledger_.token(token_of_id_.at(key.id))
                                                    : std::string("(unknown token)");
      const bool restarted = std::any_of(crash_wall_.begin(), crash_wall_.end(), [&](auto t) {
        return t >= times[k] && t <= times[k + 1];
      });
      ledger_.violation("inv4: " + token + " (queue id " + key.id + ") rcpt " + key.rcpt +
                        ": attempt " + std::to_string(k + 2) + " came " + std::to_string(gap) +
                        "s after attempt " + std::to_string(k + 1) + "; the schedule says " +
                        std::to_string(step) + "s" +
                        (restarted ? " (a restart came in between)" : ""));
    }
  }
}

void World::check_liveness() {
  auto spool = io_.spool_envelopes();
  if (spool.empty() && server_ && server_->queue().size() == 0) return;
  std::string what;
  int shown = 0;
  for (const auto& [id, text] : spool) {
    if (++shown > 3) break;
    auto parsed = runtime::parse_envelope(text);
    what += " " + id;
    if (auto index = token_for(id)) what += " (" + ledger_.token(*index) + ")";
    if (!parsed) continue;
    for (const auto& r : parsed->recipients)
      what += " [" + r.address + " " + std::string(runtime::to_string(r.state)) + " " +
              r.last_reply + "]";
  }
  ledger_.violation(
      "inv5: the queue did not drain within " + std::to_string(kDrainBoundMs / 60000) +
      " minutes after healing: " + std::to_string(spool.size()) + " messages left:" + what);
}

}  // namespace tern::adapters::sim::world
