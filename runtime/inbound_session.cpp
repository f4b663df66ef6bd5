#include "runtime/inbound_session.hpp"

#include <algorithm>

#include "protocol/mail/received.hpp"
#include "protocol/smtp/address.hpp"
#include "protocol/smtp/chars.hpp"
#include "protocol/smtp/params.hpp"
#include "runtime/buggify.hpp"
#include "runtime/inbound/hello.hpp"
#include "runtime/inbound/mail.hpp"
#include "runtime/inbound/rcpt.hpp"
#include "runtime/inbound/replies.hpp"
#include "runtime/inbound/verify.hpp"
#include "runtime/policy.hpp"
#include "runtime/queue.hpp"

namespace tern::runtime {

namespace smtp = protocol::smtp;
namespace sasl = protocol::sasl;
namespace route = protocol::route;
namespace replies = inbound::replies;

namespace {

SpoolRecipient make_recipient(std::string address, std::string params, std::string account) {
  SpoolRecipient r;
  r.address = std::move(address);
  r.params = std::move(params);
  if (!r.params.empty() && r.params.front() == ' ') r.params.erase(0, 1);
  r.account = std::move(account);
  return r;
}

std::string reply_text(const smtp::Reply& reply) {
  auto wire = smtp::serialize(reply);
  if (!wire) return std::to_string(reply.code);
  std::string text = *wire;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::replace(text.begin(), text.end(), '\n', '|');
  return text;
}

}  // namespace

InboundSession::InboundSession(InboundContext context,
                               std::shared_ptr<const EngineSettings> settings,
                               const ListenerSettings& listener, ConnId conn, ConnectionFacts facts,
                               std::string session_id, std::function<void()> on_finished)
    : ctx_(context),
      settings_(std::move(settings)),
      listener_(listener),
      conn_(conn),
      facts_(std::move(facts)),
      id_(std::move(session_id)),
      on_finished_(std::move(on_finished)) {}

InboundSession::~InboundSession() {
  *alive_ = false;
  if (timer_) ctx_.io.cancel_timer(*timer_);
  if (writer_) ctx_.io.spool_discard(*writer_);
  if (!finished_) ctx_.io.close(conn_);
}

std::function<void()> InboundSession::guarded(std::function<void()> task) {
  return [alive = alive_, task = std::move(task)] {
    if (*alive) task();
  };
}

void InboundSession::log(LogLevel level, const std::string& message) {
  ctx_.log.log(level, id_, message);
}

void InboundSession::start() {
  log(LogLevel::info, "connect from " + facts_.remote.text() + " to " + facts_.local.text() +
                          " (listener " + listener_.id + ")");
  if (!listener_.implicit_tls) {
    begin_smtp();
    return;
  }
  const auto identity = settings_->tls_identities.find(listener_.certificate);
  if (identity == settings_->tls_identities.end()) {
    log(LogLevel::error, "no TLS certificate for implicit TLS; closing");
    finish();
    return;
  }
  tls_in_progress_ = true;
  ctx_.io.start_tls_server(
      conn_, identity->second, [this, alive = alive_](IoResult<TlsFacts> result) {
        if (!*alive) return;
        tls_in_progress_ = false;
        if (!result) {
          log(LogLevel::info, "TLS handshake failed: " + result.error().detail);
          finish();
          return;
        }
        tls_ = *result;
        log(LogLevel::info, "TLS " + tls_->version + " " + tls_->cipher);
        begin_smtp();
      });
}

// The connect stage's rules, evaluated at connect for the greeting's machine; the EHLO
// ones again at each EHLO, when the client's name and (after AUTH) identity are known.
smtp::ServerConfig InboundSession::machine_config() {
  return inbound::machine_config(
      *settings_, variables(),
      inbound::SessionFacts{listener_, tls_.has_value(), ctx_.io.wall_unix_seconds()});
}

void InboundSession::begin_smtp() {
  machine_.emplace(machine_config(), ctx_.io.now());
  pump();
}

// ---------------------------------------------------------------------------------------
// The loop: output first, then events, then input, then the timer.

void InboundSession::pump() {
  // Decisions and callbacks call pump() again; a flag turns that into another turn of this
  // loop instead of a deeper stack (a pipelined burst would otherwise recurse per command).
  if (pumping_) {
    repump_ = true;
    return;
  }
  pumping_ = true;
  do {
    repump_ = false;
    pump_once();
  } while (repump_ && !finished_);
  pumping_ = false;
}

void InboundSession::pump_once() {
  if (finished_ || !machine_) return;
  write_pending();
  while (!deciding_) {
    auto event = machine_->poll_event();
    if (!event) break;
    handle(std::move(*event));
    if (finished_) return;
    write_pending();
  }
  if (tls_requested_ && !write_in_flight_ && machine_->pending_output().empty()) {
    start_tls();
    return;
  }
  if (machine_->is_closed()) {
    if (!write_in_flight_ && machine_->pending_output().empty()) finish();
    return;
  }
  feed_buffered();
  read_more();
  arm_timer();
}

void InboundSession::write_pending() {
  if (write_in_flight_ || tls_in_progress_) return;
  const auto out = machine_->pending_output();
  if (out.empty()) return;
  write_in_flight_ = true;
  write_size_ = out.size();
  ctx_.io.write(conn_, std::span<const char>(reinterpret_cast<const char*>(out.data()), out.size()),
                [this, alive = alive_](IoStatus status) {
                  if (!*alive) return;
                  write_in_flight_ = false;
                  if (!status.ok()) {
                    log(LogLevel::info, "write failed: " + status.error->detail);
                    finish();
                    return;
                  }
                  machine_->consume_output(write_size_);
                  pump();
                });
}

void InboundSession::feed_buffered() {
  if (deciding_ || tls_requested_ || tls_in_progress_ || machine_->is_closed()) return;
  if (!input_.empty()) {
    const auto used =
        machine_->feed(std::span<const char>(input_.data(), input_.size()), ctx_.io.now());
    if (used > 0) {
      input_.erase(0, used);
      repump_ = true;  // events wait: handle them before feeding more
    }
    return;
  }
  if (eof_seen_ && !eof_fed_) {
    eof_fed_ = true;
    machine_->feed_eof(ctx_.io.now());
    repump_ = true;
  }
}

void InboundSession::read_more() {
  if (read_in_flight_ || eof_seen_ || tls_in_progress_ || tls_requested_) return;
  if (!input_.empty() || deciding_ || !machine_->wants_read()) return;
  read_in_flight_ = true;
  ctx_.io.read(conn_, [this, alive = alive_](IoResult<std::span<const char>> result) {
    if (!*alive) return;
    on_read(std::move(result));
  });
}

void InboundSession::on_read(IoResult<std::span<const char>> result) {
  read_in_flight_ = false;
  if (!result) {
    if (result.error().code != IoErrc::eof) {
      log(LogLevel::info, "connection lost: " + result.error().detail);
    }
    eof_seen_ = true;
    pump();
    return;
  }
  // The DATA path: bytes go straight from the read to the machine; only what it leaves
  // (a pending decision, a line cut by the read) is copied aside. A read is only issued
  // while input_ is empty and the machine wants bytes (read_more).
  const auto bytes = *result;
  const auto used = machine_->is_closed() ? 0 : machine_->feed(bytes, ctx_.io.now());
  input_.append(bytes.data() + used, bytes.size() - used);
  pump();
}

void InboundSession::arm_timer() {
  const auto deadline = machine_->poll_timeout();
  if (deadline == timer_deadline_) return;
  if (timer_) ctx_.io.cancel_timer(*timer_);
  timer_.reset();
  timer_deadline_ = deadline;
  if (!deadline) return;
  timer_ = ctx_.io.start_timer(*deadline, [this, alive = alive_] {
    if (!*alive) return;
    timer_.reset();
    timer_deadline_.reset();
    machine_->on_timeout(ctx_.io.now());
    pump();
  });
}

void InboundSession::start_tls() {
  tls_requested_ = false;
  const auto identity = settings_->tls_identities.find(listener_.certificate);
  if (identity == settings_->tls_identities.end()) {
    finish();
    return;
  }
  input_.clear();  // pipelined after STARTTLS: never read as commands (RFC 3207 §4.2)
  tls_in_progress_ = true;
  ctx_.io.start_tls_server(
      conn_, identity->second, [this, alive = alive_](IoResult<TlsFacts> result) {
        if (!*alive) return;
        tls_in_progress_ = false;
        if (!result) {
          log(LogLevel::info, "STARTTLS handshake failed: " + result.error().detail);
          finish();
          return;
        }
        tls_ = *result;
        log(LogLevel::info, "STARTTLS " + tls_->version + " " + tls_->cipher);
        helo_.clear();
        (void)machine_->on_tls_established(ctx_.io.now());
        pump();
      });
}

void InboundSession::shutdown() {
  if (finished_) return;
  if (!machine_) {
    finish();
    return;
  }
  machine_->shutdown(ctx_.io.now());
  pump();
}

void InboundSession::finish() {
  if (finished_) return;
  finished_ = true;
  if (timer_) ctx_.io.cancel_timer(*timer_);
  timer_.reset();
  if (writer_) ctx_.io.spool_discard(*writer_);
  writer_.reset();
  ctx_.io.close(conn_);
  if (rcpt_refusals_ > kRcptRefusalsLogged) {
    log(LogLevel::info, std::to_string(rcpt_refusals_ - kRcptRefusalsLogged) +
                            " more recipient refusals not logged (" +
                            std::to_string(rcpt_refusals_) + " in all; --debug shows each)");
  }
  log(LogLevel::info, "disconnect");
  ctx_.io.post(guarded([this] { on_finished_(); }));
}

// ---------------------------------------------------------------------------------------
// Events.

void InboundSession::handle(smtp::ServerEvent event) {
  std::visit(
      [this](auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, smtp::HelloEvent>) {
          on_hello(e);
        } else if constexpr (std::is_same_v<E, smtp::MailEvent>) {
          on_mail(e);
        } else if constexpr (std::is_same_v<E, smtp::RcptEvent>) {
          on_rcpt(e);
        } else if constexpr (std::is_same_v<E, smtp::BodyStartEvent>) {
          on_body_start();
        } else if constexpr (std::is_same_v<E, smtp::BodyChunkEvent>) {
          on_body_chunk(e.bytes);
        } else if constexpr (std::is_same_v<E, smtp::MessageEvent>) {
          on_message(e);
        } else if constexpr (std::is_same_v<E, smtp::MessageAbortedEvent>) {
          reset_transaction();
        } else if constexpr (std::is_same_v<E, smtp::AuthEvent>) {
          on_auth(e);
        } else if constexpr (std::is_same_v<E, smtp::AuthCancelledEvent>) {
          sasl_.reset();
          log(LogLevel::info, "AUTH cancelled by the client");
        } else if constexpr (std::is_same_v<E, smtp::VerifyEvent>) {
          on_verify(e);
        } else if constexpr (std::is_same_v<E, smtp::StartTlsEvent>) {
          tls_requested_ = true;
        } else if constexpr (std::is_same_v<E, smtp::ResetEvent>) {
          reset_transaction();
        } else if constexpr (std::is_same_v<E, smtp::RepliedEvent>) {
          // A reply to no command opens (220, 554) or closes (221, 421) the session. Refusals
          // are worth an operator's attention; the successful steps of a transaction are
          // summed up by "connect", "queued as" and "disconnect" (as Postfix does), and a
          // line per reply costs a write each on the path to the client's next command.
          const bool closing = e.reply.code == 221 || e.reply.code == 421;
          const std::string what = !e.verb.empty() ? e.verb : closing ? "closing" : "greeting";
          auto level = e.reply.code >= 400 ? LogLevel::info : LogLevel::debug;
          // A recipient flood is not a log flood: the first few refusals of a session are
          // logged, the rest counted and summed up at disconnect.
          if (e.verb == "RCPT" && e.reply.code >= 400 && ++rcpt_refusals_ > kRcptRefusalsLogged) {
            level = LogLevel::debug;
          }
          log(level, what + " -> " + reply_text(e.reply));
        } else if constexpr (std::is_same_v<E, smtp::ClosedEvent>) {
          log(LogLevel::debug, "session closed");
        }
      },
      event);
}

