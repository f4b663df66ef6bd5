#include "protocol/route/router.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tern::protocol::route {
namespace {

RuleInput when(std::string condition, std::string then) {
  return RuleInput{
      std::move(condition), RuleResultInput::expression_text(std::move(then)), {"t.toml", 1, 1}};
}
RuleInput otherwise(Value value) {
  return RuleInput{
      std::nullopt, RuleResultInput::literal_value(std::move(value)), {"t.toml", 2, 1}};
}

RoutingConfig config_with(std::vector<RuleInput> inputs) {
  RulesOptions options;
  options.result_types = TypeSet(Type::string) | Type::boolean;
  RulesCompilation c =
      compile_rules(inputs, Environment::standard("queue.outbound.next-hop"), options);
  EXPECT_TRUE(c.ok());
  RoutingConfig config;
  config.next_hop = std::move(c.rules);
  RemoteHost lmtp{"lmtp", RemoteProtocol::lmtp, "localhost", 24,          TlsMode::starttls,
                  true,   "relay_server",       "123456",    std::nullopt};
  RemoteHost relay{
      "relay", RemoteProtocol::smtp, "relay.example.org", 25, TlsMode::starttls, false, {},
      {},      std::nullopt};
  config.remotes = {lmtp, relay};
  return config;
}

RouteRequest request(std::vector<std::string> rcpts) {
  RouteRequest r;
  r.envelope.sender = "Sender@Example.COM";
  r.envelope.recipients = std::move(rcpts);
  return r;
}

TEST(Router, NormalisesDomainsOnly) {
  EXPECT_EQ(normalise_address("Ann@Example.ORG.").address, "Ann@example.org");
  EXPECT_EQ(normalise_address("Ann@Example.ORG.").domain, "example.org");
  EXPECT_EQ(normalise_address("a@b@C").address, "a@b@c");
  EXPECT_EQ(normalise_address("nodomain").domain, "");
}

TEST(Router, LmtpForLocalDomainsMxForOthersGroupedInFirstSeenOrder) {
  RoutingConfig config =
      config_with({when("is_local_domain('', rcpt_domain)", "'lmtp'"), otherwise(false)});
  LookupTable lookups;
  lookups.set({LookupFunction::is_local_domain, "", "example.org"}, true);
  lookups.set({LookupFunction::is_local_domain, "", "gmail.com"}, false);
  Plan plan =
      route(request({"joe@GMAIL.com", "ann@Example.org", "bob@example.org", "amy@gmail.com"}),
            config, lookups);
  ASSERT_TRUE(plan.complete());
  ASSERT_EQ(plan.recipients.size(), 4u);
  EXPECT_EQ(plan.recipients[0].rcpt, "joe@gmail.com");
  EXPECT_EQ(plan.recipients[0].outcome, Outcome(Route(MxRoute{"gmail.com", MxTlsPolicy{}})));
  EXPECT_EQ(plan.recipients[0].rule, 1u);
  EXPECT_EQ(plan.recipients[1].outcome, Outcome(Route(RemoteRoute{config.remotes[0]})));
  EXPECT_EQ(plan.recipients[1].rule, 0u);
  ASSERT_EQ(plan.groups.size(), 2u);
  EXPECT_EQ(group_key(plan.groups[0].route), "mx:gmail.com");
  EXPECT_EQ(plan.groups[0].recipients, (std::vector<std::size_t>{0, 3}));
  EXPECT_EQ(group_key(plan.groups[1].route), "remote:lmtp");
  EXPECT_EQ(plan.groups[1].recipients, (std::vector<std::size_t>{1, 2}));
}

TEST(Router, MissingLookupsArePendingAndListedOnce) {
  RoutingConfig config =
      config_with({when("is_local_domain('', rcpt_domain)", "'local'"), otherwise(false)});
  LookupTable lookups;
  lookups.set({LookupFunction::is_local_domain, "", "a.org"}, true);
  Plan plan = route(request({"x@b.org", "y@a.org", "z@B.org"}), config, lookups);
  EXPECT_FALSE(plan.complete());
  ASSERT_EQ(plan.lookups.size(), 1u);
  EXPECT_EQ(to_string(plan.lookups[0]), "is_local_domain('', 'b.org')");
  EXPECT_TRUE(std::holds_alternative<Pending>(plan.recipients[0].outcome));
  EXPECT_EQ(plan.recipients[1].outcome, Outcome(Route(LocalRoute{})));
  EXPECT_TRUE(std::holds_alternative<Pending>(plan.recipients[2].outcome));
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].recipients, std::vector<std::size_t>{1});
}

