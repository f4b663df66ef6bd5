// The MX resolution of RFC 5321 §5.1 and RFC 7505 over the simulated DNS.
#include "runtime/outbound/mx_resolver.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"

namespace tern::runtime::outbound {
namespace {

using adapters::sim::SimIo;

struct Outcome {
  std::vector<std::string> targets;  // "name ip"
  std::optional<ResolveFailure> failure;
};

Outcome resolve(SimIo& io, const std::string& domain, MxOptions options = {},
                bool addresses_only = false) {
  Outcome out;
  bool answered = false;
  Resolver resolver = addresses_only ? host_resolver(io, options) : mx_resolver(io, options);
  resolver(domain, [&](ResolveResult result) {
    EXPECT_FALSE(answered) << "answered twice";
    answered = true;
    if (!result) {
      out.failure = result.error();
      return;
    }
    for (const auto& t : *result) {
      EXPECT_EQ(t.endpoint.port, 25);
      out.targets.push_back(t.name + " " + t.endpoint.ip);
    }
  });
  io.run_until_idle();
  EXPECT_TRUE(answered);
  return out;
}

TEST(MxResolver, PreferenceOrderThenAddressesIpv4First) {
  SimIo io(1);
  io.dns_mx("example.org", {{20, "mx2.example.org"}, {10, "mx1.example.org"}});
  io.dns_addresses("mx1.example.org", {"192.0.2.1", "2001:db8::1"});
  io.dns_addresses("mx2.example.org", {"2001:db8::2", "192.0.2.2"});
  const auto out = resolve(io, "example.org");
  ASSERT_FALSE(out.failure);
  EXPECT_EQ(out.targets,
            (std::vector<std::string>{"mx1.example.org 192.0.2.1", "mx1.example.org 2001:db8::1",
                                      "mx2.example.org 192.0.2.2", "mx2.example.org 2001:db8::2"}));
}

TEST(MxResolver, EqualPreferencesAreTriedInARandomOrder) {
  std::set<std::string> firsts;
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    SimIo io(seed);
    io.dns_mx("example.org", {{10, "a.example.org"},
                              {10, "b.example.org"},
                              {10, "c.example.org"},
                              {5, "best.example.org"}});
    for (const char* h : {"a", "b", "c", "best"})
      io.dns_addresses(std::string(h) + ".example.org", {"192.0.2.9"});
    const auto out = resolve(io, "example.org");
    ASSERT_EQ(out.targets.size(), 4u);
    EXPECT_EQ(out.targets[0], "best.example.org 192.0.2.9");  // never shuffled past its rank
    firsts.insert(out.targets[1]);
  }
  EXPECT_EQ(firsts.size(), 3u) << "each of the three equal MX hosts comes first for some seed";
}

TEST(MxResolver, LimitsMxAndAddressesPerHostAtNAndNPlusOne) {
  SimIo io(1);
  io.dns_mx("example.org", {{1, "m1.example.org"}, {2, "m2.example.org"}, {3, "m3.example.org"}});
  for (const char* h : {"m1", "m2", "m3"})
    io.dns_addresses(std::string(h) + ".example.org", {"192.0.2.1", "192.0.2.2", "192.0.2.3"});
  MxOptions options;
  options.mx_max = 2;
  options.addresses_per_host_max = 2;
  auto out = resolve(io, "example.org", options);
  EXPECT_EQ(out.targets,
            (std::vector<std::string>{"m1.example.org 192.0.2.1", "m1.example.org 192.0.2.2",
                                      "m2.example.org 192.0.2.1", "m2.example.org 192.0.2.2"}));
  options.mx_max = 3;
  options.addresses_per_host_max = 3;
  out = resolve(io, "example.org", options);
  EXPECT_EQ(out.targets.size(), 9u);
}

TEST(MxResolver, NoMxMeansTheDomainItselfIsTheImplicitMx) {
  SimIo io(1);
  io.dns_addresses("example.org", {"192.0.2.7"});  // A and AAAA records, no MX: NODATA
  const auto out = resolve(io, "example.org");
  EXPECT_EQ(out.targets, std::vector<std::string>{"example.org 192.0.2.7"});
}

TEST(MxResolver, ANullMxFailsPermanentlyWithoutAnyAddressLookup) {
  SimIo io(1);
  io.dns_mx("nomail.example", {{0, ""}});
  const auto out = resolve(io, "nomail.example");
  ASSERT_TRUE(out.failure);
  EXPECT_TRUE(out.failure->permanent);
  EXPECT_EQ(out.failure->detail,
            "556 5.1.10 the domain nomail.example accepts no mail (null MX, RFC 7505)");
  EXPECT_EQ(io.dns_queries(), 1u);
}

TEST(MxResolver, ANullMxAmongOtherRecordsIsIgnored) {
  SimIo io(1);
  io.dns_mx("odd.example", {{0, ""}, {10, "mx.odd.example"}});
  io.dns_addresses("mx.odd.example", {"192.0.2.4"});
  const auto out = resolve(io, "odd.example");
  EXPECT_EQ(out.targets, std::vector<std::string>{"mx.odd.example 192.0.2.4"});
}

TEST(MxResolver, NxdomainIsPermanentButDnsFailuresAreTemporary) {
  SimIo io(1);
  auto out = resolve(io, "nowhere.example");
  ASSERT_TRUE(out.failure);
  EXPECT_TRUE(out.failure->permanent);
  EXPECT_EQ(out.failure->detail, "550 5.1.2 the domain nowhere.example does not exist (NXDOMAIN)");

  io.dns_fail("broken.example", DnsType::mx, IoErrc::dns_failed);
  out = resolve(io, "broken.example");
  ASSERT_TRUE(out.failure);
  EXPECT_FALSE(out.failure->permanent);
  EXPECT_EQ(out.failure->detail,
            "MX lookup for broken.example failed: DNS broken.example: SERVFAIL");

  io.dns_fail("slow.example", DnsType::mx, IoErrc::timeout);
  MxOptions options;
  options.query_timeout = Duration::seconds(3);
  const Instant before = io.now();
  out = resolve(io, "slow.example", options);
  ASSERT_TRUE(out.failure);
  EXPECT_FALSE(out.failure->permanent);
  EXPECT_EQ((io.now() - before).ns, Duration::seconds(3).ns);
}

TEST(MxResolver, HostsWithoutAddressesAreSkippedAndNoneLeftIsTemporary) {
  SimIo io(1);
  io.dns_mx("example.org", {{10, "gone.example.org"}, {20, "ok.example.org"}});
  io.dns_addresses("ok.example.org", {"192.0.2.8"});
  auto out = resolve(io, "example.org");
  EXPECT_EQ(out.targets, std::vector<std::string>{"ok.example.org 192.0.2.8"});

  io.dns_clear("ok.example.org");
  out = resolve(io, "example.org");
  ASSERT_TRUE(out.failure);
  EXPECT_FALSE(out.failure->permanent);
  EXPECT_EQ(out.failure->detail,
            "no MX host of example.org has an address (gone.example.org has no A or AAAA record)");
}

TEST(MxResolver, WeNeverSendToOurselvesOrAWorseMx) {
  SimIo io(1);
  io.dns_mx("example.org",
            {{10, "primary.example.org"}, {20, "us.example.org"}, {30, "worse.example.org"}});
  for (const char* h : {"primary", "us", "worse"})
    io.dns_addresses(std::string(h) + ".example.org", {"192.0.2.1"});
  MxOptions options;
  options.self_hostname = "us.example.org";
  auto out = resolve(io, "example.org", options);
  EXPECT_EQ(out.targets, std::vector<std::string>{"primary.example.org 192.0.2.1"});

  io.dns_mx("example.org", {{10, "us.example.org"}, {20, "worse.example.org"}});
  out = resolve(io, "example.org", options);
  ASSERT_TRUE(out.failure);
  EXPECT_TRUE(out.failure->permanent);
  EXPECT_EQ(out.failure->detail.substr(0, 10), "550 5.4.6 ");
}

TEST(MxResolver, AddressLiteralsNeedNoDns) {
  SimIo io(1);
  auto out = resolve(io, "[192.0.2.5]");
  EXPECT_EQ(out.targets, std::vector<std::string>{"192.0.2.5 192.0.2.5"});
  out = resolve(io, "[IPv6:2001:db8::5]");
  EXPECT_EQ(out.targets, std::vector<std::string>{"2001:db8::5 2001:db8::5"});
  EXPECT_EQ(io.dns_queries(), 0u);
}

TEST(HostResolver, NamesResolveToAddressesAndFailuresAreTemporary) {
  SimIo io(1);
  io.dns_addresses("relay.example.org", {"192.0.2.30", "2001:db8::30"});
  auto out = resolve(io, "relay.example.org", {}, true);
  EXPECT_EQ(out.targets, (std::vector<std::string>{"relay.example.org 192.0.2.30",
                                                   "relay.example.org 2001:db8::30"}));
  out = resolve(io, "192.0.2.31", {}, true);
  EXPECT_EQ(out.targets, std::vector<std::string>{"192.0.2.31 192.0.2.31"});
  out = resolve(io, "localhost", {}, true);
  EXPECT_EQ(out.targets, std::vector<std::string>{"localhost 127.0.0.1"});
  out = resolve(io, "nx.example.org", {}, true);
  ASSERT_TRUE(out.failure);
  EXPECT_FALSE(out.failure->permanent) << "a remote that does not resolve is our config's fault";
}

}  // namespace
}  // namespace tern::runtime::outbound
