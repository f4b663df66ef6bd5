#include "protocol/route/router.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace tern::protocol::route {

std::string_view to_string(TlsMode mode) {
  switch (mode) {
    case TlsMode::implicit: return "implicit";
    case TlsMode::starttls: return "starttls";
    case TlsMode::none: return "none";
  }
  return "none";
}

std::string_view to_string(RemoteProtocol protocol) {
  return protocol == RemoteProtocol::lmtp ? "lmtp" : "smtp";
}

std::string_view to_string(TlsPolicy policy) {
  switch (policy) {
    case TlsPolicy::optional: return "optional";
    case TlsPolicy::require: return "require";
    case TlsPolicy::disable: return "disable";
  }
  return "optional";
}

const RemoteHost* RoutingConfig::find_remote(std::string_view id) const {
  for (const RemoteHost& host : remotes) {
    if (host.id == id) return &host;
  }
  return nullptr;
}

std::string describe(const Route& route) {
  if (std::holds_alternative<LocalRoute>(route)) return "local";
  if (const auto* remote = std::get_if<RemoteRoute>(&route)) {
    const RemoteHost& h = remote->host;
    std::string out = "remote " + h.id + " (" + std::string(to_string(h.protocol)) + " " +
                      h.address + ":" + std::to_string(h.port) + ", tls " +
                      std::string(to_string(h.tls));
    if (h.allow_invalid_certs) out += ", invalid certificates allowed";
    if (h.auth_username) out += ", auth as " + *h.auth_username;
    return out + ")";
  }
  const auto& mx = std::get<MxRoute>(route);
  return "mx " + mx.domain + " (mta-sts " + std::string(to_string(mx.tls.mta_sts)) + ", dane " +
         std::string(to_string(mx.tls.dane)) + ", starttls " +
         std::string(to_string(mx.tls.starttls)) + ")";
}

std::string group_key(const Route& route) {
  if (std::holds_alternative<LocalRoute>(route)) return "local";
  if (const auto* remote = std::get_if<RemoteRoute>(&route)) return "remote:" + remote->host.id;
  return "mx:" + std::get<MxRoute>(route).domain;
}

