#include "adapters/sim/world.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>

#include "adapters/sim/world_internal.hpp"
#include "config/engine_settings.hpp"
#include "config/loader.hpp"
#include "config/route_model.hpp"
#include "runtime/server.hpp"
#include "runtime/spool_format.hpp"

namespace tern::adapters::sim {

using runtime::Duration;
using runtime::Endpoint;

namespace world {

namespace {

std::shared_ptr<const runtime::EngineSettings> load_settings(
    runtime::Io& io, const Profile& profile, std::shared_ptr<WorldDirectory> directory,
    std::string& error) {
  auto loaded = config::load_string(engine_toml(profile), "world.toml");
  if (!loaded.ok()) {
    error = "the world's TOML does not load";
    for (const auto& d : loaded.diagnostics) error += "; " + d.message;
    return nullptr;
  }
  auto model = config::build_route_model(loaded.config);
  if (!model.ok()) {
    error = "the world's routes do not build";
    return nullptr;
  }
  auto built = config::build_engine_config(loaded.config, model.model);
  if (!built.ok()) {
    error = "the world's engine settings do not build";
    return nullptr;
  }
  auto settings = built.engine.settings;
  settings.directories["main"] = std::move(directory);
  for (const auto& model : built.engine.directories) {
    // A remote directory as the daemon builds it: the world's TOML decides.
    if (model.name == "main" && model.type != config::DirectoryType::memory) {
      error = config::build_directory(model, settings.hostname, io, settings.directories["main"]);
      if (!error.empty()) return nullptr;
    }
  }
  settings.default_directory = "main";
  settings.tls_identities[""] = *io.load_tls_identity("CERT", "KEY");
  return std::make_shared<const runtime::EngineSettings>(std::move(settings));
}

}  // namespace

World::World(std::uint64_t seed, const WorldOptions& options)
    : seed_(seed),
      options_(options),
      io_(seed),
      ledger_(seed, trace_),
      root_(seed),
      faults_prng_(root_.child("world.faults")) {
  options_.messages = std::clamp<std::size_t>(options_.messages, 1, 1000);
  profile_ = draw_profile(root_.child("world.swarm"), options_.swarm);
  directory_ = std::make_shared<WorldDirectory>(io_, kUsers);
  plans_ = draw_workload(root_.child("world.workload"), ledger_, options_.messages);
  draw_variety(root_.child("world.variety"), profile_, plans_);
  const bool remote = profile_.directory != DirectoryKind::memory;
  for (std::size_t i = 0; i < kUsers; ++i)
    accounts_.push_back("u" + std::to_string(i) + (remote ? "@example.org" : ""));
  if (profile_.directory == DirectoryKind::imap) {
    for (int k = 0; k < 4; ++k) accounts_.push_back("nobody" + std::to_string(k) + "@example.org");
  }
}

void World::setup_dns() {
  io_.dns_mx("mx-a.example", {{10, "mx1.mx-a.example"}, {20, "mx2.mx-a.example"}});
  io_.dns_addresses("mx1.mx-a.example", {"192.0.2.11"});
  io_.dns_addresses("mx2.mx-a.example", {"192.0.2.12"});
  io_.dns_addresses("plain.example", {"192.0.2.13"});  // no MX: the domain's own address
  io_.dns_mx("far.example", {{10, "mx.far.example"}});
  io_.dns_addresses("mx.far.example", {"192.0.2.14"});
  io_.dns_mx("nullmx.example", {{0, ""}});  // RFC 7505: accepts no mail
  io_.dns_mx("flaky.example", {{10, "mx.flaky.example"}});
  io_.dns_addresses("mx.flaky.example", {"192.0.2.15"});
  if (profile_.dns_servfail)
    io_.dns_fail("flaky.example", runtime::DnsType::mx, runtime::IoErrc::dns_failed);
  if (profile_.dns_timeout)
    io_.dns_fail("flaky.example", runtime::DnsType::mx, runtime::IoErrc::timeout);
}

void World::setup_remotes() {
  struct Spec {
    const char* name;
    const char* ip;
    std::uint16_t port;
    bool lmtp;
    bool never_permanent;
  };
  // far.example receives the DSNs of senders from outside: it never fails them for good
  // (a DSN that bounces is dropped, and the world could not account for it).
  static constexpr Spec kSpecs[] = {
      {"relay", "192.0.2.50", 25, false, false},    {"store", "192.0.2.60", 24, true, false},
      {"mx1.mx-a", "192.0.2.11", 25, false, false}, {"mx2.mx-a", "192.0.2.12", 25, false, false},
      {"plain", "192.0.2.13", 25, false, false},    {"mx.far", "192.0.2.14", 25, false, true},
      {"mx.flaky", "192.0.2.15", 25, false, false}};
  Prng prng = root_.child("world.remote");
  for (const auto& s : kSpecs) {
    remotes_.push_back(
        std::make_unique<RemoteServer>(io_, ledger_, trace_, s.name, Endpoint{s.ip, s.port}, s.lmtp,
                                       profile_.remote, prng.child(s.name), s.never_permanent));
  }
  if (profile_.directory != DirectoryKind::memory) {
    directory_server_ = std::make_unique<DirectoryServer>(
        io_, trace_, profile_.directory,
        Endpoint{std::string(kDirectoryIp), directory_port(profile_.directory)},
        profile_.directory_script, root_.child("world.directory_server"), kUsers);
  }
}

bool World::start_engine() {
  std::string error;
  auto settings = load_settings(io_, profile_, directory_, error);
  if (!settings) {
    ledger_.violation("setup: " + error);
    return false;
  }
  server_ = std::make_unique<runtime::Server>(io_, log_, settings);
  const auto status = server_->start();
  if (!status.ok()) {
    ledger_.violation("inv5: the engine did not start: " + status.error->detail);
    server_.reset();
    return false;
  }
  engine_up_ = true;
  return true;
}

// A crash at an arbitrary instant: check durability first, note the attempts in flight
// (the only messages allowed to be delivered twice), then kill and restart the engine.
void World::crash() {
  ++crashes_done_;
  const std::string name = "crash " + std::to_string(crashes_done_);
  trace_.add(name);
  crash_wall_.push_back(io_.wall_unix_seconds());
  sample_spool();
  check_durable(name);
  if (server_) {
    for (const auto& view : server_->queue().list()) {
      if (!view.in_flight) continue;
      const auto body = io_.spool_body(view.id);
      if (!body) continue;
      if (auto index = ledger_.index_of(*body))
        ledger_.allow_repeat(*index, "an attempt of " + view.id + " was in flight at " + name +
                                         " (Queue::list() said in_flight)");
    }
  }
  // The dead engine's destructors run before the crash, against a live world: what they
  // start (a QUIT on a kept connection, a close) is wiped by the crash like any other
  // event. After crash() those connections are unknown to SimIo, which asserts on a write
  // (ConnectionCache's destructor writes QUIT).
  server_.reset();
  io_.crash();
  engine_up_ = false;
  start_engine();
}

void World::world_faults() {
  const std::int64_t now = now_ms();
  if (chance(faults_prng_, profile_.fsync_burst)) {
    const int n = 1 + static_cast<int>(faults_prng_.below(3));
    io_.fail_next_fsyncs(n);
    world_faults_["world.fsync_burst"] += 1;
    trace_.add("fault: the next " + std::to_string(n) + " fsyncs fail");
  }
  if (squeeze_until_ms_ < 0 && chance(faults_prng_, profile_.disk_squeeze)) {
    squeeze_until_ms_ = now + 5000 + static_cast<std::int64_t>(faults_prng_.below(60000));
    io_.set_disk_capacity(4096 + faults_prng_.below(std::uint64_t{64} * 1024));
    world_faults_["world.disk_full"] += 1;
    trace_.add("fault: the disk is (nearly) full");
  } else if (squeeze_until_ms_ >= 0 && now >= squeeze_until_ms_) {
    squeeze_until_ms_ = -1;
    io_.set_disk_capacity(1ull << 40);
  }
  // The directory server is one more endpoint (index remotes_.size()) when there is one.
  const std::size_t endpoints = remotes_.size() + (directory_server_ ? 1 : 0);
  if (chance(faults_prng_, profile_.endpoint_fault))
    endpoint_down(faults_prng_.below(endpoints), now);
  if (directory_server_ && chance(faults_prng_, profile_.directory_outage))
    endpoint_down(remotes_.size(), now);
  for (auto it = endpoint_restore_ms_.begin(); it != endpoint_restore_ms_.end();) {
    if (now < it->second) {
      ++it;
      continue;
    }
    it->first < remotes_.size() ? remotes_[it->first]->serve() : directory_server_->serve();
    it = endpoint_restore_ms_.erase(it);
  }
}

void World::endpoint_down(std::size_t i, std::int64_t now) {
  const bool hole = faults_prng_.below(2) == 0;
  const bool dir = i >= remotes_.size();
  if (dir) {
    hole ? directory_server_->blackhole() : directory_server_->refuse();
  } else {
    hole ? remotes_[i]->blackhole() : remotes_[i]->refuse();
  }
  endpoint_restore_ms_[i] = now + 10000 + static_cast<std::int64_t>(faults_prng_.below(120000));
  world_faults_[hole ? "world.endpoint_blackhole" : "world.endpoint_refused"] += 1;
  trace_.add("fault: " + (dir ? std::string("the directory") : remotes_[i]->name()) +
             (hole ? " blackholed" : " refuses connections"));
}

// One step of the world: the engine and the network run for `ms`, then clients are
// started and polled, and the spool is sampled when a minute has passed.

void World::step(std::int64_t ms) {
  io_.run_for(Duration::milliseconds(ms));
  const std::int64_t now = now_ms();
  for (std::size_t i = clients_.size(); i < plans_.size(); ++i) {
    if (plans_[i].start.ns / 1'000'000 > now) break;
    clients_.push_back(
        std::make_unique<Client>(io_, ledger_, trace_, plans_[i], static_cast<int>(i)));
    clients_.back()->on_acked = [this](std::size_t index) { check_acked(index); };
    if (plans_[i].tls_fail) world_faults_["world.client_tls_fail"] += 1;
    clients_.back()->directory_may_fail = [this] { return directory_may_fail(); };
    clients_.back()->begin();
  }
  for (auto& client : clients_) client->poll();
  if (now >= next_sample_ms_) {
    sample_spool();
    next_sample_ms_ = now + kSampleMs;
  }
}

// A remote directory fails until the heal, and a little after: a pooled connection that
// stalled before it still has to time out (timeout, at most 15 s, after idle_timeout).
bool World::directory_may_fail() const {
  if (!directory_server_) return false;
  return heal_ms_ < 0 || now_ms() < heal_ms_ + kDirectoryHealSlackMs;
}

void World::heal() {
  heal_ms_ = now_ms();
  trace_.add("heal");
  io_.heal();
  io_.fail_next_fsyncs(0);
  io_.set_disk_capacity(1ull << 40);
  squeeze_until_ms_ = -1;
  endpoint_restore_ms_.clear();
  for (auto& remote : remotes_) {
    remote->heal();
    remote->serve();
  }
  if (directory_server_) {
    directory_server_->heal();
    directory_server_->serve();
  }
  io_.dns_mx("flaky.example", {{10, "mx.flaky.example"}});
}

bool World::drained() const {
  if (!server_ || server_->queue().size() != 0 || !io_.spool_envelopes().empty()) return false;
  return std::all_of(clients_.begin(), clients_.end(), [](const auto& c) { return c->done(); });
}

WorldReport World::run() {
  trace_.add("world seed " + std::to_string(seed_) + ": " + profile_.describe());
  setup_dns();
  setup_remotes();
  io_.set_faults(profile_.io);
  if (start_engine()) {
    std::size_t next_crash = 0;
    while (now_ms() < kFaultPhaseMs) {
      std::int64_t span = kStepMs;
      if (next_crash < profile_.crash_ms.size())
        span = std::clamp<std::int64_t>(profile_.crash_ms[next_crash] - now_ms(), 1, kStepMs);
      step(span);
      world_faults();
      if (next_crash < profile_.crash_ms.size() && now_ms() >= profile_.crash_ms[next_crash]) {
        ++next_crash;
        crash();
        if (!engine_up_) break;
      }
    }
    heal();
    const std::int64_t bound = now_ms() + kDrainBoundMs;
    while (engine_up_ && now_ms() < bound && !drained()) step(kStepMs * 10);
    trace_.add("drain ended");
  }
  scan_maildirs();
  for (auto& remote : remotes_) remote->release_unconfirmed();
  check_liveness();
  check_exactly_once();
  check_schedule();

  WorldReport report;
  report.seed = seed_;
  report.violations = ledger_.violations;
  report.ok = report.violations.empty();
  report.profile = profile_.describe();
  auto& s = report.stats;
  s.sessions = clients_.size();
  s.messages = ledger_.messages().size();
  for (const auto& m : ledger_.messages()) {
    s.submitted += m.fate != Fate::unsent;
    s.acked += m.fate == Fate::acked;
    s.refused += m.fate == Fate::refused;
  }
  s.delivered = ledger_.delivered_total;
  s.bounced = ledger_.bounced_total;
  s.crashes = crashes_done_;
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    s.starttls_clients += plans_[i].starttls;
    s.bdat_clients += plans_[i].chunking;
  }
  s.virtual_ms = now_ms();
  s.events = io_.events_run();
  for (const auto& [name, count] : io_.fault_counts())
    report.fault_counts[name] = static_cast<std::uint64_t>(count);
  for (const auto& [name, count] : world_faults_) report.fault_counts[name] += count;
  if (directory_server_) {
    for (const auto& [name, count] : directory_server_->faults())
      report.fault_counts[name] += count;
  }
  std::uint64_t h = trace_.hash();
  for (int i = 0; i < 8; ++i) {
    h ^= (io_.trace_hash() >> (8 * i)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  report.trace_hash = h;
  if (options_.trace) report.trace = trace_.lines;
  return report;
}

}  // namespace world

std::string WorldReport::summary() const {
  const auto& s = stats;
  const std::int64_t secs = s.virtual_ms / 1000;
  std::string out = "seed " + std::to_string(seed) + ": " + (ok ? "ok" : "FAILED") + "\n";
  out += "  sessions " + std::to_string(s.sessions) + ", messages " + std::to_string(s.messages) +
         ", submitted " + std::to_string(s.submitted) + ", acked " + std::to_string(s.acked) +
         ", refused " + std::to_string(s.refused) + "; deliveries " + std::to_string(s.delivered) +
         ", bounced " + std::to_string(s.bounced) + "; crashes " + std::to_string(s.crashes) +
         "; STARTTLS " + std::to_string(s.starttls_clients) + ", BDAT " +
         std::to_string(s.bdat_clients) + "; virtual time " + std::to_string(secs / 3600) + "h" +
         std::to_string(secs / 60 % 60) + "m" + std::to_string(secs % 60) + "s; events " +
         std::to_string(s.events) + "\n";
  out += "  profile: " + profile + "\n";
  if (!fault_counts.empty()) {
    out += "  faults:";
    for (const auto& [name, count] : fault_counts) out += " " + name + "=" + std::to_string(count);
    out += "\n";
  }
  for (const auto& v : violations) out += "  violation: " + v + "\n";
  return out;
}

WorldReport run_world(std::uint64_t seed, const WorldOptions& options) {
  world::World simulation(seed, options);
  return simulation.run();
}

}  // namespace tern::adapters::sim
