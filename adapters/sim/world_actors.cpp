#include "adapters/sim/world_actors.hpp"

#include <algorithm>
#include <utility>

#include "protocol/imap/server_session.hpp"

namespace tern::adapters::sim::world {

namespace smtp = protocol::smtp;
using runtime::Duration;
using runtime::Endpoint;

namespace {

constexpr std::string_view kTokenPrefix = "SIMTOKEN-";
constexpr int kPumpGuard = 100000;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

std::string reply_text(const smtp::Reply& reply) {
  std::string out = std::to_string(reply.code);
  if (!reply.lines.empty()) out += " " + reply.lines.front();
  return out;
}

smtp::Reply make_reply(std::uint16_t code, smtp::EnhancedStatus status, std::string text) {
  return smtp::Reply{code, status, {std::move(text)}};
}

smtp::Path path_of(const std::string& address) {
  const auto at = address.rfind('@');
  return smtp::Path{smtp::Mailbox{address.substr(0, at), smtp::Domain{address.substr(at + 1)}}};
}

std::string address_of(const smtp::ForwardPath& path) {
  if (!path.path) return "postmaster";
  const auto& mailbox = path.path->mailbox;
  const auto* domain = std::get_if<smtp::Domain>(&mailbox.host);
  return lower(mailbox.local_part + "@" + (domain ? domain->name : std::string("?")));
}

}  // namespace

bool chance(Prng& prng, std::uint32_t per_million) {
  return per_million > 0 && prng.below(1'000'000) < per_million;
}

// ---- Trace.

void Trace::add(const std::string& line) {
  const std::int64_t ms = io_.now().ns / 1'000'000;
  std::string stamped = "[" + std::to_string(ms / 1000) + "." +
                        std::to_string(1000 + ms % 1000).substr(1) + "] " + line;
  for (unsigned char c : stamped) {
    hash_ ^= c;
    hash_ *= 0x100000001b3ULL;
  }
  lines.push_back(std::move(stamped));
}

// ---- Ledger.

std::size_t Ledger::add_message(std::string sender, std::vector<std::string> rcpts) {
  MessageTruth truth;
  truth.token = token(messages_.size());
  truth.sender = lower(sender);
  for (auto& r : rcpts) truth.rcpts.push_back(lower(r));
  messages_.push_back(std::move(truth));
  return messages_.size() - 1;
}

std::string Ledger::token(std::size_t index) const {
  return std::string(kTokenPrefix) + std::to_string(seed_) + "-" + std::to_string(index);
}

std::optional<std::size_t> Ledger::index_of(const std::string& content) const {
  const auto at = content.find(kTokenPrefix);
  if (at == std::string::npos) return std::nullopt;
  std::size_t pos = at + kTokenPrefix.size();
  std::uint64_t seed = 0, index = 0;
  bool dash = false, digits = false;
  for (; pos < content.size() && pos < at + 64; ++pos) {
    const char c = content[pos];
    if (c == '-' && !dash) {
      dash = true;
      digits = false;
      continue;
    }
    if (c < '0' || c > '9') break;
    digits = true;
    (dash ? index : seed) = (dash ? index : seed) * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!dash || !digits || seed != seed_ || index >= messages_.size()) return std::nullopt;
  return static_cast<std::size_t>(index);
}

void Ledger::violation(std::string line) {
  trace_.add("VIOLATION " + line);
  violations.push_back(std::move(line));
}

void Ledger::allow_repeat(std::size_t index, const std::string& why) {
  if (messages_[index].repeat_reason.empty()) messages_[index].repeat_reason = why;
}

bool Ledger::finished(std::size_t index) const {
  for (const auto& rcpt : messages_[index].accepted) {
    const auto key = std::make_pair(index, rcpt);
    if (deliveries.count(key) == 0 && bounces.count(key) == 0) return false;
  }
  return true;
}

void Ledger::observe(const std::string& content, const std::string& rcpt_in,
                     const std::string& where) {
  const std::string rcpt = lower(rcpt_in);
  const auto index = index_of(content);
  if (!index) {
    violation("inv2: a message with no known token was delivered to " + rcpt + " (" + where +
              "): " + content.substr(0, 120));
    return;
  }
  if (content.find("multipart/report") != std::string::npos) {
    observe_dsn(*index, content, rcpt, where);
    return;
  }
  auto& truth = messages_[*index];
  trace_.add("delivered " + truth.token + " to " + rcpt + " (" + where + ")");
  ++deliveries[{*index, rcpt}];
  ++delivered_total;
  if (truth.fate == Fate::refused || truth.fate == Fate::unsent) {
    violation("inv2: " + truth.token + " was delivered to " + rcpt + " (" + where +
              ") but the client " +
              (truth.fate == Fate::refused ? "saw it refused" : "never sent its body"));
  }
  if (std::find(truth.rcpts.begin(), truth.rcpts.end(), rcpt) == truth.rcpts.end()) {
    violation("inv1: " + truth.token + " was delivered to " + rcpt + " (" + where +
              "), which is not one of its recipients");
  }
}

void Ledger::observe_dsn(std::size_t index, const std::string& content, const std::string& rcpt,
                         const std::string& where) {
  auto& truth = messages_[index];
  constexpr std::string_view kFinal = "Final-Recipient: rfc822;";
  bool any = false;
  for (auto at = content.find(kFinal); at != std::string::npos; at = content.find(kFinal, at + 1)) {
    auto start = at + kFinal.size();
    while (start < content.size() && content[start] == ' ') ++start;
    const auto end = content.find("\r\n", start);
    if (end == std::string::npos) break;
    const std::string failed = lower(content.substr(start, end - start));
    if (content.compare(end + 2, 14, "Action: failed") != 0) continue;
    any = true;
    trace_.add("bounced " + truth.token + " for " + failed + " in a DSN to " + rcpt + " (" + where +
               ")");
    ++bounces[{index, failed}];
    ++bounced_total;
    if (rcpt != truth.sender) {
      violation("inv1: the DSN of " + truth.token + " for " + failed + " went to " + rcpt +
                ", not to its sender " + truth.sender);
    }
  }
  if (!any) trace_.add("notice about " + truth.token + " to " + rcpt + " (not a failure)");
}

// ---- Client.

Client::Client(SimIo& io, Ledger& ledger, Trace& trace, ClientPlan plan, int number)
    : io_(io), ledger_(ledger), trace_(trace), plan_(std::move(plan)), number_(number) {}

bool Client::begin() {
  const std::uint16_t port = plan_.kind == ClientKind::smtp         ? 25
                             : plan_.kind == ClientKind::submission ? 587
                                                                    : 24;
  const auto peer =
      io_.connect_peer(Endpoint{"127.0.0.1", port},
                       Endpoint{plan_.ip, static_cast<std::uint16_t>(20000 + number_ % 40000)});
  if (!peer) {
    finish("nobody listens on port " + std::to_string(port));
    return false;
  }
  peer_ = *peer;
  smtp::ClientConfig config;
  config.mode = plan_.kind == ClientKind::lmtp ? smtp::ClientMode::lmtp : smtp::ClientMode::smtp;
  config.helo_name = "client" + std::to_string(number_) + ".example";
  config.starttls = plan_.kind == ClientKind::submission ? smtp::StartTlsPolicy::require
                    : plan_.starttls                     ? smtp::StartTlsPolicy::optional
                                                         : smtp::StartTlsPolicy::disable;
  config.use_chunking = plan_.chunking;
  chunks_ = Prng(plan_.chunk_seed);
  if (plan_.kind == ClientKind::submission) {
    smtp::ClientAuth auth;
    auth.mechanisms = {"PLAIN"};
    auth.credentials.username = plan_.login.empty() ? plan_.user : plan_.login;
    auth.credentials.password = "pw-" + plan_.user;
    config.auth = std::move(auth);
  }
  machine_.emplace(std::move(config), io_.now());
  trace_.add("client " + std::to_string(number_) + " connects to port " + std::to_string(port));
  io_.peer_on_bytes(peer_, [this](std::string_view bytes) {
    inbox_ += bytes;
    pump();
  });
  pump();
  return true;
}

void Client::drip() {
  if (outbox_.empty() || io_.now() < next_drip_) return;
  const std::size_t n = std::min<std::size_t>(outbox_.size(), 1 + chunks_.below(16));
  io_.peer_send(peer_, std::string_view(outbox_).substr(0, n));
  outbox_.erase(0, n);
  next_drip_ = io_.now() + runtime::Duration::milliseconds(plan_.slow_ms);
}

void Client::poll() {
  if (done_ || !machine_) return;
  drip();
  if (io_.peer_closed_by_engine(peer_)) {
    machine_->feed_eof(io_.now());
    pump();
    if (!done_) finish("connection closed by the engine");
    return;
  }
  const auto deadline = machine_->poll_timeout();
  if (deadline && *deadline <= io_.now()) {
    machine_->on_timeout(io_.now());
    pump();
  }
}

void Client::pump() {
  for (int guard = 0; guard < kPumpGuard && !done_; ++guard) {
    const std::size_t used = machine_->feed(inbox_, io_.now());
    inbox_.erase(0, used);
    bool progressed = used > 0;
    while (auto event = machine_->poll_event()) {
      progressed = true;
      // A MessageDoneEvent right before SessionFailedEvent carries the machine's stand-in
      // outcomes (the connection was lost), not replies the server gave.
      if (done_pending_) {
        done_pending_ = false;
        resolve(!std::holds_alternative<smtp::SessionFailedEvent>(*event));
      }
      on_event(*event);
      if (done_) return;
    }
    if (done_pending_) {
      done_pending_ = false;
      resolve(true);
    }
    const auto out = machine_->pending_output();
    if (!out.empty()) {
      if (plan_.slow_ms == 0) {
        io_.peer_send(peer_, std::string_view(out.data(), out.size()));
      } else {
        outbox_.append(out.data(), out.size());
      }
      machine_->consume_output(out.size());
      progressed = true;
    }
    if (!progressed) break;
  }
}

void Client::on_event(smtp::ClientEvent& event) {
  const auto now = io_.now();
  if (std::holds_alternative<smtp::ReadyEvent>(event)) {
    submit_next();
  } else if (std::holds_alternative<smtp::ClientStartTlsEvent>(event)) {
    if (plan_.tls_fail) {
      trace_.add("client " + std::to_string(number_) + ": its TLS handshake will fail");
      io_.peer_fail_tls(peer_);
    }
    io_.peer_start_tls(peer_);
    if (machine_->on_tls_established(now)) finish("TLS refused by the machine");
  } else if (std::holds_alternative<smtp::BodyWantedEvent>(event)) {
    if (!send_body(plan_.messages[*current_].body)) {
      finish("the machine refused the body");
      return;
    }
    body_sent_ = true;
    ledger_.message(plan_.messages[*current_].index).fate = Fate::unknown;
  } else if (auto* rcpt = std::get_if<smtp::RecipientEvent>(&event)) {
    check_directory_reply(*rcpt);
    outcomes_.push_back(*rcpt);
  } else if (std::holds_alternative<smtp::MessageDoneEvent>(event)) {
    done_pending_ = true;
  } else if (auto* failed = std::get_if<smtp::SessionFailedEvent>(&event)) {
    trace_.add("client " + std::to_string(number_) + " session failed: " + failed->reason);
    resolve(false);
  } else if (std::holds_alternative<smtp::ClientClosedEvent>(event)) {
    io_.peer_close(peer_);
    finish("closed");
  }
}

// The body in pieces of random size (with CHUNKING each piece is one BDAT; a piece may end
// between CR and LF), up to 8 of them, then the end.
bool Client::send_body(const std::string& body) {
  const auto now = io_.now();
  std::size_t at = 0;
  for (int piece = 0; piece < 7 && at < body.size(); ++piece) {
    const std::size_t n = 1 + chunks_.below(std::min<std::size_t>(body.size() - at, 8192));
    if (machine_->send_body(std::string_view(body).substr(at, n), now)) return false;
    at += n;
  }
  if (at < body.size() && machine_->send_body(std::string_view(body).substr(at), now)) return false;
  return !machine_->end_body(now);
}

void Client::submit_next() {
  if (next_message_ >= plan_.messages.size()) {
    machine_->quit(io_.now());
    return;
  }
  current_ = next_message_++;
  const auto& plan = plan_.messages[*current_];
  const auto& truth = ledger_.message(plan.index);
  smtp::Envelope envelope;
  envelope.sender = smtp::ReversePath{path_of(truth.sender)};
  rcpt_of_.clear();
  for (std::size_t i = 0; i < truth.rcpts.size(); ++i) {
    const bool twice = plan_.duplicate_rcpts && plan.truths[i] == RcptTruth::accept;
    for (int copy = 0; copy < (twice ? 2 : 1); ++copy) {
      envelope.recipients.push_back(smtp::Rcpt{{path_of(truth.rcpts[i])}, {}});
      rcpt_of_.push_back(i);
    }
  }
  body_sent_ = false;
  outcomes_.clear();
  trace_.add("client " + std::to_string(number_) + " submits " + truth.token);
  if (machine_->submit(std::move(envelope), io_.now())) finish("the machine refused submit");
}

void Client::check_truth(const MessagePlan& plan, std::size_t i, const smtp::RecipientEvent& e) {
  const auto& truth = ledger_.message(plan.index);
  const auto expected = plan.truths[i];
  const std::string where = truth.token + " rcpt " + truth.rcpts[i] + ": ";
  if (expected == RcptTruth::accept) {
    if (e.outcome == smtp::Outcome::permanent_failure)
      ledger_.violation("inv3: " + where + "expected acceptance, the client saw " +
                        reply_text(e.reply));
    return;
  }
  if (e.outcome == smtp::Outcome::delivered)
    ledger_.violation("inv3: " + where + "expected 550 (" +
                      (expected == RcptTruth::unknown_user ? "unknown user" : "relay denied") +
                      "), the client saw " + reply_text(e.reply));
  else if (e.outcome == smtp::Outcome::permanent_failure && e.reply.code != 550)
    ledger_.violation("inv3: " + where + "expected 550, the client saw " + reply_text(e.reply));
}

// Invariant 3, as the reply arrives: 4.4.3 is the engine's "directory unavailable", which
// only a remote directory that may be failing now can cause.
void Client::check_directory_reply(const smtp::RecipientEvent& e) {
  if (e.reply.code != 451 || e.reply.enhanced != smtp::EnhancedStatus{4, 4, 3}) return;
  if (!current_ || (directory_may_fail && directory_may_fail())) return;
  const auto& truth = ledger_.message(plan_.messages[*current_].index);
  ledger_.violation("inv3: " + truth.token + " rcpt " + truth.rcpts[e.index] + ": the client saw " +
                    reply_text(e.reply) + " while the directory cannot fail");
}

void Client::resolve(bool message_done) {
  if (!current_) return;
  const auto& plan = plan_.messages[*current_];
  auto& truth = ledger_.message(plan.index);
  bool acked = false;
  for (const auto& e : outcomes_) {
    const std::size_t i = rcpt_of_.at(e.index);  // a duplicate RCPT answers for its original
    check_truth(plan, i, e);
    if (message_done && body_sent_ && e.outcome == smtp::Outcome::delivered &&
        e.reply.code == 250) {
      acked = true;
      truth.accepted.insert(truth.rcpts[i]);
      const auto& text = e.reply.lines.empty() ? std::string() : e.reply.lines.front();
      const auto at = text.find("queued as ");
      if (at != std::string::npos) truth.queue_id = text.substr(at + 10);
    }
  }
  if (acked) {
    truth.fate = Fate::acked;
    trace_.add("client " + std::to_string(number_) + " saw 250 for " + truth.token + " (" +
               truth.queue_id + ")");
    if (on_acked) on_acked(plan.index);
  } else if (message_done && body_sent_) {
    truth.fate = Fate::refused;
    trace_.add("client " + std::to_string(number_) + " saw " + truth.token + " refused");
  }
  current_.reset();
  outcomes_.clear();
}

void Client::finish(const std::string& why) {
  if (done_) return;
  resolve(false);
  done_ = true;
  trace_.add("client " + std::to_string(number_) + " done: " + why);
}

// ---- RemoteServer.

struct RemoteServer::Conn {
  Conn(RemoteServer& server, PeerId id) : server(server), id(id) {}
  RemoteServer& server;
  PeerId id;
  std::optional<smtp::ServerSession> machine;
  std::string inbox;
  bool closed = false;
  bool stall = false;
  bool close_mid_data = false;
  Duration slow{};
  std::string body;
  std::vector<std::string> rcpts;
  std::vector<std::size_t> unconfirmed;  // tokens whose 250 the engine has not shown it read