void InboundSession::decide(smtp::Ticket ticket, smtp::ServerDecision decision) {
  if (finished_) return;
  deciding_ = false;
  const auto error = machine_->decide(ticket, std::move(decision), ctx_.io.now());
  if (error) log(LogLevel::error, "decision refused by the machine: " + error.message());
  pump();
}

void InboundSession::reject(smtp::Ticket ticket, smtp::Reply refusal) {
  decide(ticket, smtp::Reject{std::move(refusal)});
}

// A recipient refused for good (unknown mailbox, relay denied) is answered after
// session.rcpt.errors.wait: enumerating mailboxes costs the client time, not us (the machine
// closes the session after session.rcpt.errors.total of them).
void InboundSession::reject_rcpt(smtp::Ticket ticket, smtp::Reply refusal) {
  if (refusal.code < 500 || settings_->rcpt_failure_delay.ns <= 0) return reject(ticket, refusal);
  deciding_ = true;
  ctx_.io.start_timer(
      ctx_.io.now() + settings_->rcpt_failure_delay,
      guarded([this, ticket, refusal = std::move(refusal)] { reject(ticket, refusal); }));
}

route::Variables InboundSession::variables() const {
  route::Variables vars;
  vars.set("listener", listener_.id);
  vars.set("remote_ip", facts_.remote.ip);
  vars.set("local_ip", facts_.local.ip);
  vars.set("helo_domain", smtp::chars::to_lower_ascii(helo_));
  vars.set("authenticated_as", authenticated_as_);
  vars.set("sender", envelope_.sender);
  vars.set("sender_domain", route::normalise_address(envelope_.sender).domain);
  vars.set("priority", std::int64_t{0});
  route::StringList all;
  for (const auto& r : envelope_.recipients) all.push_back(r.address);
  vars.set("recipients", std::move(all));
  return vars;
}

