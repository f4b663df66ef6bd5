// AsioIo::dns_query through libunbound: one ub_ctx per AsioIo, its result pipe (ub_fd)
// watched by Asio, one steady_timer per query. See asio_io.hpp for the contract.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <unbound.h>

#include "adapters/asio/asio_io.hpp"

namespace tern::adapters::asio {

namespace net = boost::asio;
using runtime::DnsAnswer;
using runtime::DnsType;
using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoResult;

namespace {

constexpr std::size_t kNameTextBytesMax = 253;  // 255 wire bytes
constexpr int kClassIn = 1;
constexpr int kRcodeNoError = 0;
constexpr int kRcodeNxDomain = 3;

std::string type_text(DnsType type) {
  switch (type) {
    case DnsType::a: return "A";
    case DnsType::mx: return "MX";
    case DnsType::txt: return "TXT";
    case DnsType::aaaa: return "AAAA";
    case DnsType::tlsa: return "TLSA";
  }
  return "TYPE" + std::to_string(static_cast<unsigned>(type));
}

std::string rcode_text(int rcode) {
  switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "rcode " + std::to_string(rcode);
  }
}

// The contract wants an absolute name without its final dot; anything else would be read
// by libunbound as something else (a relative name, a truncated C string).
bool good_name(const std::string& name) {
  return !name.empty() && name.size() <= kNameTextBytesMax && name.back() != '.' &&
         name.find('\0') == std::string::npos;
}

std::string forwarder_text(const runtime::Endpoint& endpoint) {
  return endpoint.ip + "@" + std::to_string(endpoint.port == 0 ? 53 : endpoint.port);
}

struct UbCtxDelete {
  void operator()(ub_ctx* ctx) const { ub_ctx_delete(ctx); }
};
using UbCtxPtr = std::unique_ptr<ub_ctx, UbCtxDelete>;

// Applies the options to a fresh context; the error names what failed.
std::optional<std::string> configure(ub_ctx* ctx, const ResolverOptions& options) {
  const auto check = [](int err, const std::string& what) -> std::optional<std::string> {
    if (err == 0) return std::nullopt;
    return what + ": " + ub_strerror(err);
  };
  // Threads, not the default fork(): the process already runs a disk pool.
  if (auto e = check(ub_ctx_async(ctx, 1), "async")) return e;
  // A local stub (127.0.0.53, a test server) is the usual forwarder: allow it.
  if (auto e = check(ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"), "option")) return e;
  using Mode = ResolverOptions::Mode;
  if (options.mode == Mode::system) {
    if (auto e = check(ub_ctx_resolvconf(ctx, options.resolv_conf.c_str()),
                       "resolv.conf " + options.resolv_conf))
      return e;
    if (!options.hosts_file.empty()) {
      if (auto e = check(ub_ctx_hosts(ctx, options.hosts_file.c_str()),
                         "hosts file " + options.hosts_file))
        return e;
    }
  } else if (options.mode == Mode::custom) {
    if (options.forwarders.empty()) return std::string("custom resolver without forwarders");
    for (const auto& forwarder : options.forwarders) {
      if (auto e = check(ub_ctx_set_fwd(ctx, forwarder_text(forwarder).c_str()),
                         "forwarder " + forwarder.text()))
        return e;
    }
    // libunbound answers the special-use names of RFC 6761/8375 itself (NXDOMAIN): with
    // chosen name servers, every question goes to them, as resolver.custom promises (a
    // site's own .test or home.arpa zone, a test bed's local unbound).
    for (const char* zone :
         {"test. transparent", "invalid. transparent", "home.arpa. transparent"}) {
      if (auto e = check(ub_ctx_set_option(ctx, "local-zone:", zone), "local-zone")) return e;
    }
  }
  if (!options.trust_anchor_file.empty()) {
    if (auto e = check(ub_ctx_add_ta_file(ctx, options.trust_anchor_file.c_str()),
                       "trust anchor " + options.trust_anchor_file))
      return e;
  }
  return std::nullopt;
}

}  // namespace

struct AsioIo::Dns : std::enable_shared_from_this<AsioIo::Dns> {
  // What libunbound's callback receives: it finds the query by id, so a query that timed
  // out (and was cancelled) is never touched through a stale pointer.
  struct Tag {
    Dns* dns = nullptr;
    std::uint64_t id = 0;
  };
  struct Query {
    Query(net::io_context& context, std::string n, DnsType t)
        : timer(context), name(std::move(n)), type(t) {}
    net::steady_timer timer;
    std::string name;
    DnsType type;
    DnsHandler on_done;  // null once answered (kept only to absorb a late callback)
    int async_id = 0;
    std::int64_t timeout_ms = 0;
    std::unique_ptr<Tag> tag;
  };
  using Ready = std::pair<DnsHandler, IoResult<DnsAnswer>>;

  Dns(net::io_context& c, const ResolverOptions& options) : context(c), pipe(c) {
    if (options.dns_queries_max == 0) {
      setup_error = "dns_queries_max is 0";
      return;
    }
    queries_max = options.dns_queries_max;
    ctx.reset(ub_ctx_create());
    if (!ctx) {
      setup_error = "ub_ctx_create failed";
      return;
    }
    if (auto e = configure(ctx.get(), options)) {
      setup_error = *e;
      ctx.reset();
      return;
    }
    boost::system::error_code ec;
    pipe.assign(ub_fd(ctx.get()), ec);
    if (ec) {
      setup_error = "ub_fd: " + ec.message();
      ctx.reset();
    }
  }

  ~Dns() {
    // The descriptor belongs to libunbound: give it back before ub_ctx_delete closes it.
    if (pipe.is_open()) pipe.release();
    for (auto& [id, query] : queries) query->timer.cancel();
    ctx.reset();  // joins libunbound's thread; no callback runs after this
  }

  void start(std::string name, DnsType type, runtime::Duration timeout, DnsHandler on_done);
  void watch_pipe();
  void on_pipe_ready();
  void on_timeout(std::uint64_t id);
  static void on_result(void* data, int err, ub_result* result);
  IoResult<DnsAnswer> answer_of(const Query& query, int err, ub_result* result) const;
  void fail_soon(DnsHandler on_done, IoErrc code, std::string detail);

  net::io_context& context;
  net::posix::stream_descriptor pipe;
  UbCtxPtr ctx;
  std::string setup_error;  // non-empty: every query fails with it
  std::size_t queries_max = 0;
  std::map<std::uint64_t, std::unique_ptr<Query>> queries;
  std::uint64_t next_id = 1;
  bool watching = false;
  std::vector<Ready> ready;  // filled by on_result during ub_process
};

void AsioIo::Dns::fail_soon(DnsHandler on_done, IoErrc code, std::string detail) {
  std::weak_ptr<Dns> weak = weak_from_this();
  net::post(context, [weak, on_done = std::move(on_done), code, detail = std::move(detail)] {
    if (weak.expired()) return;  // ~AsioIo ran: no callback afterwards
    on_done(io_failure(code, detail));
  });
}

void AsioIo::Dns::start(std::string name, DnsType type, runtime::Duration timeout,
                        DnsHandler on_done) {
  const std::string what = type_text(type) + " " + name;
  if (!good_name(name))
    return fail_soon(std::move(on_done), IoErrc::dns_failed, what + ": bad name");
  if (!ctx) return fail_soon(std::move(on_done), IoErrc::dns_failed, "resolver: " + setup_error);
  if (queries.size() >= queries_max)
    return fail_soon(std::move(on_done), IoErrc::dns_failed, what + ": too many queries in flight");
  const std::uint64_t id = next_id++;
  auto query = std::make_unique<Query>(context, std::move(name), type);
  query->tag = std::make_unique<Tag>(Tag{this, id});
  const int err = ub_resolve_async(ctx.get(), query->name.c_str(), static_cast<int>(type), kClassIn,
                                   query->tag.get(), &Dns::on_result, &query->async_id);
  if (err != 0)
    return fail_soon(std::move(on_done), IoErrc::dns_failed, what + ": " + ub_strerror(err));
  query->on_done = std::move(on_done);
  query->timeout_ms = timeout.ns / 1'000'000;
  query->timer.expires_after(std::chrono::nanoseconds(std::max<std::int64_t>(timeout.ns, 0)));
  std::weak_ptr<Dns> weak = weak_from_this();
  query->timer.async_wait([weak, id](const boost::system::error_code& ec) {
    const auto self = weak.lock();
    if (ec || !self) return;
    self->on_timeout(id);
  });
  queries.emplace(id, std::move(query));
  watch_pipe();
}

void AsioIo::Dns::watch_pipe() {
  if (watching) return;
  watching = true;
  std::weak_ptr<Dns> weak = weak_from_this();
  pipe.async_wait(net::posix::stream_descriptor::wait_read,
                  [weak](const boost::system::error_code& ec) {
                    const auto self = weak.lock();
                    if (!self) return;
                    self->watching = false;
                    if (!ec) return self->on_pipe_ready();
                    // Cancelled while idle; a query started since then needs the watch.
                    if (!self->queries.empty()) self->watch_pipe();
                  });
}

void AsioIo::Dns::on_pipe_ready() {
  // Results are gathered during ub_process and handed over after it returns, so a handler
  // may start a query or destroy the AsioIo without running inside libunbound.
  ub_process(ctx.get());
  std::vector<Ready> batch;
  batch.swap(ready);
  if (!queries.empty()) watch_pipe();
  std::weak_ptr<Dns> weak = weak_from_this();
  for (auto& [handler, result] : batch) {
    if (weak.expired()) return;
    handler(std::move(result));
  }
}

void AsioIo::Dns::on_timeout(std::uint64_t id) {
  const auto it = queries.find(id);
  if (it == queries.end() || !it->second->on_done) return;
  Query& query = *it->second;
  auto handler = std::move(query.on_done);
  query.on_done = nullptr;
  const std::string detail = type_text(query.type) + " " + query.name + ": no answer within " +
                             std::to_string(query.timeout_ms) + " ms";
  // A query that libunbound already finished but ub_process has not read yet cannot be
  // cancelled: its entry stays so that the late callback finds it and drops the result.
  if (ub_cancel(ctx.get(), query.async_id) == 0) queries.erase(it);
  // An idle resolver must not keep io_context::run() busy.
  if (queries.empty() && watching) pipe.cancel();
  handler(io_failure(IoErrc::timeout, detail));
}

void AsioIo::Dns::on_result(void* data, int err, ub_result* result) {
  const auto* tag = static_cast<Tag*>(data);
  Dns& dns = *tag->dns;
  const auto it = dns.queries.find(tag->id);
  if (it == dns.queries.end()) {  // cannot happen: cancelled queries get no callback
    if (result) ub_resolve_free(result);
    return;
  }
  Query& query = *it->second;
  if (query.on_done) {
    query.timer.cancel();
    dns.ready.emplace_back(std::move(query.on_done), dns.answer_of(query, err, result));
  }
  if (result) ub_resolve_free(result);
  dns.queries.erase(it);
}

IoResult<DnsAnswer> AsioIo::Dns::answer_of(const Query& query, int err, ub_result* result) const {
  const std::string what = type_text(query.type) + " " + query.name + ": ";
  if (err != 0 || !result) {
    return io_failure(IoErrc::dns_failed, what + (err != 0 ? ub_strerror(err) : "no result"));
  }
  if (result->bogus) {
    return io_failure(IoErrc::dns_failed, what + "DNSSEC bogus: " +
                                              (result->why_bogus ? result->why_bogus : "unknown"));
  }
  DnsAnswer answer;
  if (result->rcode == kRcodeNxDomain) {
    answer.nxdomain = true;
    answer.secure = result->secure != 0;
    return answer;
  }
  if (result->rcode != kRcodeNoError)
    return io_failure(IoErrc::dns_failed, what + rcode_text(result->rcode));
  answer.secure = result->secure != 0;
  for (int i = 0; result->havedata && result->data && result->data[i]; ++i) {
    answer.rdata.emplace_back(result->data[i], static_cast<std::size_t>(result->len[i]));
  }
  if (result->canonname) {
    answer.canonical_name = result->canonname;
    if (!answer.canonical_name.empty() && answer.canonical_name.back() == '.')
      answer.canonical_name.pop_back();
  }
  return answer;
}

void AsioIo::dns_query(std::string name, DnsType type, runtime::Duration timeout,
                       DnsHandler on_done) {
  if (!dns_) dns_ = std::make_shared<Dns>(context_, options_.resolver);
  dns_->start(std::move(name), type, timeout, std::move(on_done));
}

}  // namespace tern::adapters::asio
