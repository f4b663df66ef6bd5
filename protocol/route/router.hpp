// protocol/route/router.hpp — where each recipient of a message goes, and why.
//
// Contract:
// - route(request, config, lookups) is a pure function: the envelope (sender, recipients),
//   the facts of the connection the message came from, the compiled routing configuration
//   and the lookup answers the caller already has go in; a Plan comes out. No IO, no
//   clock, no hash order: the same inputs give the same Plan, byte for byte.
// - The next-hop rule list is evaluated once per recipient, with `rcpt` (local part as
//   written, domain lowercased), `rcpt_domain` (lowercased, one trailing dot removed),
//   `sender`/`sender_domain` (the same normalisation), `recipients` (every normalised
//   recipient, in envelope order) and the connection facts bound. Its value means:
//     'local'            the local store
//     a remote id        that `remote.<id>` host (protocol, address, port, TLS, auth)
//     false, no match    DNS MX of the recipient's domain, with the outbound TLS policy
//   Anything else (true, an integer, a computed string that names no remote, an address
//   without a domain going to MX, an address or envelope over the limits, a fault of the
//   caller such as an unbound variable) makes that recipient Unroutable with the reason:
//   a route is never guessed, and never silently falls back to MX.
// - When a recipient's rules need a lookup the caller has not answered, that recipient is
//   Pending with the lookups it needs; Plan::lookups lists every missing lookup once, in
//   order of first need. The caller answers them and calls route() again; each round
//   decides at least one more rule of each pending recipient.
// - Every recipient gets exactly one outcome: Plan::recipients[i] is about
//   request.envelope.recipients[i]. Routed recipients are grouped for delivery: recipients
//   with the same route (local; the same remote id; MX for the same domain) share a group.
//   Groups are ordered by their first recipient's position in the envelope, and a group
//   lists its recipients in envelope order, so permuting the recipients permutes the
//   plan. Unroutable and pending recipients are in no group.
// - Never throws (short of std::bad_alloc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/core/time.hpp"
#include "protocol/route/eval.hpp"
#include "protocol/route/rules.hpp"

namespace tern::protocol::route {

enum class TlsMode : std::uint8_t { implicit, starttls, none };
enum class RemoteProtocol : std::uint8_t { smtp, lmtp };
// queue.outbound.tls.*: how hard MX delivery insists on each mechanism.
enum class TlsPolicy : std::uint8_t { optional, require, disable };

std::string_view to_string(TlsMode mode);
std::string_view to_string(RemoteProtocol protocol);
std::string_view to_string(TlsPolicy policy);

struct RemoteHost {
  std::string id;  // the <id> of remote.<id>
  RemoteProtocol protocol = RemoteProtocol::smtp;
  std::string address;
  std::uint16_t port = 25;
  TlsMode tls = TlsMode::implicit;
  bool allow_invalid_certs = false;
  std::optional<std::string> auth_username;
  std::optional<std::string> auth_secret;
  std::optional<Duration> timeout;  // remote.<id>.timeout: every step; unset = RFC 5321's

  friend bool operator==(const RemoteHost&, const RemoteHost&) = default;
};

struct MxTlsPolicy {
  TlsPolicy mta_sts = TlsPolicy::optional;
  TlsPolicy dane = TlsPolicy::optional;
  TlsPolicy starttls = TlsPolicy::optional;
  friend bool operator==(const MxTlsPolicy&, const MxTlsPolicy&) = default;
};

struct RouterLimits {
  std::size_t recipients_max = 10000;   // recipients past this one are Unroutable
  std::size_t address_bytes_max = 320;  // RFC 5321: 64 local part + @ + 255 domain
};

struct RoutingConfig {
  RuleList next_hop;                // compiled for Environment::standard, string|boolean
  std::vector<RemoteHost> remotes;  // ids unique; the name `local` is not a remote
  MxTlsPolicy mx_tls;
  RouterLimits limits;

  const RemoteHost* find_remote(std::string_view id) const;
};

struct Envelope {
  std::string sender;  // "" for the null reverse-path
  std::vector<std::string> recipients;
};

struct ConnectionFacts {
  std::string listener;
  std::string remote_ip;
  std::string local_ip;
  std::string helo_domain;
  std::string authenticated_as;  // "" when the client did not authenticate
  std::int64_t priority = 0;
  std::int64_t retry_num = 0;
  std::string last_error;
};

struct RouteRequest {
  Envelope envelope;
  ConnectionFacts facts;
  bool explain = false;  // fill RecipientOutcome::explanation
};

struct LocalRoute {
  friend bool operator==(const LocalRoute&, const LocalRoute&) = default;
};
struct RemoteRoute {
  RemoteHost host;
  friend bool operator==(const RemoteRoute&, const RemoteRoute&) = default;
};
struct MxRoute {
  std::string domain;  // lowercased
  MxTlsPolicy tls;
  friend bool operator==(const MxRoute&, const MxRoute&) = default;
};
using Route = std::variant<LocalRoute, RemoteRoute, MxRoute>;

struct Unroutable {
  std::string reason;
  friend bool operator==(const Unroutable&, const Unroutable&) = default;
};
struct Pending {
  std::vector<LookupKey> lookups;
  friend bool operator==(const Pending&, const Pending&) = default;
};
using Outcome = std::variant<Route, Unroutable, Pending>;

// One line for people: "local", "remote relay (smtp relay.example.org:25, starttls)",
// "mx example.org (mta-sts optional, dane optional, starttls optional)". Never a secret.
std::string describe(const Route& route);
// The grouping key: "local", "remote:<id>", "mx:<domain>".
std::string group_key(const Route& route);

struct RecipientOutcome {
  std::string rcpt;    // normalised (domain lowercased)
  std::string domain;  // rcpt_domain as bound
  Outcome outcome;
  std::optional<std::size_t> rule;  // the next-hop rule that matched, if one did
  std::optional<Explanation> explanation;

  friend bool operator==(const RecipientOutcome& a, const RecipientOutcome& b) {
    return a.rcpt == b.rcpt && a.domain == b.domain && a.outcome == b.outcome && a.rule == b.rule;
  }
};

struct DeliveryGroup {
  Route route;
  std::vector<std::size_t> recipients;  // indices into the envelope, ascending
  friend bool operator==(const DeliveryGroup&, const DeliveryGroup&) = default;
};

struct Plan {
  std::vector<RecipientOutcome> recipients;  // one per envelope recipient, same order
  std::vector<DeliveryGroup> groups;
  std::vector<LookupKey> lookups;  // missing answers, in order of first need

  bool complete() const { return lookups.empty(); }
  friend bool operator==(const Plan&, const Plan&) = default;
};

// Splits an address at its last '@' and lowercases the domain (one trailing dot removed):
// {"Ann@Example.ORG."} -> {"Ann@example.org", "example.org"}. No '@': the domain is "".
struct NormalisedAddress {
  std::string address;
  std::string domain;
};
NormalisedAddress normalise_address(std::string_view address);

Plan route(const RouteRequest& request, const RoutingConfig& config, const Lookups& lookups);

}  // namespace tern::protocol::route