void InboundSession::on_hello(const smtp::HelloEvent& e) {
  const std::string name = smtp::serialize(e.host);
  reset_transaction();
  auto vars = variables();
  vars.set("helo_domain", smtp::chars::to_lower_ascii(name));
  if (auto refusal = inbound::hello_refusal(*settings_, vars, e)) {
    reject(e.ticket, std::move(*refusal));
    return;
  }
  helo_ = name;
  esmtp_ = e.kind != smtp::HelloKind::helo;
  // A hello is pending: set_extensions cannot fail.
  (void)machine_->set_extensions(inbound::extensions(*settings_, vars));
  decide(e.ticket, smtp::Accept{});
}

void InboundSession::reset_transaction() {
  if (writer_) ctx_.io.spool_discard(*writer_);
  writer_.reset();
  spool_error_.reset();
  envelope_ = SpoolEnvelope{};
  accepted_rcpts_ = 0;
}

void InboundSession::on_mail(const smtp::MailEvent& e) {
  reset_transaction();
  envelope_.sender =
      e.command.path.is_null() ? std::string() : smtp::serialize(e.command.path.path->mailbox);
  envelope_.sender_params = smtp::serialize_params(e.command.params);
  smtputf8_ = e.command.params.smtputf8;
  if (!envelope_.sender_params.empty() && envelope_.sender_params.front() == ' ') {
    envelope_.sender_params.erase(0, 1);
  }
  const auto ticket = e.ticket;
  const auto plan =
      inbound::plan_mail(*settings_, variables(), authenticated_as_, envelope_.sender);
  if (plan.ask == nullptr) return decide(ticket, smtp::Accept{});
  deciding_ = true;
  plan.ask->may_send_as(authenticated_as_, envelope_.sender,
                        [this, alive = alive_, ticket](directory::SenderOutcome outcome) {
                          if (!*alive) return;
                          if (auto refusal = inbound::mail_answer(outcome))
                            return reject(ticket, std::move(*refusal));
                          decide(ticket, smtp::Accept{});
                        });
}

