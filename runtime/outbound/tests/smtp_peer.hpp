// runtime/outbound/tests/smtp_peer.hpp — the far end of a simulated SMTP/LMTP connection
// for tests: our own smtp::ServerSession fed by SimIo, answering every question at once as
// a Behaviour says (accept by default). Shared by the outbound and engine tests.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"
#include "protocol/smtp/server_session.hpp"

namespace tern::runtime::outbound::testing {

namespace smtp = protocol::smtp;
using adapters::sim::PeerId;
using adapters::sim::SimIo;

inline smtp::Reply reply(std::uint16_t code, smtp::EnhancedStatus status, std::string text) {
  return smtp::Reply{code, status, {std::move(text)}};
}

struct Behaviour {
  std::map<std::string, smtp::Reply> rcpt;  // by local part; absent: 250
  std::optional<smtp::Reply> message;       // SMTP end of data; absent: 250
  std::map<std::string, smtp::Reply> lmtp;  // LMTP per recipient; absent: 250
  bool close_mid_data = false;              // peer closes at the first body chunk
  bool stall_message = false;               // never answers the end of the message
  bool never_handshake = false;             // 220 to STARTTLS, then silence
  std::string password = "secret";
};

// One server connection: the engine's bytes feed the machine, decisions are made at once.
class Peer {
 public:
  Peer(SimIo& sim, PeerId id, smtp::ServerConfig config, const Behaviour& behaviour)
      : sim_(sim), id_(id), behaviour_(behaviour), machine_(config, sim.now()) {}
  void attach() {
    sim_.peer_on_bytes(id_, [this](std::string_view bytes) {
      received += bytes;
      inbox_ += bytes;
      pump();
    });
    pump();
  }
  std::string received;  // every byte the engine sent
  std::string body;      // the decoded body of the last message
  std::vector<std::string> rcpts;
  std::optional<smtp::Mail> mail;
  std::vector<smtp::Rcpt> rcpt_commands;
  bool tls_started = false;

 private:
  void pump() {
    for (int guard = 0; guard < 100000 && !closed_; ++guard) {
      const std::size_t used = machine_.feed(inbox_, sim_.now());
      inbox_.erase(0, used);
      bool progressed = used > 0;
      while (auto event = machine_.poll_event()) {
        progressed = true;
        on_event(*event);
        if (closed_) return;
      }
      send_output();
      if (machine_.is_closed()) {
        closed_ = true;
        sim_.peer_close(id_);
      }
      if (!progressed) break;
    }
  }
  void send_output() {
    auto out = machine_.pending_output();
    if (out.empty()) return;
    sim_.peer_send(id_, std::string_view(out.data(), out.size()));
    machine_.consume_output(out.size());
  }
  void on_event(smtp::ServerEvent& event) {
    if (std::holds_alternative<smtp::StartTlsEvent>(event)) {
      send_output();
      if (behaviour_.never_handshake) {
        closed_ = true;  // reads on, answers nothing
        return;
      }
      sim_.peer_start_tls(id_);
      tls_started = true;
      EXPECT_FALSE(machine_.on_tls_established(sim_.now()));
      return;
    }
    if (auto* chunk = std::get_if<smtp::BodyChunkEvent>(&event)) {
      body += chunk->bytes;
      if (behaviour_.close_mid_data) {
        closed_ = true;
        sim_.peer_close(id_);
      }
      return;
    }
    smtp::ServerDecision decision = smtp::Accept{};
    std::optional<smtp::Ticket> ticket;
    if (auto* hello = std::get_if<smtp::HelloEvent>(&event)) {
      ticket = hello->ticket;
    } else if (auto* m = std::get_if<smtp::MailEvent>(&event)) {
      ticket = m->ticket;
      mail = m->command;
    } else if (auto* rcpt = std::get_if<smtp::RcptEvent>(&event)) {
      ticket = rcpt->ticket;
      rcpt_commands.push_back(rcpt->command);
      const std::string local = rcpt->command.path.path->mailbox.local_part;
      auto it = behaviour_.rcpt.find(local);
      if (it != behaviour_.rcpt.end()) {
        decision = smtp::Reject{it->second};
      } else {
        rcpts.push_back(local);
      }
    } else if (auto* message = std::get_if<smtp::MessageEvent>(&event)) {
      if (behaviour_.stall_message) return;
      ticket = message->ticket;
      decision = message_decision();
    } else if (auto* auth = std::get_if<smtp::AuthEvent>(&event)) {
      ticket = auth->ticket;
      const std::string r = auth->response.value_or("");
      const bool ok = r.size() > 4 && r.substr(r.rfind('\0') + 1) == behaviour_.password;
      decision = ok ? smtp::ServerDecision{smtp::Authenticated{}}
                    : smtp::ServerDecision{smtp::Reject{reply(535, {5, 7, 8}, "bad credentials")}};
    }
    if (ticket) {
      EXPECT_FALSE(machine_.decide(*ticket, decision, sim_.now()));
    }
  }
  smtp::ServerDecision message_decision() {
    if (!behaviour_.lmtp.empty()) {
      smtp::PerRecipient per;
      for (const auto& r : rcpts) {
        auto it = behaviour_.lmtp.find(r);
        per.replies.push_back(it != behaviour_.lmtp.end() ? it->second
                                                          : reply(250, {2, 0, 0}, "ok " + r));
      }
      return per;
    }
    if (behaviour_.message) return smtp::Reject{*behaviour_.message};
    return smtp::Accept{};
  }

  SimIo& sim_;
  PeerId id_;
  const Behaviour& behaviour_;
  smtp::ServerSession machine_;
  std::string inbox_;
  bool closed_ = false;
};

}  // namespace tern::runtime::outbound::testing