NormalisedAddress normalise_address(std::string_view address) {
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {std::string(address), {}};
  std::string domain(address.substr(at + 1));
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  std::transform(domain.begin(), domain.end(), domain.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return {std::string(address.substr(0, at + 1)) + domain, domain};
}

namespace {

Variables bind_message(const RouteRequest& request, const std::vector<NormalisedAddress>& rcpts) {
  Variables vars;
  const ConnectionFacts& f = request.facts;
  NormalisedAddress sender = normalise_address(request.envelope.sender);
  vars.set("sender", sender.address);
  vars.set("sender_domain", sender.domain);
  StringList all;
  all.reserve(rcpts.size());
  for (const NormalisedAddress& r : rcpts) all.push_back(r.address);
  vars.set("recipients", std::move(all));
  vars.set("authenticated_as", f.authenticated_as);
  vars.set("listener", f.listener);
  vars.set("remote_ip", f.remote_ip);
  vars.set("local_ip", f.local_ip);
  vars.set("helo_domain", f.helo_domain);
  vars.set("priority", f.priority);
  vars.set("retry_num", f.retry_num);
  vars.set("last_error", f.last_error);
  return vars;
}

// The route a next-hop value names, or why it names none.
std::variant<Route, Unroutable> route_of(const Value& value, const std::string& domain,
                                         const RoutingConfig& config) {
  if (const bool* b = std::get_if<bool>(&value)) {
    if (*b) return Unroutable{"next-hop gave true; a rule must give a remote id, 'local' or false"};
    if (domain.empty()) return Unroutable{"the address has no domain to look up MX records for"};
    return Route{MxRoute{domain, config.mx_tls}};
  }
  const std::string* name = std::get_if<std::string>(&value);
  if (name == nullptr)
    return Unroutable{"next-hop gave " + format_value(value) + ", not a host name or false"};
  if (*name == "local") return Route{LocalRoute{}};
  if (const RemoteHost* host = config.find_remote(*name)) return Route{RemoteRoute{*host}};
  return Unroutable{"next-hop gave " + quote_string(*name) +
                    ", which is neither 'local' nor a defined remote"};
}

RecipientOutcome decide(const NormalisedAddress& rcpt, Variables& vars, const RoutingConfig& config,
                        const Lookups& lookups, bool explain) {
  RecipientOutcome out{rcpt.address, rcpt.domain, Unroutable{}, std::nullopt, std::nullopt};
  vars.set("rcpt", rcpt.address);
  vars.set("rcpt_domain", rcpt.domain);
  Explanation trace;
  RulesOutcome result = evaluate(config.next_hop, vars, lookups, explain ? &trace : nullptr);
  if (explain) out.explanation = std::move(trace);
  if (auto* needs = std::get_if<NeedsLookups>(&result)) {
    out.outcome = Pending{std::move(needs->lookups)};
  } else if (auto* fault = std::get_if<RulesFault>(&result)) {
    out.outcome =
        Unroutable{"rule " + std::to_string(fault->rule_index + 1) + ": " + fault->fault.message};
  } else {
    const Value no_match(false);  // no rule matched: DNS MX, as `false` says
    const auto* matched = std::get_if<Matched>(&result);
    if (matched != nullptr) out.rule = matched->rule_index;
    auto routed = route_of(matched != nullptr ? matched->value : no_match, rcpt.domain, config);
    if (auto* r = std::get_if<Route>(&routed)) {
      out.outcome = std::move(*r);
    } else {
      out.outcome = std::get<Unroutable>(std::move(routed));
    }
  }
  return out;
}

// Why an address cannot even be evaluated, if it cannot.
std::optional<Unroutable> refuse(std::size_t index, const std::string& address,
                                 const RouterLimits& limits) {
  if (index >= limits.recipients_max) {
    return Unroutable{"more than " + std::to_string(limits.recipients_max) + " recipients"};
  }
  if (address.size() > limits.address_bytes_max) {
    return Unroutable{"address longer than " + std::to_string(limits.address_bytes_max) + " bytes"};
  }
  return std::nullopt;
}

void group(Plan& plan) {
  std::map<std::string, std::size_t> index_of;  // group key -> index in plan.groups
  for (std::size_t i = 0; i < plan.recipients.size(); ++i) {
    const Route* r = std::get_if<Route>(&plan.recipients[i].outcome);
    if (r == nullptr) continue;
    auto [it, fresh] = index_of.emplace(group_key(*r), plan.groups.size());
    if (fresh) plan.groups.push_back(DeliveryGroup{*r, {}});
    plan.groups[it->second].recipients.push_back(i);
  }
}

void collect_lookups(Plan& plan) {
  for (const RecipientOutcome& r : plan.recipients) {
    const Pending* p = std::get_if<Pending>(&r.outcome);
    if (p == nullptr) continue;
    for (const LookupKey& k : p->lookups) {
      if (std::find(plan.lookups.begin(), plan.lookups.end(), k) == plan.lookups.end())
        plan.lookups.push_back(k);
    }
  }
}

}  // namespace

Plan route(const RouteRequest& request, const RoutingConfig& config, const Lookups& lookups) {
  const auto& raw = request.envelope.recipients;
  std::vector<NormalisedAddress> rcpts;
  rcpts.reserve(std::min(raw.size(), config.limits.recipients_max));
  for (std::size_t i = 0; i < raw.size() && i < config.limits.recipients_max; ++i) {
    rcpts.push_back(normalise_address(raw[i]));
  }
  Variables vars = bind_message(request, rcpts);
  Plan plan;
  plan.recipients.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (auto refused = refuse(i, raw[i], config.limits)) {
      NormalisedAddress n = i < rcpts.size() ? rcpts[i] : normalise_address(raw[i]);
      plan.recipients.push_back(
          {n.address, n.domain, std::move(*refused), std::nullopt, std::nullopt});
      continue;
    }
    plan.recipients.push_back(decide(rcpts[i], vars, config, lookups, request.explain));
  }
  group(plan);
  collect_lookups(plan);
  return plan;
}

}  // namespace tern::protocol::route