void InboundSession::on_rcpt(const smtp::RcptEvent& e) {
  const auto ticket = e.ticket;
  // RFC 5321 §4.5.1: <Postmaster> without a domain is the postmaster of this host.
  const bool postmaster = e.command.path.is_bare_postmaster();
  const std::string address = postmaster
                                  ? "postmaster@" + smtp::chars::to_lower_ascii(settings_->hostname)
                                  : smtp::serialize(e.command.path.path->mailbox);
  const bool domain_host =
      postmaster || std::holds_alternative<smtp::Domain>(e.command.path.path->mailbox.host);
  auto vars = variables();
  vars.set("rcpt", address);
  const auto rcpt_domain = route::normalise_address(address).domain;
  vars.set("rcpt_domain", rcpt_domain);
  const auto plan = inbound::plan_rcpt(*settings_, vars, domain_host, rcpt_domain);
  const auto params = smtp::serialize_params(e.command.params);
  if (plan.refusal) {
    if (postmaster) {
      log(LogLevel::warning,
          "RCPT <Postmaster>: " + address + " is not a local mailbox (RFC 5321 4.5.1 wants one)");
    }
    return reject_rcpt(ticket, *plan.refusal);
  }
  if (plan.lookup) return on_rcpt_local(ticket, address, params, plan.lookup);
  accept_rcpt(ticket, make_recipient(address, params, ""));
}

