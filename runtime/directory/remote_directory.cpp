// The shared half of the remote directories. Jobs are the unit of accounting: each has a
// deadline timer from its arrival, and answering one forgets it, so a late event from a
// connection can never answer twice.
#include "runtime/directory/remote_directory.hpp"

#include <algorithm>
#include <utility>

#include <openssl/evp.h>

#include "protocol/smtp/address.hpp"
#include "runtime/outbound/mx_resolver.hpp"

namespace tern::runtime::directory {
namespace {

bool is_ipv4(std::string_view text) {
  int parts = 0;
  std::size_t at = 0;
  while (true) {
    std::size_t digits = 0;
    unsigned value = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9' && digits < 4) {
      value = value * 10 + static_cast<unsigned>(text[at] - '0');
      ++at;
      ++digits;
    }
    if (digits == 0 || digits > 3 || value > 255) return false;
    if (++parts == 4) return at == text.size();
    if (at >= text.size() || text[at] != '.') return false;
    ++at;
  }
}

bool is_hex_group(std::string_view group) {
  if (group.empty() || group.size() > 4) return false;
  return std::all_of(group.begin(), group.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Groups of one side of "::" (or the whole address); a dotted quad may end the last side.
bool ipv6_side(std::string_view side, bool last, int& groups) {
  if (side.empty()) return true;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = side.find(':', start);
    const std::string_view group = side.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    if (colon == std::string_view::npos && last && group.find('.') != std::string_view::npos) {
      if (!is_ipv4(group)) return false;
      groups += 2;
      return true;
    }
    if (!is_hex_group(group)) return false;
    ++groups;
    if (colon == std::string_view::npos) return true;
    start = colon + 1;
  }
}

bool is_ipv6(std::string_view text) {
  if (text.size() < 2 || text.size() > 45) return false;
  const std::size_t gap = text.find("::");
  int groups = 0;
  if (gap == std::string_view::npos) {
    return ipv6_side(text, true, groups) && groups == 8;
  }
  if (text.find("::", gap + 1) != std::string_view::npos) return false;
  return ipv6_side(text.substr(0, gap), false, groups) &&
         ipv6_side(text.substr(gap + 2), true, groups) && groups <= 7;
}

std::string_view strip_brackets(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

bool same_ascii_case_insensitive(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lower(a) == ascii_lower(b);
}

std::optional<Digest> sha256(std::string_view domain, std::string_view a, std::string_view b) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return std::nullopt;
  // The length of `a` first, so that ("ab", "c") and ("a", "bc") never share a key.
  const std::uint64_t length = a.size();
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(length >> (8 * i));
  Digest out{};
  unsigned int size = 0;
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, domain.data(), domain.size()) == 1 &&
                  EVP_DigestUpdate(ctx, prefix, sizeof prefix) == 1 &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
                  EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &size) == 1 && size == out.size();
  EVP_MD_CTX_free(ctx);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// RFC 5321's Domain (RFC 1123 host names: labels of letters, digits and inner hyphens, 63
// bytes each) from the SMTP grammar; a dotted quad is an address, not a name.
bool is_host_name(std::string_view text) {
  return !is_ipv4(text) && protocol::smtp::parse_domain(text, {}).has_value();
}

bool is_ip_literal(std::string_view text) {
  const std::string_view bare = strip_brackets(text);
  if (bare.size() != text.size()) return is_ipv6(bare);  // brackets are for IPv6 only
  return is_ipv4(text) || is_ipv6(text);
}

// ---- AuthCache -----------------------------------------------------------------------

template <class Value>
Value* AuthCache::Table<Value>::find(const Digest& key, Instant now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (it->second.value.expires <= now) {
    order_.erase(it->second.age);
    entries_.erase(it);
    return nullptr;
  }
  return &it->second.value;
}

template <class Value>
void AuthCache::Table<Value>::put(const Digest& key, Value value, std::size_t entries_max) {
  erase(key);  // a refreshed entry becomes the newest
  if (entries_max == 0) return;
  while (entries_.size() >= entries_max) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  entries_.emplace(key, Slot{std::move(value), std::prev(order_.end())});
}

template <class Value>
void AuthCache::Table<Value>::erase(const Digest& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  order_.erase(it->second.age);
  entries_.erase(it);
}

AuthCache::AuthCache(Duration positive_ttl, Duration negative_ttl, std::size_t entries_max,
                     std::uint32_t auth_errors_max)
    : positive_ttl_(positive_ttl),
      negative_ttl_(negative_ttl),
      entries_max_(entries_max),
      auth_errors_max_(auth_errors_max) {}

std::optional<AuthCache::Keys> AuthCache::keys_for(std::string_view user,
                                                   std::string_view password) {
  auto credentials = sha256("tern-auth-credentials", user, password);
  auto user_key = sha256("tern-auth-user", user, "");
  if (!credentials || !user_key) return std::nullopt;
  return Keys{*credentials, *user_key};
}

AuthCache::Found AuthCache::lookup(const Keys& keys, Instant now) {
  if (const Good* good = good_.find(keys.credentials, now)) {
    return {Hit::authenticated,
            AuthOutcome{AuthStatus::authenticated, good->principal, good->addresses, "cached"}};
  }
  if (const Failures* f = failures_.find(keys.user, now);
      f != nullptr && auth_errors_max_ > 0 && f->count >= auth_errors_max_) {
    return {Hit::locked_out,
            AuthOutcome{AuthStatus::rejected, {}, {}, "too many authentication failures"}};
  }
  if (bad_.find(keys.credentials, now) != nullptr) {
    return {Hit::rejected, AuthOutcome{AuthStatus::rejected, {}, {}, "cached rejection"}};
  }
  return {};
}

void AuthCache::record(const Keys& keys, const AuthOutcome& outcome, Instant now) {
  switch (outcome.status) {
    case AuthStatus::authenticated:
      failures_.erase(keys.user);
      bad_.erase(keys.credentials);
      good_.put(keys.credentials, Good{now + positive_ttl_, outcome.principal, outcome.addresses},
                entries_max_);
      return;
    case AuthStatus::rejected: {
      std::uint32_t count = 1;
      if (const Failures* f = failures_.find(keys.user, now)) count = f->count + 1;
      failures_.put(keys.user, Failures{now + negative_ttl_, count}, entries_max_);
      good_.erase(keys.credentials);
      bad_.put(keys.credentials, Bad{now + negative_ttl_}, entries_max_);
      return;
    }
    case AuthStatus::unavailable: return;  // says nothing about the credentials
  }
}

std::size_t AuthCache::size() const {
  return good_.size() + bad_.size() + failures_.size();
}

// ---- RemoteDirectory -----------------------------------------------------------------

RemoteDirectory::RemoteDirectory(Io& io, RemoteDirectorySettings settings)
    : io_(io),
      settings_(std::move(settings)),
      cache_(settings_.cache_positive_ttl, settings_.cache_negative_ttl,
             settings_.cache_entries_max, settings_.limits_auth_errors) {
  if (settings_.port == 0) {
    last_failure_ = "remote directory: no port configured";
  } else if (is_ip_literal(settings_.address)) {
    endpoint_ = Endpoint{std::string(strip_brackets(settings_.address)), settings_.port};
  } else if (is_host_name(settings_.address)) {
    host_name_ = true;
    outbound::MxOptions options;
    options.addresses_per_host_max = 1;
    options.query_timeout = settings_.timeout;
    resolver_ = outbound::host_resolver(io_, options);
  } else {
    last_failure_ = "remote directory: address '" + settings_.address.substr(0, 255) +
                    "' is neither an IP address nor a host name";
  }
}

bool RemoteDirectory::endpoint_ready() {
  if (!host_name_) return true;
  const bool fresh = endpoint_ && io_.now() < endpoint_expires_;
  if (!fresh && !resolving_) {
    resolving_ = true;
    // The resolver may answer inside the call: the answer is handled on a later turn.
    resolver_(settings_.address,
              [this, alive = std::weak_ptr<int>(alive_)](outbound::ResolveResult result) {
                io_.post([this, alive, result = std::move(result)]() mutable {
                  if (!alive.expired()) on_resolved(std::move(result));
                });
              });
  }
  return endpoint_.has_value();  // a stale answer serves while the new one comes
}

void RemoteDirectory::on_resolved(outbound::ResolveResult result) {
  resolving_ = false;
  if (result && !result->empty()) {
    endpoint_ = Endpoint{result->front().endpoint.ip, settings_.port};
    endpoint_expires_ = io_.now() + kHostNameTtl;
    dispatch();
    return;
  }
  const std::string cause = result ? "no address" : result.error().detail;
  note_failure("remote directory: cannot resolve '" + settings_.address.substr(0, 255) +
               "': " + cause);
  if (endpoint_) {  // keep the last answer; ask again soon
    endpoint_expires_ = io_.now() + kHostNameRetry;
    dispatch();
    return;
  }
  const std::string detail = last_failure_;
  for (const JobPtr& job : std::exchange(queue_, {})) fail(job, detail);
}

RemoteDirectory::~RemoteDirectory() {
  for (auto& [id, job] : jobs_) {
    if (job->timer) io_.cancel_timer(*job->timer);
  }
}

void RemoteDirectory::authenticate(std::string_view user, std::string_view password,
                                   std::function<void(AuthOutcome)> on_done) {
  JobPtr job = add_job(true);
  job->on_auth = std::move(on_done);
  job->user = std::string(user);
  auto keys = AuthCache::keys_for(user, password);
  if (!keys) return finish_auth(job, {AuthStatus::unavailable, {}, {}, "hash unavailable"});
  job->keys = *keys;
  const AuthCache::Found found = cache_.lookup(job->keys, io_.now());
  // A cached answer is not news: recording it again would stretch its TTL (a password
  // changed upstream must take effect) and count a lockout's answers as new failures.
  if (found.hit != AuthCache::Hit::none) return finish_auth(job, found.outcome, false);
  if (!endpoint_ && !host_name_) {
    return finish_auth(job, {AuthStatus::unavailable, {}, {}, "bad address"});
  }
  job->password = std::string(password);
  if (queue_.size() >= settings_.queue_max) {
    note_failure("remote directory: request queue full");
    return finish_auth(job, {AuthStatus::unavailable, {}, {}, "queue full"});
  }
  queue_.push_back(job);
  dispatch();
}

void RemoteDirectory::enqueue_rcpt(std::string_view address,
                                   std::function<void(RecipientOutcome)> on_done) {
  JobPtr job = add_job(false);
  job->on_rcpt = std::move(on_done);
  job->address = std::string(address);
  if (!endpoint_ && !host_name_) return finish_rcpt(job, {RecipientStatus::unavailable, {}});
  if (queue_.size() >= settings_.queue_max) {
    note_failure("remote directory: request queue full");
    return finish_rcpt(job, {RecipientStatus::unavailable, {}});
  }
  queue_.push_back(job);
  dispatch();
}

RemoteDirectory::JobPtr RemoteDirectory::add_job(bool auth) {
  auto job = std::make_shared<Job>();
  job->id = next_id_++;
  job->auth = auth;
  job->timer =
      io_.start_timer(io_.now() + settings_.timeout, [this, id = job->id] { on_deadline(id); });
  jobs_.emplace(job->id, job);
  return job;
}

void RemoteDirectory::on_deadline(std::uint64_t id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  JobPtr job = it->second;
  job->timer.reset();
  std::erase(queue_, job);
  auto abort = std::move(job->abort);
  fail(job, "remote directory: no answer within the timeout");
  if (abort) abort();  // after the answer, so the dropped connection cannot answer again
}

// try_start can make a connection's machine report at once (a probe answered from
// replies it already held), which frees capacity and asks for dispatch again: that inner
// request only marks the outer loop to go round once more.
void RemoteDirectory::dispatch() {
  if (dispatching_) {
    redispatch_ = true;
    return;
  }
  if (!endpoint_ready()) return;  // on_resolved dispatches
  dispatching_ = true;
  do {
    redispatch_ = false;
    while (!queue_.empty()) {
      JobPtr job = queue_.front();
      if (!try_start(job)) break;
      std::erase(queue_, job);
    }
  } while (redispatch_);
  dispatching_ = false;
}

void RemoteDirectory::answer(const JobPtr& job) {
  if (job->timer) io_.cancel_timer(*job->timer);
  job->timer.reset();
  job->abort = nullptr;
  job->password.clear();
  jobs_.erase(job->id);
}

void RemoteDirectory::finish_auth(const JobPtr& job, AuthOutcome outcome, bool from_server) {
  if (answered(job)) return;
  answer(job);
  if (from_server) cache_.record(job->keys, outcome, io_.now());
  io_.post([alive = std::weak_ptr<int>(alive_), on_done = std::move(job->on_auth),
            outcome = std::move(outcome)] {
    if (!alive.expired()) on_done(outcome);
  });
}

void RemoteDirectory::finish_rcpt(const JobPtr& job, RecipientOutcome outcome) {
  if (answered(job)) return;
  answer(job);
  post_rcpt(std::move(job->on_rcpt), std::move(outcome));
}

void RemoteDirectory::fail(const JobPtr& job, std::string detail) {
  if (answered(job)) return;
  note_failure(std::move(detail));
  if (job->auth) {
    // The cause goes to the session's log ("AUTH PLAIN failed: ..."); the client gets 454.
    finish_auth(job, {AuthStatus::unavailable,
                      {},
                      {},
                      "remote directory unavailable: " + last_failure_.substr(0, 200)});
  } else {
    finish_rcpt(job, {RecipientStatus::unavailable, {}});
  }
}

void RemoteDirectory::post_rcpt(std::function<void(RecipientOutcome)> on_done,
                                RecipientOutcome outcome) {
  io_.post([alive = std::weak_ptr<int>(alive_), on_done = std::move(on_done),
            outcome = std::move(outcome)] {
    if (!alive.expired()) on_done(outcome);
  });
}

void RemoteDirectory::may_send_as(std::string_view principal, std::string_view address,
                                  std::function<void(SenderOutcome)> on_done) {
  const SenderOutcome outcome{same_ascii_case_insensitive(principal, address)
                                  ? SenderStatus::allowed
                                  : SenderStatus::not_owned};
  io_.post([alive = std::weak_ptr<int>(alive_), on_done = std::move(on_done), outcome] {
    if (!alive.expired()) on_done(outcome);
  });
}

bool RemoteDirectory::is_local_domain(std::string_view domain) const {
  return std::any_of(settings_.lookup_domains.begin(), settings_.lookup_domains.end(),
                     [&](const std::string& d) { return same_ascii_case_insensitive(d, domain); });
}

bool RemoteDirectory::in_lookup_domains(std::string_view address) const {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  return is_local_domain(address.substr(at + 1));
}

LinkTls RemoteDirectory::link_tls() const {
  LinkTls tls;
  tls.mode = settings_.tls_implicit ? LinkTlsMode::implicit
             : settings_.starttls   ? LinkTlsMode::starttls
                                    : LinkTlsMode::plain;
  // The host name, or the address without IPv6 brackets: what the certificate must carry.
  tls.client = TlsClientOptions{std::string(strip_brackets(settings_.address)),
                                !settings_.allow_invalid_certs};
  return tls;
}

std::size_t RemoteDirectory::pool_max() const {
  return std::max<std::size_t>(settings_.pool_max_connections, 1);
}

}  // namespace tern::runtime::directory