  void pump();
  void send(std::string bytes);
  void on_event(smtp::ServerEvent& event);
  smtp::ServerDecision rcpt_decision(const smtp::RcptEvent& e);
  smtp::ServerDecision message_decision();
  void record(const std::string& rcpt);
};

RemoteServer::RemoteServer(SimIo& io, Ledger& ledger, Trace& trace, std::string name, Endpoint at,
                           bool lmtp, RemoteScript script, Prng prng, bool never_permanent)
    : io_(io),
      ledger_(ledger),
      trace_(trace),
      name_(std::move(name)),
      lmtp_(lmtp),
      script_(script),
      prng_(prng),
      never_permanent_(never_permanent),
      at_(std::move(at)) {
  serve();
}

RemoteServer::~RemoteServer() = default;

void RemoteServer::serve() {
  io_.serve(at_, [this](PeerId peer) { accept(peer); });
}
void RemoteServer::refuse() {
  io_.stop_serving(at_);
}
void RemoteServer::blackhole() {
  io_.blackhole(at_);
}

void RemoteServer::accept(PeerId peer) {
  ++connections_;
  conns_.push_back(std::make_unique<Conn>(*this, peer));
  Conn& conn = *conns_.back();
  if (!healed_ && chance(prng_, script_.greet_421)) {
    trace_.add(name_ + " greets with 421");
    io_.peer_send(peer, "421 4.3.2 " + name_ + " busy, try later\r\n");
    io_.peer_close(peer);
    conn.closed = true;
    return;
  }
  if (!healed_) {
    conn.stall = chance(prng_, script_.stall);
    conn.close_mid_data = chance(prng_, script_.close_mid_data);
    if (chance(prng_, script_.slow)) conn.slow = Duration::milliseconds(500 + prng_.below(15000));
  }
  smtp::ServerConfig config;
  config.mode = lmtp_ ? smtp::ServerMode::lmtp : smtp::ServerMode::smtp;
  config.hostname = name_;
  conn.machine.emplace(config, io_.now());
  io_.peer_on_bytes(peer, [&conn](std::string_view bytes) {
    conn.inbox += bytes;
    conn.pump();
  });
  conn.pump();
}

void RemoteServer::release_unconfirmed() {
  for (auto& conn : conns_) {
    for (auto index : conn->unconfirmed)
      ledger_.allow_repeat(index, "the 250 of " + name_ + " was never confirmed by a next command");
    conn->unconfirmed.clear();
  }
}

void RemoteServer::Conn::send(std::string bytes) {
  SimIo& io = server.io_;
  if (slow.ns <= 0) {
    io.peer_send(id, bytes);
    return;
  }
  // A slow server: the reply leaves later (below the engine's timeouts). The timer dies
  // with a crash, as the connection does.
  io.start_timer(io.now() + slow,
                 [&io, peer = id, bytes = std::move(bytes)] { io.peer_send(peer, bytes); });
}

void RemoteServer::Conn::pump() {
  SimIo& io = server.io_;
  for (int guard = 0; guard < kPumpGuard && !closed; ++guard) {
    const std::size_t used = machine->feed(inbox, io.now());
    inbox.erase(0, used);
    bool progressed = used > 0;
    while (auto event = machine->poll_event()) {
      progressed = true;
      on_event(*event);
      if (closed) return;
    }
    const auto out = machine->pending_output();
    if (!out.empty()) {
      send(std::string(out.data(), out.size()));
      machine->consume_output(out.size());
    }
    if (machine->is_closed()) {
      closed = true;
      io.peer_close(id);
    }
    if (!progressed) break;
  }
}

void RemoteServer::Conn::on_event(smtp::ServerEvent& event) {
  SimIo& io = server.io_;
  if (auto* closed_event = std::get_if<smtp::ClosedEvent>(&event)) {
    if (closed_event->reason == smtp::CloseReason::quit) unconfirmed.clear();
    return;
  }
  if (auto* chunk = std::get_if<smtp::BodyChunkEvent>(&event)) {
    body += chunk->bytes;
    if (close_mid_data) {
      server.trace_.add(server.name_ + " closes in the middle of DATA");
      closed = true;
      io.peer_close(id);
    }
    return;
  }
  // A new command shows that the engine read our last reply (RepliedEvent, BodyStartEvent
  // and the rest are ours or the body's).
  if (std::holds_alternative<smtp::HelloEvent>(event) ||
      std::holds_alternative<smtp::MailEvent>(event) ||
      std::holds_alternative<smtp::RcptEvent>(event) ||
      std::holds_alternative<smtp::ResetEvent>(event) ||
      std::holds_alternative<smtp::AuthEvent>(event))
    unconfirmed.clear();
  std::optional<smtp::Ticket> ticket;
  smtp::ServerDecision decision = smtp::Accept{};
  if (auto* hello = std::get_if<smtp::HelloEvent>(&event)) {
    ticket = hello->ticket;
  } else if (auto* mail = std::get_if<smtp::MailEvent>(&event)) {
    ticket = mail->ticket;
    body.clear();
    rcpts.clear();
  } else if (auto* rcpt = std::get_if<smtp::RcptEvent>(&event)) {
    ticket = rcpt->ticket;
    decision = rcpt_decision(*rcpt);
  } else if (auto* message = std::get_if<smtp::MessageEvent>(&event)) {
    if (stall) {
      server.trace_.add(server.name_ + " stalls at the end of data");
      return;
    }
    ticket = message->ticket;
    decision = message_decision();
  } else if (auto* auth = std::get_if<smtp::AuthEvent>(&event)) {
    ticket = auth->ticket;
    decision = smtp::Authenticated{};
  } else if (std::holds_alternative<smtp::ResetEvent>(event) ||
             std::holds_alternative<smtp::MessageAbortedEvent>(event)) {
    body.clear();
    rcpts.clear();
  }
  if (ticket) (void)machine->decide(*ticket, decision, io.now());
}

smtp::ServerDecision RemoteServer::Conn::rcpt_decision(const smtp::RcptEvent& e) {
  const std::string address = address_of(e.command.path);
  if (!server.healed_) {
    if (chance(server.prng_, server.script_.rcpt_temp))
      return smtp::Reject{make_reply(450, {4, 2, 1}, "mailbox busy")};
    if (!server.never_permanent_ && chance(server.prng_, server.script_.rcpt_perm))
      return smtp::Reject{make_reply(550, {5, 1, 1}, "no such user here")};
  }
  rcpts.push_back(address);
  return smtp::Accept{};
}

smtp::ServerDecision RemoteServer::Conn::message_decision() {
  auto draw = [this]() -> std::optional<smtp::Reply> {
    if (server.healed_) return std::nullopt;
    if (chance(server.prng_, server.script_.data_temp))
      return make_reply(451, {4, 3, 0}, "try again later");
    if (!server.never_permanent_ && chance(server.prng_, server.script_.data_perm))
      return make_reply(554, {5, 6, 0}, "content rejected");
    return std::nullopt;
  };
  if (server.lmtp_) {
    smtp::PerRecipient per;
    for (const auto& r : rcpts) {
      auto refusal = draw();
      if (!refusal) record(r);
      per.replies.push_back(refusal ? *refusal : make_reply(250, {2, 0, 0}, "stored " + r));
    }
    return per;
  }
  if (auto refusal = draw()) return smtp::Reject{*refusal};
  for (const auto& r : rcpts) record(r);
  return smtp::Accept{};
}

void RemoteServer::Conn::record(const std::string& rcpt) {
  server.ledger_.observe(body, rcpt, server.name_);
  if (auto index = server.ledger_.index_of(body)) unconfirmed.push_back(*index);
}

// ---- DirectoryServer.

namespace imap = protocol::imap;

struct DirectoryServer::Conn {
  virtual ~Conn() = default;
};

// One connection of the directory server: the machine's decisions come from the world's
// users and the script; a slow connection sends everything (the STARTTLS go-ahead and the
// handshake included) through one constant delay, which keeps the order.
template <class Machine>
struct DirectoryServer::ConnOf final : DirectoryServer::Conn {
  ConnOf(DirectoryServer& server, PeerId id, typename Machine::Config config)
      : server(server), id(id), machine(std::move(config), server.io_.now()) {}
  DirectoryServer& server;
  PeerId id;
  Machine machine;
  std::string inbox;
  bool closed = false;
  bool stall = false;
  bool awaiting_tls = false;
  Duration slow{};

