// Router properties: total (every recipient gets exactly one outcome, and each routed one
// sits in exactly one group), deterministic, and equivariant under permutation of the
// recipients (the plan of a shuffled envelope is the shuffled plan).
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/route/router.hpp"

namespace tern::protocol::route {
namespace {

const std::vector<std::string> kConditions = {"is_local_domain('', rcpt_domain)",
                                              "rcpt_domain == 'b.org'",
                                              "ends_with(rcpt, '.net')",
                                              "is_local_address('', rcpt) && priority > 0",
                                              "sender_domain == 'a.org' || retry_num > 2",
                                              "matches('^x', rcpt)",
                                              "len(rcpt) > 8",
                                              "true",
                                              "false"};
const std::vector<std::string> kResults = {
    "'local'", "'relay'", "'lmtp'", "false", "true", "'nowhere'", "lowercase(rcpt_domain)"};
const std::vector<std::string> kRecipients = {"a@a.org",  "X@B.org",  "c@c.net",
                                              "nodomain", "x@A.org.", "bob@b.org",
                                              "amy@lmtp", "",         "d@@e.org"};

RoutingConfig make_config(const std::vector<std::pair<std::size_t, std::size_t>>& picks,
                          bool with_else) {
  std::vector<RuleInput> inputs;
  for (auto [c, r] : picks) {
    inputs.push_back(
        {kConditions[c], RuleResultInput::expression_text(kResults[r]), {"p.toml", 1, 1}});
  }
  if (with_else || inputs.empty())
    inputs.push_back({std::nullopt, RuleResultInput::literal_value(false), {}});
  RulesOptions options;
  options.result_types = TypeSet(Type::string) | Type::boolean;
  RulesCompilation c =
      compile_rules(inputs, Environment::standard("queue.outbound.next-hop"), options);
  RC_ASSERT(c.ok());
  RoutingConfig config;
  config.next_hop = std::move(c.rules);
  config.remotes = {
      {"lmtp", RemoteProtocol::lmtp, "localhost", 24, TlsMode::starttls, true, {}, {}, {}},
      {"relay",
       RemoteProtocol::smtp,
       "relay.example.org",
       25,
       TlsMode::implicit,
       false,
       {},
       {},
       {}}};
  config.limits.recipients_max = 12;
  return config;
}

struct Case {
  RoutingConfig config;
  RouteRequest request;
  LookupTable lookups;
};

Case gen_case() {
  auto picks = *rc::gen::container<std::vector<std::pair<std::size_t, std::size_t>>>(
      rc::gen::pair(rc::gen::inRange<std::size_t>(0, kConditions.size()),
                    rc::gen::inRange<std::size_t>(0, kResults.size())));
  if (picks.size() > 6) picks.resize(6);
  Case c{make_config(picks, *rc::gen::arbitrary<bool>()), {}, {}};
  c.request.envelope.sender = *rc::gen::element<std::string>("s@a.org", "", "S@Q.ORG");
  c.request.envelope.recipients =
      *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(kRecipients));
  c.request.facts.priority = *rc::gen::inRange<std::int64_t>(-1, 3);
  c.request.facts.retry_num = *rc::gen::inRange<std::int64_t>(0, 5);
  for (const std::string& r : kRecipients) {
    NormalisedAddress n = normalise_address(r);
    if (*rc::gen::arbitrary<bool>())
      c.lookups.set({LookupFunction::is_local_domain, "", n.domain}, *rc::gen::arbitrary<bool>());
    if (*rc::gen::arbitrary<bool>())
      c.lookups.set({LookupFunction::is_local_address, "", n.address}, *rc::gen::arbitrary<bool>());
  }
  return c;
}

RC_GTEST_PROP(RouterProps, TotalEveryRecipientOneOutcomeAndOneGroup, ()) {
  Case c = gen_case();
  Plan plan = route(c.request, c.config, c.lookups);
  const auto& rcpts = c.request.envelope.recipients;
  RC_ASSERT(plan.recipients.size() == rcpts.size());
  std::vector<int> seen(rcpts.size(), 0);
  for (const DeliveryGroup& g : plan.groups) {
    RC_ASSERT(!g.recipients.empty());
    RC_ASSERT(std::is_sorted(g.recipients.begin(), g.recipients.end()));
    for (std::size_t i : g.recipients) {
      RC_ASSERT(i < rcpts.size());
      ++seen[i];
      RC_ASSERT(std::get<Route>(plan.recipients[i].outcome) == g.route);
    }
  }
  bool any_pending = false;
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    const Outcome& o = plan.recipients[i].outcome;
    RC_ASSERT(seen[i] == (std::holds_alternative<Route>(o) ? 1 : 0));
    if (const auto* p = std::get_if<Pending>(&o)) {
      any_pending = true;
      RC_ASSERT(!p->lookups.empty());
      for (const LookupKey& k : p->lookups) {
        RC_ASSERT(!c.lookups.find(k).has_value());
        RC_ASSERT(std::find(plan.lookups.begin(), plan.lookups.end(), k) != plan.lookups.end());
      }
    }
    if (const auto* mx = std::get_if<Route>(&o);
        mx != nullptr && std::holds_alternative<MxRoute>(*mx)) {
      RC_ASSERT(!std::get<MxRoute>(*mx).domain.empty());
    }
  }
  RC_ASSERT(any_pending == !plan.complete());
}

RC_GTEST_PROP(RouterProps, Deterministic, ()) {
  Case c = gen_case();
  RC_ASSERT(route(c.request, c.config, c.lookups) == route(c.request, c.config, c.lookups));
}

RC_GTEST_PROP(RouterProps, PermutingRecipientsPermutesThePlan, ()) {
  Case c = gen_case();
  const auto& rcpts = c.request.envelope.recipients;
  std::vector<std::size_t> order(rcpts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // A seeded shuffle by repeated swaps drawn from RapidCheck.
  for (std::size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[*rc::gen::inRange<std::size_t>(0, i)]);
  }
  // Rules that read `recipients` (the whole list, in order) are outside this property; the
  // generated conditions do not read it, and the limit is raised so none is cut off.
  c.config.limits.recipients_max = 1000;
  RouteRequest shuffled = c.request;
  for (std::size_t i = 0; i < order.size(); ++i) shuffled.envelope.recipients[i] = rcpts[order[i]];
  Plan a = route(c.request, c.config, c.lookups);
  Plan b = route(shuffled, c.config, c.lookups);
  RC_ASSERT(a.recipients.size() == b.recipients.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    RC_ASSERT(b.recipients[i] == a.recipients[order[i]]);
  RC_ASSERT(a.groups.size() == b.groups.size());
  for (const DeliveryGroup& g : a.groups) {
    auto it = std::find_if(b.groups.begin(), b.groups.end(), [&](const DeliveryGroup& h) {
      return group_key(h.route) == group_key(g.route);
    });
    RC_ASSERT(it != b.groups.end());
    std::vector<std::size_t> mapped;
    for (std::size_t j : it->recipients) mapped.push_back(order[j]);
    std::sort(mapped.begin(), mapped.end());
    RC_ASSERT(mapped == g.recipients);
  }
  std::vector<LookupKey> la = a.lookups, lb = b.lookups;
  std::sort(la.begin(), la.end());
  std::sort(lb.begin(), lb.end());
  RC_ASSERT(la == lb);
}

}  // namespace
}  // namespace tern::protocol::route