// A recipient the policy accepted, if the queue can route it: one that no rule routes is
// refused now rather than accepted and bounced (backscatter to a sender that may be forged).
void InboundSession::accept_rcpt(smtp::Ticket ticket, SpoolRecipient recipient) {
  route::ConnectionFacts facts;
  facts.listener = listener_.id;
  facts.remote_ip = facts_.remote.ip;
  facts.local_ip = facts_.local.ip;
  facts.helo_domain = helo_;
  facts.authenticated_as = authenticated_as_;
  if (auto why =
          inbound::unroutable_reason(*settings_, facts, envelope_.sender, recipient.address)) {
    log(LogLevel::info, "RCPT <" + recipient.address + "> cannot be routed: " + *why);
    return reject_rcpt(ticket, replies::unroutable());
  }
  add_recipient(std::move(recipient));
  decide(ticket, smtp::Accept{});
}

void InboundSession::on_rcpt_local(smtp::Ticket ticket, const std::string& address,
                                   std::string params, directory::Directory* dir) {
  deciding_ = true;
  dir->check_recipient(address, [this, alive = alive_, ticket, address,
                                 params](directory::RecipientOutcome outcome) {
    if (!*alive) return;
    auto verdict = inbound::rcpt_answer(outcome);
    if (verdict.refusal) return reject_rcpt(ticket, std::move(*verdict.refusal));
    accept_rcpt(ticket, make_recipient(address, params, verdict.account));
  });
}