  void later(std::function<void()> what) {
    SimIo& io = server.io_;
    if (slow.ns <= 0) return what();
    io.start_timer(io.now() + slow, std::move(what));  // dies with a crash, as the peer does
  }
  void send(std::string bytes) {
    later([&io = server.io_, peer = id, bytes = std::move(bytes)] { io.peer_send(peer, bytes); });
  }
  void pump() {
    SimIo& io = server.io_;
    for (int guard = 0; guard < kPumpGuard && !closed && !stall && !awaiting_tls; ++guard) {
      const std::size_t used = machine.feed(inbox, io.now());
      inbox.erase(0, used);
      bool progressed = used > 0;
      while (auto event = machine.poll_event()) {
        progressed = true;
        on_event(*event);
        if (closed || stall) return;
      }
      if (awaiting_tls) return;
      const auto out = machine.pending_output();
      if (!out.empty()) {
        send(std::string(out.data(), out.size()));
        machine.consume_output(out.size());
      }
      if (machine.is_closed()) {
        closed = true;
        later([&io, peer = id] { io.peer_close(peer); });
      }
      if (!progressed) break;
    }
  }
  // The go-ahead leaves in clear, then the handshake; the machine starts over once it is up.
  void begin_tls() {
    const auto out = machine.pending_output();
    std::string go(out.data(), out.size());
    machine.consume_output(out.size());
    const bool fail = !server.healed_ && chance(server.prng_, server.script_.tls_fail);
    if (fail) server.count("dir.tls_fail");
    awaiting_tls = true;
    later([this, go = std::move(go), fail] {
      SimIo& io = server.io_;
      io.peer_send(id, go);
      if (fail) io.peer_fail_tls(id);
      io.peer_start_tls(id);
      awaiting_tls = false;
      (void)machine.on_tls_established(io.now());
      pump();
    });
  }
  bool temp_failure() {
    if (server.healed_ || !chance(server.prng_, server.script_.answer_temp)) return false;
    server.count("dir.answer_4xx");
    return true;
  }
  void on_event(typename Machine::Event& event);
};

struct SmtpDirMachine : smtp::ServerSession {
  using Config = smtp::ServerConfig;
  using Event = smtp::ServerEvent;
  using smtp::ServerSession::ServerSession;
};
struct ImapDirMachine : imap::ServerSession {
  using Config = imap::ServerConfig;
  using Event = imap::ServerEvent;
  using imap::ServerSession::ServerSession;
};

template <>
void DirectoryServer::ConnOf<SmtpDirMachine>::on_event(smtp::ServerEvent& event) {
  if (std::holds_alternative<smtp::StartTlsEvent>(event)) return begin_tls();
  std::optional<smtp::Ticket> ticket;
  smtp::ServerDecision decision = smtp::Accept{};
  if (auto* hello = std::get_if<smtp::HelloEvent>(&event)) {
    ticket = hello->ticket;
  } else if (auto* mail = std::get_if<smtp::MailEvent>(&event)) {
    ticket = mail->ticket;
  } else if (auto* rcpt = std::get_if<smtp::RcptEvent>(&event)) {
    ticket = rcpt->ticket;
    if (temp_failure())
      decision = smtp::Reject{make_reply(451, {4, 3, 0}, "directory busy")};
    else if (!server.known_address(address_of(rcpt->command.path)))
      decision = smtp::Reject{make_reply(550, {5, 1, 1}, "no such user")};
  } else if (auto* auth = std::get_if<smtp::AuthEvent>(&event)) {
    ticket = auth->ticket;
    const std::string r = auth->response.value_or("");
    const std::size_t a = r.find('\0');
    const std::size_t b = a == std::string::npos ? a : r.find('\0', a + 1);
    if (!auth->response) {
      decision = smtp::Challenge{""};
    } else if (temp_failure()) {
      decision = smtp::Reject{make_reply(454, {4, 7, 0}, "temporary authentication failure")};
    } else if (b != std::string::npos &&
               server.known(r.substr(a + 1, b - a - 1), r.substr(b + 1))) {
      decision = smtp::Authenticated{};
    } else {
      decision = smtp::Reject{make_reply(535, {5, 7, 8}, "bad credentials")};
    }
  } else if (auto* message = std::get_if<smtp::MessageEvent>(&event)) {
    ticket = message->ticket;
    decision = smtp::Reject{make_reply(554, {5, 5, 1}, "a directory takes no mail")};
  }
  if (ticket) (void)machine.decide(*ticket, decision, server.io_.now());
}

template <>
void DirectoryServer::ConnOf<ImapDirMachine>::on_event(imap::ServerEvent& event) {
  if (std::holds_alternative<imap::StartTlsEvent>(event)) return begin_tls();
  const auto* verify = std::get_if<imap::VerifyEvent>(&event);
  if (verify == nullptr) return;
  const auto* pw = std::get_if<protocol::sasl::PasswordCredentials>(&verify->credentials);
  const bool ok = pw && server.known(pw->authcid, pw->password);
  (void)machine.decide(verify->ticket,
                       temp_failure() ? imap::ServerDecision{imap::Unavailable{}}
                                      : imap::ServerDecision{imap::Verified{ok}},
                       server.io_.now());
}

DirectoryServer::DirectoryServer(SimIo& io, Trace& trace, DirectoryKind kind, Endpoint at,
                                 DirectoryScript script, Prng prng, std::size_t users)
    : io_(io),
      trace_(trace),
      kind_(kind),
      at_(std::move(at)),
      script_(script),
      prng_(prng),
      users_(users) {
  serve();
}

DirectoryServer::~DirectoryServer() = default;

void DirectoryServer::serve() {
  down_ = false;
  io_.serve(at_, [this](PeerId peer) { accept(peer); });
}
void DirectoryServer::refuse() {
  down_ = true;
  io_.stop_serving(at_);
}
void DirectoryServer::blackhole() {
  down_ = true;
  io_.blackhole(at_);
}

bool DirectoryServer::failing() const {
  if (down_) return true;
  if (healed_) return false;
  return script_.answer_temp != 0 || script_.stall != 0 || script_.slow != 0 ||
         script_.tls_fail != 0;
}

void DirectoryServer::count(const std::string& name) {
  ++faults_[name];
  trace_.add("fault: " + name);
}

bool DirectoryServer::known_address(const std::string& address) const {
  const std::string text = lower(address);
  for (std::size_t i = 0; i < users_; ++i) {
    if (text == "u" + std::to_string(i) + "@" + std::string(kLocalDomain)) return true;
  }
  return false;
}

bool DirectoryServer::known(const std::string& login, const std::string& password) const {
  const auto at = login.find('@');
  return known_address(login) && password == "pw-" + lower(login.substr(0, at));
}

void DirectoryServer::accept(PeerId peer) {
  ++connections_;
  const bool stall = !healed_ && chance(prng_, script_.stall);
  Duration slow{};
  if (!healed_ && chance(prng_, script_.slow)) {
    slow = Duration::milliseconds(200 + static_cast<std::int64_t>(prng_.below(20000)));
    count("dir.slow");
  }
  auto start = [&](auto& conn) {
    conn.slow = slow;
    io_.peer_on_bytes(peer, [&conn](std::string_view bytes) {
      conn.inbox += bytes;
      conn.pump();
    });
    conn.pump();
    if (stall) {  // after the greeting: the client is in the middle of its exchange
      conn.stall = true;
      count("dir.stall");
    }
  };
  if (kind_ == DirectoryKind::imap) {
    imap::ServerConfig config;
    config.tls_available = true;
    config.plaintext_without_tls = true;
    auto conn = std::make_unique<ConnOf<ImapDirMachine>>(*this, peer, config);
    auto& ref = *conn;
    conns_.push_back(std::move(conn));
    return start(ref);
  }
  smtp::ServerConfig config;
  config.mode = kind_ == DirectoryKind::lmtp ? smtp::ServerMode::lmtp : smtp::ServerMode::smtp;
  config.hostname = "directory.example.org";
  config.tls_available = true;
  config.auth_requires_tls = false;
  config.auth_mechanisms = {"PLAIN"};
  auto conn = std::make_unique<ConnOf<SmtpDirMachine>>(*this, peer, config);
  auto& ref = *conn;
  conns_.push_back(std::move(conn));
  start(ref);
}

// ---- WorldDirectory.

std::optional<std::string> WorldDirectory::principal_of(std::string_view address) const {
  const std::string text = lower(address);
  const auto at = text.rfind('@');
  if (at == std::string::npos || text.substr(at + 1) != kLocalDomain) return std::nullopt;
  const std::string local = text.substr(0, at);
  for (std::size_t i = 0; i < users_; ++i) {
    if (local == "u" + std::to_string(i)) return local;
  }
  return std::nullopt;
}

void WorldDirectory::authenticate(std::string_view user, std::string_view password,
                                  std::function<void(runtime::directory::AuthOutcome)> done) {
  runtime::directory::AuthOutcome outcome;
  const auto principal = principal_of(std::string(user) + "@" + std::string(kLocalDomain));
  if (principal && password == "pw-" + *principal) {
    outcome.status = runtime::directory::AuthStatus::authenticated;
    outcome.principal = *principal;
    outcome.addresses = {*principal + "@" + std::string(kLocalDomain)};
  }
  io_.post([done = std::move(done), outcome] { done(outcome); });
}

void WorldDirectory::check_recipient(
    std::string_view address, std::function<void(runtime::directory::RecipientOutcome)> done) {
  runtime::directory::RecipientOutcome outcome;
  if (auto principal = principal_of(address)) {
    outcome.status = runtime::directory::RecipientStatus::local;
    outcome.principal = *principal;
  }
  io_.post([done = std::move(done), outcome] { done(outcome); });
}

void WorldDirectory::may_send_as(std::string_view principal, std::string_view address,
                                 std::function<void(runtime::directory::SenderOutcome)> done) {
  runtime::directory::SenderOutcome outcome;
  outcome.status = lower(address) == std::string(principal) + "@" + std::string(kLocalDomain)
                       ? runtime::directory::SenderStatus::allowed
                       : runtime::directory::SenderStatus::not_owned;
  io_.post([done = std::move(done), outcome] { done(outcome); });
}

bool WorldDirectory::is_local_domain(std::string_view domain) const {
  return lower(domain) == kLocalDomain;
}

}  // namespace tern::adapters::sim::world
