// A client machine and a server machine joined by an in-memory pipe that delivers bytes in
// chunks chosen by the test: the "simulated conversation" of docs/architecture.md. The
// server accepts everything except recipients whose local part starts with "bad".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "protocol/smtp/client_session.hpp"
#include "protocol/smtp/server_session.hpp"
#include "protocol/smtp/tests/server_harness.hpp"

namespace tern::protocol::smtp::testing {

struct Conversation {
  // What the server saw.
  std::optional<ReversePath> mail_from;
  std::vector<ForwardPath> rcpt_to;  // accepted ones
  std::string body;
  std::size_t messages = 0;
  // What the client was told.
  std::vector<std::optional<Outcome>> outcomes;
  bool session_failed = false;
  bool client_closed = false;
  std::size_t steps = 0;
};

inline bool is_bad(const ForwardPath& path) {
  return path.path && path.path->mailbox.local_part.rfind("bad", 0) == 0;
}

// Runs one transaction of `envelope` with `body` (sent in `body_pieces` pieces), moving at
// most next_chunk() bytes per hop, until the client closes (or a step limit is hit).
inline Conversation converse(ServerConfig server_config, ClientConfig client_config,
                             Envelope envelope, const std::string& body, std::size_t body_pieces,
                             const std::function<std::size_t()>& next_chunk) {
  Conversation c;
  c.outcomes.assign(envelope.recipients.size(), std::nullopt);
  ServerSession server(std::move(server_config), Instant{0});
  ClientSession client(std::move(client_config), Instant{0});
  std::string to_server;  // bytes in flight, not yet taken by the server
  std::string to_client;
  bool submitted = false;
  for (; c.steps < 100000 && !client.is_closed(); ++c.steps) {
    auto out = client.pending_output();
    to_server.append(out.data(), out.size());
    client.consume_output(out.size());
    std::size_t n = std::min(next_chunk(), to_server.size());
    to_server.erase(0, server.feed(std::string_view(to_server).substr(0, n), Instant{0}));
    while (auto event = server.poll_event()) {
      if (const auto* mail = std::get_if<MailEvent>(&*event)) c.mail_from = mail->command.path;
      if (const auto* chunk = std::get_if<BodyChunkEvent>(&*event)) c.body += chunk->bytes;
      if (std::holds_alternative<MessageEvent>(*event)) ++c.messages;
      ServerDecision decision = Accept{};
      if (const auto* rcpt = std::get_if<RcptEvent>(&*event)) {
        if (is_bad(rcpt->command.path)) {
          decision = Reject{Reply{550, EnhancedStatus{5, 1, 1}, {"no such user"}}};
        } else {
          c.rcpt_to.push_back(rcpt->command.path);
        }
      }
      if (auto ticket = ticket_of(*event)) (void)server.decide(*ticket, decision, Instant{0});
    }
    auto reply = server.pending_output();
    to_client.append(reply.data(), reply.size());
    server.consume_output(reply.size());
    n = std::min(next_chunk(), to_client.size());
    to_client.erase(0, client.feed(std::string_view(to_client).substr(0, n), Instant{0}));
    while (auto event = client.poll_event()) {
      if (std::holds_alternative<ReadyEvent>(*event) && !submitted) {
        submitted = true;
        if (client.submit(envelope, Instant{0})) return c;
      } else if (std::holds_alternative<ReadyEvent>(*event)) {
        client.quit(Instant{0});
      } else if (std::holds_alternative<BodyWantedEvent>(*event)) {
        const std::size_t piece = body.size() / std::max<std::size_t>(body_pieces, 1) + 1;
        for (std::size_t at = 0; at < body.size(); at += piece) {
          (void)client.send_body(std::string_view(body).substr(at, piece), Instant{0});
        }
        (void)client.end_body(Instant{0});
      } else if (const auto* r = std::get_if<RecipientEvent>(&*event)) {
        c.outcomes[r->index] = r->outcome;
      } else if (std::holds_alternative<SessionFailedEvent>(*event)) {
        c.session_failed = true;
      } else if (std::holds_alternative<ClientClosedEvent>(*event)) {
        c.client_closed = true;
      }
    }
  }
  return c;
}

}  // namespace tern::protocol::smtp::testing