TEST(Router, NeverGuessesARoute) {
  RoutingConfig config = config_with({when("rcpt_domain == 'computed.org'", "lowercase('RELAYY')"),
                                      when("rcpt_domain == 't.org'", "true"), otherwise(false)});
  LookupTable none;
  Plan plan =
      route(request({"a@computed.org", "b@t.org", "nodomain", "c@relay.org"}), config, none);
  ASSERT_TRUE(plan.complete());
  EXPECT_EQ(
      plan.recipients[0].outcome,
      Outcome(Unroutable{"next-hop gave 'relayy', which is neither 'local' nor a defined remote"}));
  EXPECT_EQ(
      plan.recipients[1].outcome,
      Outcome(Unroutable{"next-hop gave true; a rule must give a remote id, 'local' or false"}));
  EXPECT_EQ(plan.recipients[2].outcome,
            Outcome(Unroutable{"the address has no domain to look up MX records for"}));
  EXPECT_EQ(plan.recipients[3].outcome, Outcome(Route(MxRoute{"relay.org", MxTlsPolicy{}})));
  ASSERT_EQ(plan.groups.size(), 1u);
}

TEST(Router, NoMatchMeansMx) {
  RoutingConfig config = config_with({when("rcpt_domain == 'lmtp.org'", "'lmtp'")});
  Plan plan = route(request({"a@other.org"}), config, LookupTable{});
  EXPECT_EQ(plan.recipients[0].outcome, Outcome(Route(MxRoute{"other.org", MxTlsPolicy{}})));
  EXPECT_EQ(plan.recipients[0].rule, std::nullopt);
}

TEST(Router, BindsTheEnvelopeAndConnectionFacts) {
  RoutingConfig config =
      config_with({when("sender_domain == 'example.com' && listener == 'submission' && priority > "
                        "1 && len(recipients) == 2 && "
                        "rcpt == 'Ann@example.org'",
                        "'relay'"),
                   otherwise(false)});
  RouteRequest r = request({"Ann@EXAMPLE.org", "bob@example.org"});
  r.facts.listener = "submission";
  r.facts.priority = 2;
  Plan plan = route(r, config, LookupTable{});
  EXPECT_EQ(plan.recipients[0].outcome, Outcome(Route(RemoteRoute{config.remotes[1]})));
  EXPECT_EQ(plan.recipients[1].outcome, Outcome(Route(MxRoute{"example.org", MxTlsPolicy{}})));
}

TEST(Router, LimitsAtNAndNPlusOne) {
  RoutingConfig config = config_with({otherwise(std::string("relay"))});
  config.limits.recipients_max = 2;
  config.limits.address_bytes_max = 10;
  Plan plan = route(request({"a@b.cd", "abcde@f.gh", "c@d.ef"}), config, LookupTable{});
  EXPECT_TRUE(std::holds_alternative<Route>(plan.recipients[0].outcome));
  EXPECT_TRUE(std::holds_alternative<Route>(plan.recipients[1].outcome));  // exactly 10 bytes
  EXPECT_EQ(plan.recipients[2].outcome, Outcome(Unroutable{"more than 2 recipients"}));
  plan = route(request({"abcdef@g.hi"}), config, LookupTable{});
  EXPECT_EQ(plan.recipients[0].outcome, Outcome(Unroutable{"address longer than 10 bytes"}));
}

TEST(Router, ExplainRecordsTheRulesTried) {
  RoutingConfig config =
      config_with({when("is_local_domain('', rcpt_domain)", "'lmtp'"), otherwise(false)});
  LookupTable lookups;
  lookups.set({LookupFunction::is_local_domain, "", "gmail.com"}, false);
  RouteRequest r = request({"joe@gmail.com"});
  r.explain = true;
  Plan plan = route(r, config, lookups);
  ASSERT_TRUE(plan.recipients[0].explanation.has_value());
  EXPECT_EQ(to_string(*plan.recipients[0].explanation),
            "rule 1 at t.toml:1:1: if is_local_domain('', rcpt_domain)\n"
            "  rcpt_domain = 'gmail.com'\n"
            "  is_local_domain('', 'gmail.com') -> false\n"
            "  condition: false\n"
            "rule 2 at t.toml:2:1: else\n"
            "matched rule 2: false\n");
}

TEST(Router, DescribeNeverShowsSecrets) {
  RoutingConfig config = config_with({otherwise(std::string("lmtp"))});
  EXPECT_EQ(describe(RemoteRoute{config.remotes[0]}),
            "remote lmtp (lmtp localhost:24, tls starttls, invalid certificates allowed, auth as "
            "relay_server)");
  EXPECT_EQ(
      describe(MxRoute{"a.org", {TlsPolicy::require, TlsPolicy::disable, TlsPolicy::optional}}),
      "mx a.org (mta-sts require, dane disable, starttls optional)");
  EXPECT_EQ(describe(LocalRoute{}), "local");
}

}  // namespace
}  // namespace tern::protocol::route