// One delivery per distinct mailbox: a recipient the transaction already has (the same
// local mailbox, or the same address as the router normalises it) is answered 250 like the
// first, as Postfix does, but not stored again: 100 RCPTs of one address are one copy, not
// a hundredfold amplification. The first RCPT's parameters (NOTIFY, ORCPT) stand.
void InboundSession::add_recipient(SpoolRecipient recipient) {
  ++accepted_rcpts_;
  auto key = [](const SpoolRecipient& r) {
    return r.account.empty() ? "address:" + route::normalise_address(r.address).address
                             : "mailbox:" + r.account;
  };
  const auto mine = key(recipient);
  for (const auto& r : envelope_.recipients) {
    if (key(r) == mine) {
      log(LogLevel::debug, "duplicate recipient <" + recipient.address + "> is delivered once");
      return;
    }
  }
  envelope_.recipients.push_back(std::move(recipient));
}

// VRFY / EXPN, when session.extensions.vrfy / .expn offer them (runtime/inbound/verify.hpp):
// the argument is looked up as RCPT would look it up.
void InboundSession::on_verify(const smtp::VerifyEvent& e) {
  auto vars = variables();
  auto* dir = policy_directory(*settings_, "session.rcpt.directory", vars);
  const auto plan = inbound::plan_verify(e.text, [dir](std::string_view domain) {
    return dir != nullptr && dir->is_local_domain(domain);
  });
  if (plan.answer) {
    const bool positive = plan.answer->code < 300;
    if (positive) return decide(e.ticket, smtp::Accept{*plan.answer});
    return reject(e.ticket, *plan.answer);
  }
  deciding_ = true;
  dir->check_recipient(plan.lookup, [this, alive = alive_, ticket = e.ticket, expand = e.expand,
                                     address = plan.lookup](directory::RecipientOutcome outcome) {
    if (!*alive) return;
    auto answer = inbound::verify_reply(address, expand, outcome.status);
    if (answer.code < 300) return decide(ticket, smtp::Accept{std::move(answer)});
    reject(ticket, std::move(answer));
  });
}

// ---------------------------------------------------------------------------------------
// The body and the spool.

void InboundSession::on_body_start() {
  spool_error_.reset();
  std::string queue_id;
  for (int attempt = 0; attempt < 4 && !writer_; ++attempt) {
    queue_id = queue_id_from(ctx_.io.random_u64());
    auto created = ctx_.io.spool_create(queue_id);
    if (created) {
      writer_ = *created;
    } else if (created.error().code != IoErrc::invalid) {
      spool_error_ = created.error();
      break;
    }
  }
  if (!writer_) {
    if (!spool_error_) spool_error_ = IoError{IoErrc::io_error, "no free queue id"};
    return;
  }
  envelope_.id = queue_id;
  envelope_.received_unix = ctx_.io.wall_unix_seconds();
  protocol::mail::ReceivedFacts facts;
  facts.helo = helo_;
  facts.remote_ip = facts_.remote.ip;
  facts.hostname = settings_->hostname;
  facts.lmtp = listener_.lmtp;
  facts.esmtp = esmtp_;
  facts.tls = tls_.has_value();
  if (tls_) {
    facts.tls_version = tls_->version;
    facts.tls_cipher = tls_->cipher;
    facts.tls_cipher_bits = tls_->cipher_bits;
  }
  facts.authenticated = !authenticated_as_.empty();
  facts.utf8 = smtputf8_;
  facts.id = queue_id;
  if (envelope_.recipients.size() == 1) facts.single_recipient = envelope_.recipients[0].address;
  facts.unix_seconds = envelope_.received_unix;
  on_body_chunk(protocol::mail::received_header(facts));
}

void InboundSession::on_body_chunk(const std::string& bytes) {
  if (!writer_ || spool_error_) return;
  auto status = ctx_.io.spool_append(*writer_, std::span<const char>(bytes.data(), bytes.size()));
  if (!status.ok()) {
    spool_error_ = status.error;
    ctx_.io.spool_discard(*writer_);
    writer_.reset();
    return;
  }
  envelope_.body_bytes += bytes.size();
}

