#include "adapters/sim/world_setup.hpp"

#include <algorithm>
#include <set>

namespace tern::adapters::sim::world {

namespace {

// Part A's SimFaults fields may be of any integer or bool type: assign through a cast.
template <class T, class V>
void assign(T& field, V value) {
  field = static_cast<T>(value);
}

// A fault kind is on for half the seeds, at a rate drawn from three decades.
std::uint32_t maybe_rate(Prng& prng, std::uint32_t low) {
  if (prng.below(2) == 0) return 0;
  static constexpr std::uint32_t kScale[] = {1, 10, 100};
  return low * kScale[prng.below(3)];
}

void draw_io_faults(Prng& prng, SimFaults& f) {
  assign(f.latency_jitter_us, prng.below(2) == 0 ? 0 : 1 + prng.below(5000));
  assign(f.random_chunking, prng.below(2));
  assign(f.reset_per_million, maybe_rate(prng, 100));
  assign(f.half_close_per_million, maybe_rate(prng, 100));
  assign(f.stall_per_million, maybe_rate(prng, 100));
  assign(f.connect_refused_per_million, maybe_rate(prng, 1000));
  assign(f.connect_timeout_per_million, maybe_rate(prng, 1000));
  assign(f.fsync_fail_per_million, maybe_rate(prng, 1000));
  assign(f.disk_full_per_million, maybe_rate(prng, 1000));
  assign(f.torn_write_per_million, maybe_rate(prng, 1000));
  assign(f.dns_fail_per_million, maybe_rate(prng, 1000));
  assign(f.dns_timeout_per_million, maybe_rate(prng, 1000));
  assign(f.wall_drift_ppm,
         prng.below(2) == 0 ? 0 : static_cast<std::int64_t>(prng.below(401)) - 200);
}

std::string pick(Prng& prng, std::initializer_list<const char*> options) {
  const auto i = prng.below(options.size());
  return *(options.begin() + static_cast<std::ptrdiff_t>(i));
}

// A body with the token in the Subject (DSNs return the headers) and in the text; some are
// large, with lines that need dot-stuffing.
std::string make_body(Prng& prng, const std::string& token, const std::string& sender) {
  std::string body = "From: <" + sender + ">\r\nSubject: " + token + "\r\nMessage-ID: <" + token +
                     "@sim.example>\r\n\r\n" + token + "\r\n";
  const bool large = prng.below(8) == 0;
  const std::uint64_t lines = large ? 300 + prng.below(3000) : prng.below(6);
  for (std::uint64_t i = 0; i < lines; ++i) {
    switch (prng.below(6)) {
      case 0: body += ".\r\n"; break;  // a lone dot: stuffed, never the end
      case 1: body += "..double dot " + std::to_string(i) + "\r\n"; break;
      case 2: body += ". leading dot and space\r\n"; break;
      default:
        body += "line " + std::to_string(i) + std::string(prng.below(70), 'x') + "\r\n";
        break;
    }
  }
  return body;
}

struct Rcpt {
  std::string address;
  RcptTruth truth;
};

Rcpt draw_rcpt(Prng& prng, ClientKind kind) {
  const std::string local = "u" + std::to_string(prng.below(kUsers)) + "@example.org";
  const std::string unknown = "nobody" + std::to_string(prng.below(4)) + "@example.org";
  const std::uint64_t roll = prng.below(100);
  if (kind == ClientKind::lmtp)
    return roll < 80 ? Rcpt{local, RcptTruth::accept} : Rcpt{unknown, RcptTruth::unknown_user};
  if (kind == ClientKind::smtp) {
    if (roll < 70) return {local, RcptTruth::accept};
    if (roll < 90) return {unknown, RcptTruth::unknown_user};
    return {"r" + std::to_string(prng.below(5)) + "@relay.example", RcptTruth::relay_denied};
  }
  if (roll < 25) return {local, RcptTruth::accept};
  if (roll < 33) return {unknown, RcptTruth::unknown_user};
  const std::string domain = roll < 38
                                 ? "nullmx.example"
                                 : pick(prng, {"relay.example", "store.example", "mx-a.example",
                                               "plain.example", "flaky.example"});
  return {"r" + std::to_string(prng.below(5)) + "@" + domain, RcptTruth::accept};
}

MessagePlan draw_message(Prng& prng, Ledger& ledger, ClientKind kind, const std::string& sender) {
  MessagePlan plan;
  std::vector<std::string> rcpts;
  std::set<std::string> seen;
  const std::uint64_t count = 1 + prng.below(4);
  for (std::uint64_t i = 0; i < count; ++i) {
    auto r = draw_rcpt(prng, kind);
    if (!seen.insert(r.address).second) continue;
    rcpts.push_back(r.address);
    plan.truths.push_back(r.truth);
  }
  plan.index = ledger.add_message(sender, rcpts);
  plan.body = make_body(prng, ledger.token(plan.index), sender);
  return plan;
}

// Half the seeds keep the world's own directory; the others ask a remote one.
void draw_directory(Prng prng, Profile& p) {
  const std::uint64_t roll = prng.below(8);
  p.directory = roll < 4   ? DirectoryKind::memory
                : roll < 6 ? DirectoryKind::smtp
                : roll < 7 ? DirectoryKind::lmtp
                           : DirectoryKind::imap;
  if (p.directory == DirectoryKind::memory) return;
  p.directory_starttls = prng.below(4) != 0;
  p.directory_timeout_s = prng.below(2) == 0 ? 5 : 15;
  p.directory_pool = 1 + static_cast<std::uint32_t>(prng.below(4));
  p.directory_limits_rcpt = 1 + static_cast<std::uint32_t>(prng.below(10));
  p.directory_cache_short = prng.below(2) == 0;
  p.directory_script.answer_temp = maybe_rate(prng, 5000);
  p.directory_script.stall = maybe_rate(prng, 3000);
  p.directory_script.slow = maybe_rate(prng, 5000);
  p.directory_script.tls_fail = p.directory_starttls ? maybe_rate(prng, 3000) : 0;
  p.directory_outage = maybe_rate(prng, 1000);
}

std::string directory_toml(const Profile& p) {
  if (p.directory == DirectoryKind::memory) return "[directory.main]\ntype = \"memory\"\n";
  static constexpr const char* kTypes[] = {"memory", "smtp", "lmtp", "imap"};
  return std::string("[directory.main]\ntype = \"") + kTypes[static_cast<int>(p.directory)] +
         "\"\naddress = \"" + std::string(kDirectoryIp) +
         "\"\nport = " + std::to_string(directory_port(p.directory)) +
         "\ntls.implicit = false\ntls.starttls = " + (p.directory_starttls ? "true" : "false") +
         "\ntimeout = \"" + std::to_string(p.directory_timeout_s) +
         "s\"\npool.max-connections = " + std::to_string(p.directory_pool) +
         "\nlimits.rcpt = " + std::to_string(p.directory_limits_rcpt) +
         (p.directory_cache_short ? "\ncache.ttl.positive = \"1s\"" : "") +
         "\nlookup.domains = [\"example.org\"]\n";
}

}  // namespace

std::string Profile::describe() const {
  std::string out = "crashes=" + std::to_string(crash_ms.size());
  auto add = [&out](const char* name, std::uint64_t value) {
    if (value != 0) out += std::string(" ") + name + "=" + std::to_string(value);
  };
  add("latency_jitter_us", static_cast<std::uint64_t>(io.latency_jitter_us));
  add("random_chunking", static_cast<std::uint64_t>(io.random_chunking));
  add("reset", static_cast<std::uint64_t>(io.reset_per_million));
  add("half_close", static_cast<std::uint64_t>(io.half_close_per_million));
  add("stall", static_cast<std::uint64_t>(io.stall_per_million));
  add("connect_refused", static_cast<std::uint64_t>(io.connect_refused_per_million));
  add("connect_timeout", static_cast<std::uint64_t>(io.connect_timeout_per_million));
  add("fsync_fail", static_cast<std::uint64_t>(io.fsync_fail_per_million));
  add("disk_full", static_cast<std::uint64_t>(io.disk_full_per_million));
  add("torn_write", static_cast<std::uint64_t>(io.torn_write_per_million));
  add("dns_fail", static_cast<std::uint64_t>(io.dns_fail_per_million));
  add("dns_timeout", static_cast<std::uint64_t>(io.dns_timeout_per_million));
  if (io.wall_drift_ppm != 0) out += " wall_drift_ppm=" + std::to_string(io.wall_drift_ppm);
  add("world.fsync_burst", fsync_burst);
  add("world.disk_squeeze", disk_squeeze);
  add("world.endpoint_fault", endpoint_fault);
  add("world.dns_servfail", dns_servfail);
  add("world.dns_timeout", dns_timeout);
  add("remote.greet_421", remote.greet_421);
  add("remote.rcpt_4xx", remote.rcpt_temp);
  add("remote.rcpt_5xx", remote.rcpt_perm);
  add("remote.data_4xx", remote.data_temp);
  add("remote.data_5xx", remote.data_perm);
  add("remote.stall", remote.stall);
  add("remote.slow", remote.slow);
  add("remote.close_mid_data", remote.close_mid_data);
  if (directory != DirectoryKind::memory) {
    static constexpr const char* kNames[] = {"memory", "smtp", "lmtp", "imap"};
    out += std::string(" directory=") + kNames[static_cast<int>(directory)] +
           (directory_starttls ? "+starttls" : "+clear") +
           " dir.timeout_s=" + std::to_string(directory_timeout_s) +
           " dir.pool=" + std::to_string(directory_pool) +
           " dir.limits_rcpt=" + std::to_string(directory_limits_rcpt);
    add("dir.cache_short", directory_cache_short);
    add("dir.answer_4xx", directory_script.answer_temp);
    add("dir.stall", directory_script.stall);
    add("dir.slow", directory_script.slow);
    add("dir.tls_fail", directory_script.tls_fail);
    add("dir.outage", directory_outage);
  }
  add("client.tls_fail", client_tls_fail);
  return out;
}

Profile draw_profile(Prng prng, bool swarm) {
  Profile p;
  if (!swarm) return p;
  draw_io_faults(prng, p.io);
  const std::uint64_t crashes = prng.below(2) == 0 ? 0 : 1 + prng.below(3);
  for (std::uint64_t i = 0; i < crashes; ++i)
    p.crash_ms.push_back(1000 + static_cast<std::int64_t>(prng.below(kFaultPhaseMs - 1000)));
  std::sort(p.crash_ms.begin(), p.crash_ms.end());
  p.fsync_burst = maybe_rate(prng, 2000);
  p.disk_squeeze = maybe_rate(prng, 200);
  p.endpoint_fault = maybe_rate(prng, 1000);
  p.dns_servfail = prng.below(3) == 0;
  p.dns_timeout = !p.dns_servfail && prng.below(3) == 0;
  p.remote.greet_421 = maybe_rate(prng, 5000);
  p.remote.rcpt_temp = maybe_rate(prng, 5000);
  p.remote.rcpt_perm = maybe_rate(prng, 2000);
  p.remote.data_temp = maybe_rate(prng, 5000);
  p.remote.data_perm = maybe_rate(prng, 2000);
  p.remote.stall = maybe_rate(prng, 3000);
  p.remote.slow = maybe_rate(prng, 5000);
  p.remote.close_mid_data = maybe_rate(prng, 3000);
  draw_directory(prng.child("world.directory"), p);
  Prng tls = prng.child("world.tls");
  p.client_tls_fail = maybe_rate(tls, 2000);
  return p;
}

std::uint16_t directory_port(DirectoryKind kind) {
  return kind == DirectoryKind::imap ? 143 : kind == DirectoryKind::lmtp ? 24 : 25;
}

std::string engine_toml(const Profile& profile) {
  return R"toml(
[server]
hostname = "mx.example.org"
[server.timeout]
command = "1m"
data = "1m"
[server.listener.smtp]
bind = ["127.0.0.1:25"]
[server.listener.submission]
bind = ["127.0.0.1:587"]
[server.listener.lmtp]
bind = ["127.0.0.1:24"]
protocol = "lmtp"
[remote.relay]
address = "192.0.2.50"
port = 25
protocol = "smtp"
timeout = "30s"
tls.implicit = false
tls.starttls = false
[remote.store]
address = "192.0.2.60"
port = 24
protocol = "lmtp"
timeout = "30s"
tls.implicit = false
tls.starttls = false
[queue.outbound]
next-hop = [{ if = "is_local_domain('', rcpt_domain)", then = "'local'" },
            { if = "rcpt_domain == 'relay.example'", then = "'relay'" },
            { if = "rcpt_domain == 'store.example'", then = "'store'" },
            { else = false }]
tls.mta-sts = "disable"
tls.dane = "disable"
[queue.outbound.timeouts]
connect = "30s"
greeting = "30s"
command = "30s"
data = "30s"
[queue.schedule]
retry = ["1m", "2m", "5m"]
expire = "2h"
[resolver]
timeout = "5s"
)toml" + directory_toml(profile);
}

