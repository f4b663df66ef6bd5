// runtime/inbound_session.hpp — one accepted connection: the SMTP/LMTP server machine
// driven over the Io, with the policy stages that answer its questions.
//
// Contract:
// - The session owns its connection: it reads only while the machine wants bytes and no
//   decision is pending, keeps one write in flight, re-arms one timer from poll_timeout(),
//   and closes the connection once the machine is closed and its last reply is written.
//   on_finished runs once, after the connection is closed (posted: the owner may destroy
//   the session inside it).
// - Implicit TLS: the handshake comes first and the greeting after it. STARTTLS: the 220
//   is written, bytes the client pipelined after it are dropped, then the handshake; a
//   failed handshake ends the session.
// - Policy stages (settings.session.* rules, directories):
//     AUTH   the SASL exchange (protocol/sasl) with the session.auth.directory; a rejection
//            is answered auth_failure_delay after the credentials arrived whatever the
//            reason (unknown user and wrong password take the same time); unavailable →
//            454 4.7.0; an address or login locked out (inbound/auth_lockout.hpp) → 454
//            4.7.0 without asking the directory.
//     MAIL   an authenticated sender must own the address unless
//            session.auth.must-match-sender is false (553 5.7.1); directory down → 451.
//     RCPT   a domain the session.rcpt.directory calls local: the directory checks the
//            address (550 5.1.1 unknown, 451 4.4.3 unavailable); any other domain needs
//            session.rcpt.relay (550 5.7.1 relay denied). The domain of the mailbox is all
//            that counts: '%', '!', quoted local parts and source routes are only local
//            parts to us and never relay.
//     DATA   the body goes to the spool as it arrives, after our Received header; the
//            250 (LMTP: one 250 per recipient) is decided only after Io::spool_commit
//            reported the message durable; any spool failure is 452 4.3.1 and nothing of the
//            message stays behind.
// - Every reply and outcome is logged with the session id.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/sasl/server.hpp"
#include "protocol/smtp/server_session.hpp"
#include "runtime/inbound/auth_lockout.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/settings.hpp"
#include "runtime/spool_format.hpp"

namespace tern::runtime {

class Queue;

struct InboundContext {
  Io& io;
  LogSink& log;
  Queue& queue;
  inbound::AuthLockout& auth_lockout;  // AUTH failures across the server's sessions
};

class InboundSession {
 public:
  InboundSession(InboundContext context, std::shared_ptr<const EngineSettings> settings,
                 const ListenerSettings& listener, ConnId conn, ConnectionFacts facts,
                 std::string session_id, std::function<void()> on_finished);
  ~InboundSession();
  InboundSession(const InboundSession&) = delete;
  InboundSession& operator=(const InboundSession&) = delete;

  void start();
  void shutdown();  // 421 at the next opportunity, then close
  const std::string& id() const { return id_; }

 private:
  // Driving the machine.
  void begin_smtp();
  void pump();
  void pump_once();
  void write_pending();
  void read_more();
  void feed_buffered();
  void on_read(IoResult<std::span<const char>> result);
  void arm_timer();
  void start_tls();
  void finish();

  // Events and stages.
  void handle(protocol::smtp::ServerEvent event);
  void on_hello(const protocol::smtp::HelloEvent& e);
  void on_mail(const protocol::smtp::MailEvent& e);
  void on_rcpt(const protocol::smtp::RcptEvent& e);
  void on_verify(const protocol::smtp::VerifyEvent& e);
  void on_rcpt_local(protocol::smtp::Ticket ticket, const std::string& address, std::string params,
                     directory::Directory* dir);
  void accept_rcpt(protocol::smtp::Ticket ticket, SpoolRecipient recipient);
  void add_recipient(SpoolRecipient recipient);
  void on_body_start();
  void on_body_chunk(const std::string& bytes);
  void on_message(const protocol::smtp::MessageEvent& e);
  void on_auth(const protocol::smtp::AuthEvent& e);
  void on_auth_step(protocol::smtp::Ticket ticket, protocol::sasl::StepResult step);
  void on_auth_verified(protocol::smtp::Ticket ticket, const directory::AuthOutcome& outcome);
  void decide(protocol::smtp::Ticket ticket, protocol::smtp::ServerDecision decision);
  void reject(protocol::smtp::Ticket ticket, protocol::smtp::Reply refusal);
  void reject_rcpt(protocol::smtp::Ticket ticket, protocol::smtp::Reply refusal);
  void reset_transaction();
  protocol::route::Variables variables() const;
  inbound::LockoutLimits lockout_limits() const;
  protocol::smtp::ServerConfig machine_config();
  void log(LogLevel level, const std::string& message);
  // Runs `task` later only if this session still exists.
  std::function<void()> guarded(std::function<void()> task);

  InboundContext ctx_;
  std::shared_ptr<const EngineSettings> settings_;
  ListenerSettings listener_;
  ConnId conn_;
  ConnectionFacts facts_;
  std::string id_;
  std::function<void()> on_finished_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::optional<protocol::smtp::ServerSession> machine_;
  std::string input_;  // bytes read but not yet consumed by the machine
  bool read_in_flight_ = false;
  bool write_in_flight_ = false;
  std::size_t write_size_ = 0;
  bool eof_seen_ = false;
  bool eof_fed_ = false;
  bool pumping_ = false;
  bool repump_ = false;
  bool tls_requested_ = false;
  bool tls_in_progress_ = false;
  bool deciding_ = false;  // a question is out to a directory or the spool
  bool finished_ = false;
  std::optional<TimerId> timer_;
  std::optional<Instant> timer_deadline_;
  std::optional<TlsFacts> tls_;

  static constexpr std::size_t kRcptRefusalsLogged = 5;  // then one summary at disconnect
  std::size_t rcpt_refusals_ = 0;

  std::string helo_;
  bool esmtp_ = true;
  bool smtputf8_ = false;  // the current MAIL said SMTPUTF8 (for the Received header)
  std::string authenticated_as_;
  std::optional<protocol::sasl::Server> sasl_;
  std::string sasl_mechanism_;
  Instant auth_started_{};  // when the credentials arrived: failures are answered from here

  // The transaction.
  SpoolEnvelope envelope_;
  std::size_t accepted_rcpts_ = 0;  // RCPTs answered 250, duplicates included
  std::optional<SpoolWriterId> writer_;
  std::optional<IoError> spool_error_;
};

}  // namespace tern::runtime
