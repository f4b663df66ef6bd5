// runtime/outbound/mx_resolver.cpp — see mx_resolver.hpp for the contract.
#include "runtime/outbound/mx_resolver.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "protocol/dns/rdata.hpp"

namespace tern::runtime::outbound {
namespace {

namespace dns = protocol::dns;

ResolveResult temporary(std::string detail) {
  return protocol::Unexpected<ResolveFailure>{ResolveFailure{false, std::move(detail)}};
}
ResolveResult permanent(std::string detail) {
  return protocol::Unexpected<ResolveFailure>{ResolveFailure{true, std::move(detail)}};
}

// "[192.0.2.1]" -> "192.0.2.1", "[IPv6:2001:db8::1]" -> "2001:db8::1"; nullopt otherwise.
std::optional<std::string> literal_of(const std::string& domain) {
  if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return std::nullopt;
  std::string inner = domain.substr(1, domain.size() - 2);
  if (inner.size() > 5 && (inner.compare(0, 5, "IPv6:") == 0 || inner.compare(0, 5, "ipv6:") == 0))
    inner = inner.substr(5);
  if (inner.find(':') != std::string::npos ? !dns::encode_aaaa(inner) : !dns::encode_a(inner))
    return std::nullopt;
  return inner;
}

// "192.0.2.1" or "2001:db8::1" (a remote.<id>.address may be a bare IP).
std::optional<std::string> bare_ip(const std::string& host) {
  if (host.find(':') != std::string::npos) {
    if (dns::encode_aaaa(host)) return host;
    return std::nullopt;
  }
  if (dns::encode_a(host)) return host;
  return std::nullopt;
}

// One MX resolution: the MX question, then A and AAAA of every chosen host at once.
class MxLookup : public std::enable_shared_from_this<MxLookup> {
 public:
  MxLookup(Io& io, MxOptions options, std::string domain, bool addresses_only, ResolveHandler done)
      : io_(io),
        options_(std::move(options)),
        domain_(std::move(domain)),
        addresses_only_(addresses_only),
        done_(std::move(done)) {}

  void start() {
    if (auto ip = literal_of(domain_)) {
      return finish(std::vector<ResolvedTarget>{ResolvedTarget{Endpoint{*ip, 25}, *ip}});
    }
    if (addresses_only_) {
      if (auto ip = bare_ip(domain_)) {
        return finish(std::vector<ResolvedTarget>{ResolvedTarget{Endpoint{*ip, 25}, *ip}});
      }
      if (domain_ == "localhost") {
        return finish(
            std::vector<ResolvedTarget>{ResolvedTarget{Endpoint{"127.0.0.1", 25}, domain_}});
      }
      return resolve_hosts({domain_});
    }
    auto self = shared_from_this();
    io_.dns_query(domain_, DnsType::mx, options_.query_timeout,
                  [self](IoResult<DnsAnswer> answer) { self->on_mx(std::move(answer)); });
  }

 private:
  struct Host {
    std::string name;
    std::vector<std::string> v4, v6;
    int answers_due = 2;
    bool failed = false;  // a lookup failed (as opposed to answering "no address")
    std::string failure;
  };

  void on_mx(IoResult<DnsAnswer> answer) {
    if (!answer) {
      return finish(temporary("MX lookup for " + domain_ + " failed: " + answer.error().detail));
    }
    if (answer->nxdomain) {
      return finish(permanent("550 5.1.2 the domain " + domain_ + " does not exist (NXDOMAIN)"));
    }
    if (answer->rdata.empty()) return resolve_hosts({domain_});  // the implicit MX
    std::vector<dns::MxRecord> records;
    for (const std::string& rdata : answer->rdata) {
      if (auto record = dns::parse_mx(rdata)) records.push_back(std::move(*record));
    }
    if (records.size() == 1 && records[0].is_null() && records[0].preference == 0) {
      return finish(
          permanent("556 5.1.10 the domain " + domain_ + " accepts no mail (null MX, RFC 7505)"));
    }
    std::erase_if(records, [](const dns::MxRecord& r) { return r.exchange.empty(); });
    if (records.empty()) {
      return finish(temporary("MX lookup for " + domain_ + ": no usable MX record"));
    }
    order(records);
    if (!drop_self(records)) {
      return finish(permanent("550 5.4.6 mail for " + domain_ +
                              " loops back to myself (we are its best MX)"));
    }
    std::vector<std::string> names;
    for (const auto& record : records) {
      if (names.size() == options_.mx_max) break;
      if (std::find(names.begin(), names.end(), record.exchange) == names.end())
        names.push_back(record.exchange);
    }
    resolve_hosts(std::move(names));
  }