void draw_variety(Prng prng, const Profile& profile, std::vector<ClientPlan>& plans) {
  const bool remote = profile.directory != DirectoryKind::memory;
  for (auto& plan : plans) {
    plan.login = remote ? plan.user + "@" + std::string(kLocalDomain) : plan.user;
    const bool tls = plan.kind == ClientKind::submission || prng.below(3) == 0;
    plan.starttls = tls;
    plan.tls_fail = tls && chance(prng, profile.client_tls_fail);
    plan.chunking = prng.below(3) == 0;
    plan.chunk_seed = static_cast<std::uint32_t>(prng.next());
    plan.duplicate_rcpts = prng.below(8) == 0;
    plan.slow_ms = prng.below(10) == 0 ? static_cast<std::uint32_t>(20 + prng.below(380)) : 0;
    if (profile.directory != DirectoryKind::imap) continue;
    for (auto& message : plan.messages) {
      for (auto& truth : message.truths)
        if (truth == RcptTruth::unknown_user) truth = RcptTruth::accept;
    }
  }
}

std::vector<ClientPlan> draw_workload(Prng prng, Ledger& ledger, std::size_t messages) {
  std::vector<ClientPlan> plans;
  std::size_t made = 0;
  while (made < messages) {
    ClientPlan plan;
    const std::uint64_t roll = prng.below(100);
    plan.kind = roll < 45   ? ClientKind::smtp
                : roll < 80 ? ClientKind::submission
                            : ClientKind::lmtp;
    plan.start =
        runtime::Duration::milliseconds(static_cast<std::int64_t>(prng.below(kWorkloadSpanMs)));
    plan.ip = "198.51.100." + std::to_string(1 + plans.size() % 200);
    plan.user = "u" + std::to_string(prng.below(kUsers));
    const std::string sender = plan.kind == ClientKind::submission
                                   ? plan.user + "@example.org"
                                   : "s" + std::to_string(prng.below(4)) + "@far.example";
    const std::uint64_t count = std::min<std::uint64_t>(1 + prng.below(3), messages - made);
    for (std::uint64_t i = 0; i < count; ++i)
      plan.messages.push_back(draw_message(prng, ledger, plan.kind, sender));
    made += count;
    plans.push_back(std::move(plan));
  }
  std::stable_sort(plans.begin(), plans.end(), [](const ClientPlan& a, const ClientPlan& b) {
    return a.start.ns < b.start.ns;
  });
  return plans;
}

}  // namespace tern::adapters::sim::world