void InboundSession::on_message(const smtp::MessageEvent& e) {
  const auto ticket = e.ticket;
  auto refuse = [this, ticket](const IoError& error) {
    log(LogLevel::error, "spool: " + error.detail);
    // RFC 5321 452 for both: the client must retry later either way, and the issue of
    // record (a write that did not reach the disk) is one of storage.
    reject(ticket,
           error.code == IoErrc::no_space ? replies::storage_full() : replies::storage_failed());
    reset_transaction();
  };
  if (spool_error_ || !writer_) {
    refuse(spool_error_.value_or(IoError{IoErrc::io_error, "no spool file"}));
    return;
  }
  envelope_.listener = listener_.id;
  envelope_.remote_ip = facts_.remote.ip;
  envelope_.local_ip = facts_.local.ip;
  envelope_.helo = helo_;
  envelope_.authenticated_as = authenticated_as_;
  const auto writer = *writer_;
  writer_.reset();
  deciding_ = true;
  auto envelope = envelope_;
  // A deliberately broken engine (runtime/buggify.hpp): 250 before the message is durable.
  // The simulation's self-test switches it on and must catch it.
  const bool early_250 = !listener_.lmtp && buggify::on(buggify::Site::early_250);
  if (early_250) decide(ticket, smtp::Accept{replies::queued(envelope.id)});
  ctx_.io.spool_commit(
      writer, serialize_envelope(envelope),
      [this, alive = alive_, queue = &ctx_.queue, queue_alive = ctx_.queue.alive_token(), ticket,
       refuse, envelope, early_250](IoStatus status) mutable {
        if (!*alive) {
          // The client is gone, but a durable message is never left behind.
          if (status.ok() && *queue_alive) queue->enqueue(std::move(envelope));
          return;
        }
        if (!status.ok()) {
          refuse(*status.error);
          return;
        }
        log(LogLevel::info, "queued as " + envelope.id + " from <" + envelope.sender + "> (" +
                                std::to_string(envelope.body_bytes) + " bytes, " +
                                std::to_string(envelope.recipients.size()) +
                                (envelope.recipients.size() == 1 ? " recipient)" : " recipients)"));
        const auto id = envelope.id;
        const auto count = accepted_rcpts_;  // LMTP: one reply per accepted RCPT
        ctx_.queue.enqueue(std::move(envelope));
        envelope_ = SpoolEnvelope{};
        accepted_rcpts_ = 0;
        if (listener_.lmtp) {
          std::vector<smtp::Reply> replies(count, replies::queued_for_rcpt(id));
          decide(ticket, smtp::PerRecipient{std::move(replies)});
        } else if (!early_250) {
          decide(ticket, smtp::Accept{replies::queued(id)});
        }
      });
}

// ---------------------------------------------------------------------------------------
// AUTH.

void InboundSession::on_auth(const smtp::AuthEvent& e) {
  const auto ticket = e.ticket;
  if (!sasl_) {
    auto server = sasl::make_server(e.mechanism, sasl::ServerConfig{});
    if (!server) {
      reject(ticket, replies::auth_unknown_mechanism());
      return;
    }
    sasl_.emplace(std::move(*server));
    sasl_mechanism_ = e.mechanism;
    if (e.response) {
      on_auth_step(ticket, sasl_->start(std::string_view(*e.response)));
    } else {
      on_auth_step(ticket, sasl_->start(std::nullopt));
    }
    return;
  }
  on_auth_step(ticket, sasl_->step(e.response.value_or(std::string())));
}