  // By preference; a random order among equals (Fisher-Yates inside each run).
  void order(std::vector<dns::MxRecord>& records) {
    std::stable_sort(records.begin(), records.end(),
                     [](const auto& a, const auto& b) { return a.preference < b.preference; });
    for (std::size_t start = 0; start < records.size();) {
      std::size_t end = start;
      while (end < records.size() && records[end].preference == records[start].preference) ++end;
      for (std::size_t i = end - 1; i > start; --i) {
        const std::size_t j = start + io_.random_u64() % (i - start + 1);
        std::swap(records[i], records[j]);
      }
      start = end;
    }
  }

  // False when we are the best MX; else removes us and every record not better than us.
  bool drop_self(std::vector<dns::MxRecord>& records) const {
    if (options_.self_hostname.empty()) return true;
    auto self = std::find_if(records.begin(), records.end(), [&](const dns::MxRecord& r) {
      return r.exchange == options_.self_hostname;
    });
    if (self == records.end()) return true;
    const std::uint16_t ours = self->preference;
    std::erase_if(records, [ours](const dns::MxRecord& r) { return r.preference >= ours; });
    return !records.empty();
  }

  void resolve_hosts(std::vector<std::string> names) {
    hosts_.resize(names.size());
    hosts_due_ = names.size();
    auto self = shared_from_this();
    for (std::size_t i = 0; i < names.size(); ++i) {
      hosts_[i].name = std::move(names[i]);
      for (DnsType type : {DnsType::a, DnsType::aaaa}) {
        io_.dns_query(hosts_[i].name, type, options_.query_timeout,
                      [self, i, type](IoResult<DnsAnswer> answer) {
                        self->on_address(i, type, std::move(answer));
                      });
      }
    }
  }

  void on_address(std::size_t index, DnsType type, IoResult<DnsAnswer> answer) {
    Host& host = hosts_[index];
    if (!answer) {
      host.failed = true;
      host.failure = answer.error().detail;
    } else {
      for (const std::string& rdata : answer->rdata) {
        auto ip = type == DnsType::a ? dns::parse_a(rdata) : dns::parse_aaaa(rdata);
        if (ip) (type == DnsType::a ? host.v4 : host.v6).push_back(std::move(*ip));
      }
    }
    if (--host.answers_due == 0 && --hosts_due_ == 0) assemble();
  }

  void assemble() {
    std::vector<ResolvedTarget> targets;
    std::string why;
    for (const Host& host : hosts_) {
      std::size_t taken = 0;
      for (const auto* family : {&host.v4, &host.v6}) {
        for (const std::string& ip : *family) {
          if (taken == options_.addresses_per_host_max) break;
          targets.push_back(ResolvedTarget{Endpoint{ip, 25}, host.name});
          ++taken;
        }
      }
      if (taken == 0 && why.empty()) {
        why = host.failed ? host.failure : host.name + " has no A or AAAA record";
      }
    }
    if (targets.empty()) {
      return finish(temporary(addresses_only_
                                  ? "no address for " + domain_ + " (" + why + ")"
                                  : "no MX host of " + domain_ + " has an address (" + why + ")"));
    }
    finish(std::move(targets));
  }

  void finish(ResolveResult result) {
    if (done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(std::move(result));
    }
  }

  Io& io_;
  MxOptions options_;
  std::string domain_;
  bool addresses_only_ = false;
  ResolveHandler done_;
  std::vector<Host> hosts_;
  std::size_t hosts_due_ = 0;
};

}  // namespace

Resolver mx_resolver(Io& io, MxOptions options) {
  return [&io, options](std::string domain, ResolveHandler on_done) {
    auto lookup =
        std::make_shared<MxLookup>(io, options, std::move(domain), false, std::move(on_done));
    lookup->start();
  };
}

Resolver host_resolver(Io& io, MxOptions options) {
  return [&io, options](std::string host, ResolveHandler on_done) {
    auto lookup =
        std::make_shared<MxLookup>(io, options, std::move(host), true, std::move(on_done));
    lookup->start();
  };
}

}  // namespace tern::runtime::outbound
