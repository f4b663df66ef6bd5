// runtime/outbound/mx_resolver.hpp — where mail for a domain goes: the MX resolution of RFC
// 5321 §5.1 with RFC 7505's null MX, over Io::dns_query, as a Resolver for RemoteDelivery.
//
// Contract: mx_resolver(io, options) gives a Resolver whose `host` argument is a recipient
// domain ("example.org", or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]" which
// is used as it is). It answers exactly once, with targets in the order to try:
// - MX records sorted by preference, equal preferences in a random order (io.random_u64:
//   spreads the load as §5.1 asks), at most options.mx_max hosts; each host's addresses
//   IPv4 first then IPv6, at most options.addresses_per_host_max of them. A host whose
//   address lookup fails is skipped.
// - No MX record (NODATA): the domain itself is the one host (the implicit MX).
// - If options.self_hostname is one of the exchanges, that record and every record of equal
//   or higher preference are dropped (§5.1: never send to ourselves or a worse MX).
// Failures:
// - permanent: the domain does not exist (NXDOMAIN: "550 5.1.2"); a null MX, i.e. a lone
//   MX "0 ." (RFC 7505 §4.1: "556 5.1.10"); we are the best MX ourselves ("550 5.4.6" mail
//   loops back to myself).
// - temporary: a DNS failure or timeout of the MX question; no host yielding an address
//   (a DNS misconfiguration is more often fixed than not: the message expires later with
//   the reason rather than bouncing now); MX records that all fail to parse. A null MX
//   mixed with other records is ignored (it is malformed) and the others are used.
#pragma once

#include <cstddef>
#include <string>

#include "runtime/io.hpp"
#include "runtime/outbound/remote_delivery.hpp"

namespace tern::runtime::outbound {

struct MxOptions {
  std::size_t mx_max = 7;                  // queue.outbound.limits.mx
  std::size_t addresses_per_host_max = 2;  // queue.outbound.limits.multihomed
  Duration query_timeout = Duration::seconds(10);
  std::string self_hostname;  // server.hostname, lowercased; "" = no loop check
};

Resolver mx_resolver(Io& io, MxOptions options);

// For remote.<id>.address: an IP (bare or bracketed) or "localhost" as it is, else the A
// and AAAA records of the name (IPv4 first; addresses_per_host_max of them). Every failure
// is temporary: a remote that does not resolve is our configuration's problem, not the
// message's.
Resolver host_resolver(Io& io, MxOptions options);

}  // namespace tern::runtime::outbound