void InboundSession::on_auth_step(smtp::Ticket ticket, sasl::StepResult step) {
  if (step.error()) {
    sasl_.reset();
    reject(ticket, replies::auth_exchange_failed());
    return;
  }
  const auto& value = step.value();
  if (const auto* challenge = std::get_if<sasl::Challenge>(&value)) {
    decide(ticket, smtp::Challenge{challenge->bytes});
    return;
  }
  if (std::holds_alternative<sasl::Success>(value)) {
    sasl_.reset();
    decide(ticket, smtp::Authenticated{});
    return;
  }
  if (const auto* failure = std::get_if<sasl::Failure>(&value)) {
    sasl_.reset();
    const bool malformed = failure->reason == sasl::FailureReason::malformed;
    reject(ticket, malformed ? replies::auth_malformed() : replies::auth_invalid());
    return;
  }
  auth_started_ = ctx_.io.now();  // failures are answered auth_failure_delay from here
  const auto& verify = std::get<sasl::Verify>(value);
  const auto* password = std::get_if<sasl::PasswordCredentials>(&verify.credentials);
  auto* dir = policy_directory(*settings_, "session.auth.directory", variables());
  if (password == nullptr || dir == nullptr ||
      (!password->authzid.empty() && password->authzid != password->authcid)) {
    // Only password mechanisms are backed by directories, and no one may act for another.
    directory::AuthOutcome outcome;
    outcome.reason = "mechanism or authorization identity not supported";
    deciding_ = true;
    ctx_.io.post(guarded([this, ticket, outcome] { on_auth_verified(ticket, outcome); }));
    return;
  }
  deciding_ = true;
  const std::string user = password->authcid;
  if (auto what =
          ctx_.auth_lockout.locked(facts_.remote.ip, user, auth_started_, lockout_limits())) {
    // The lockout itself was logged once, when it began: one line per guess would let a
    // brute force flood the log.
    log(LogLevel::debug, "AUTH " + sasl_mechanism_ + " as " + user + " refused: the " +
                             std::string(*what) + " is locked out after too many failures");
    sasl_.reset();
    ctx_.io.start_timer(auth_started_ + settings_->auth_failure_delay,
                        guarded([this, ticket] { reject(ticket, replies::auth_locked()); }));
    return;
  }
  dir->authenticate(user, password->password,
                    [this, alive = alive_, ticket, user](directory::AuthOutcome outcome) {
                      if (!*alive) return;
                      if (outcome.status == directory::AuthStatus::authenticated) {
                        authenticated_as_ = outcome.principal;
                      } else if (outcome.status == directory::AuthStatus::rejected &&
                                 ctx_.auth_lockout.failed(facts_.remote.ip, user, ctx_.io.now(),
                                                          lockout_limits())) {
                        log(LogLevel::warning,
                            "AUTH lockout: " + facts_.remote.ip + " or login " + user +
                                " reached its failure limit; refused for up to " +
                                std::to_string(settings_->auth_lockout_window.ns / 1'000'000'000) +
                                " s");
                      }
                      on_auth_verified(ticket, outcome);
                    });
}

inbound::LockoutLimits InboundSession::lockout_limits() const {
  return inbound::LockoutLimits{settings_->auth_lockout_ip, settings_->auth_lockout_account,
                                settings_->auth_lockout_window};
}

void InboundSession::on_auth_verified(smtp::Ticket ticket, const directory::AuthOutcome& outcome) {
  if (!sasl_) return;
  const bool ok = outcome.status == directory::AuthStatus::authenticated;
  auto next = outcome.status == directory::AuthStatus::unavailable ? sasl_->unavailable()
                                                                   : sasl_->verified(ok);
  if (ok) {
    log(LogLevel::info, "AUTH " + sasl_mechanism_ + " as " + outcome.principal);
    on_auth_step(ticket, std::move(next));
    return;
  }
  log(LogLevel::info, "AUTH " + sasl_mechanism_ + " failed: " + std::string(outcome.reason));
  sasl_.reset();
  const bool unavailable = outcome.status == directory::AuthStatus::unavailable;
  // Every failure is answered the same delay after the credentials arrived, however long the
  // directory took: no timing tells an unknown user from a wrong password.
  const Instant answer_at = std::max(ctx_.io.now(), auth_started_ + settings_->auth_failure_delay);
  ctx_.io.start_timer(answer_at, guarded([this, ticket, unavailable] {
                        if (unavailable) {
                          reject(ticket, replies::auth_temporary());
                        } else {
                          reject(ticket, replies::auth_invalid());
                        }
                      }));
}

}  // namespace tern::runtime
