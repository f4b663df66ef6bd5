// runtime/inbound/hello.hpp — the connect and EHLO stages: the SMTP/LMTP machine's
// configuration for one connection (sizes, limits, extensions, AUTH mechanisms, timeouts),
// decided by the session.* rules when the client connects and again at each EHLO, and the
// EHLO name check. Pure stages like mail.hpp and rcpt.hpp: InboundSession applies them.
//
// Contract:
// - machine_config: session.data.limits.size (negative: 0), session.rcpt.max-recipients
//   (at least 1), session.auth.require, session.auth.errors.total (1..100),
//   session.rcpt.errors.total (0..1,000,000), the session.auth.mechanisms the SASL layer
//   knows, none without a session.auth.directory; TLS offered only on a plain listener
//   with STARTTLS on and an identity for its certificate; the server.timeout.* values.
// - extensions: session.extensions.{pipelining,chunking,requiretls,dsn,vrfy,expn}.
// - hello_refusal: a bare name (no dot) when session.ehlo.reject-non-fqdn holds is
//   550 5.5.2; an address literal and a dotted name are never refused here.
#pragma once

#include <optional>

#include "protocol/route/eval.hpp"
#include "protocol/smtp/reply.hpp"
#include "protocol/smtp/server_session.hpp"
#include "runtime/settings.hpp"

namespace tern::runtime::inbound {

struct SessionFacts {
  const ListenerSettings& listener;
  bool tls_active = false;
  std::int64_t wall_unix_seconds = 0;
};

protocol::smtp::ServerConfig machine_config(const EngineSettings& settings,
                                            const protocol::route::Variables& vars,
                                            const SessionFacts& facts);

protocol::smtp::ServerExtensions extensions(const EngineSettings& settings,
                                            const protocol::route::Variables& vars);

std::optional<protocol::smtp::Reply> hello_refusal(const EngineSettings& settings,
                                                   const protocol::route::Variables& vars,
                                                   const protocol::smtp::HelloEvent& hello);

}  // namespace tern::runtime::inbound
