// runtime/outbound/remote_delivery.cpp — one delivery attempt: resolve, connect (each
// endpoint in turn until one takes the transaction), drive the client machine over the Io,
// stream the body, report once. The connection plumbing follows runtime/directory's
// RemoteLink, plus the body pump and a guard on writes and handshakes that RemoteLink has
// no need for.
#include "runtime/outbound/remote_delivery.hpp"

#include <algorithm>
#include <cassert>
#include <utility>
#include <variant>

#include "protocol/smtp/address.hpp"
#include "protocol/smtp/client_session.hpp"
#include "protocol/smtp/params.hpp"
#include "runtime/outbound/mx_resolver.hpp"

namespace tern::runtime::outbound {

namespace smtp = protocol::smtp;
namespace route = protocol::route;

namespace {

// A line of more than 998 octets before its CRLF (RFC 5321 4.5.3.1.6).
bool has_long_line(std::string_view body) {
  while (!body.empty()) {
    const auto lf = body.find('\n');
    const auto line = lf == std::string_view::npos ? body.size() : lf;
    const bool cr = line > 0 && body[line - 1] == '\r';
    if (line - (cr ? 1 : 0) > 998) return true;
    if (lf == std::string_view::npos) return false;
    body.remove_prefix(lf + 1);
  }
  return false;
}

constexpr std::size_t kReplyTextBytesMax = 1000;
constexpr std::size_t kInboxBytesMax = std::size_t{256} * 1024;

// "550 5.1.1 no such user", the lines of a multi-line reply joined by one space.
std::string one_line(const smtp::Reply& reply) {
  std::string text = std::to_string(reply.code);
  if (reply.enhanced) text += " " + smtp::to_string(*reply.enhanced);
  for (const auto& line : reply.lines) {
    if (!line.empty()) text += " " + line;
    if (text.size() > kReplyTextBytesMax) {
      text.resize(kReplyTextBytesMax);
      break;
    }
  }
  return text;
}

DeliveryStatus status_of(smtp::Outcome outcome) {
  switch (outcome) {
    case smtp::Outcome::delivered: return DeliveryStatus::delivered;
    case smtp::Outcome::temporary_failure: return DeliveryStatus::temporary_failure;
    case smtp::Outcome::permanent_failure: return DeliveryStatus::permanent_failure;
  }
  return DeliveryStatus::temporary_failure;
}

// "192.0.2.1", "::1" or "[::1]" -> the address without brackets; nullopt for a name.
std::optional<std::string> ip_literal(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string s(text);
  smtp::AddressOptions options;
  const bool v6 = s.find(':') != std::string::npos;
  auto host = smtp::parse_host(v6 ? "[IPv6:" + s + "]" : "[" + s + "]", options);
  if (!host) return std::nullopt;
  const bool ok = v6 ? std::holds_alternative<smtp::Ipv6Literal>(*host)
                     : std::holds_alternative<smtp::Ipv4Literal>(*host);
  if (!ok) return std::nullopt;
  return s;
}

smtp::ClientConfig client_config(const DeliveryRequest& request) {
  const auto& host = request.host;
  smtp::ClientConfig config;
  config.mode = host.protocol == route::RemoteProtocol::lmtp ? smtp::ClientMode::lmtp
                                                             : smtp::ClientMode::smtp;
  config.helo_name = request.helo_name;
  config.tls_active = host.tls == route::TlsMode::implicit;
  config.starttls = host.tls != route::TlsMode::starttls ? smtp::StartTlsPolicy::disable
                    : request.opportunistic_tls          ? smtp::StartTlsPolicy::optional
                                                         : smtp::StartTlsPolicy::require;
  if (host.auth_username) {
    smtp::ClientAuth auth;
    auth.credentials.username = *host.auth_username;
    auth.credentials.password = host.auth_secret.value_or("");
    config.auth = std::move(auth);
    // LMTP is final delivery: a store that offers no AUTH has nobody to authenticate us to
    // (Dovecot's LMTP), and the seed's lmtp example sets credentials all the same.
    config.auth_only_when_offered = host.protocol == route::RemoteProtocol::lmtp;
  }
  config.greeting_timeout = request.timeouts.greeting;
  config.command_timeout = request.timeouts.command;
  config.data_start_timeout = request.timeouts.data_start;
  config.data_end_timeout = request.timeouts.data_end;
  return config;
}

}  // namespace

std::string_view to_string(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::delivered: return "delivered";
    case DeliveryStatus::temporary_failure: return "temporary failure";
    case DeliveryStatus::permanent_failure: return "permanent failure";
  }
  return "?";
}

// ---- the attempt ------------------------------------------------------------------------

class Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  Attempt(Io& io, DeliveryRequest request, RemoteDelivery::Done done, Resolver resolver,
          std::weak_ptr<ConnectionCache> cache)
      : io_(io),
        request_(std::move(request)),
        done_(std::move(done)),
        resolver_(std::move(resolver)),
        cache_(std::move(cache)),
        cache_key_(cache_key(request_)) {}

  void begin();
  void cancel();
  bool finished() const { return reported_; }
  // A kept connection takes the next message (ConnectionCache::take gave it).
  void claim();
  void reuse(DeliveryRequest request, RemoteDelivery::Done done);
  void drop_idle();  // the cache is going away: QUIT and close

  static std::string cache_key(const DeliveryRequest& r) {
    const auto& h = r.host;
    return std::string(route::to_string(h.protocol)) + "|" + h.address + "|" +
           std::to_string(h.port) + "|" + std::string(route::to_string(h.tls)) + "|" +
           (r.opportunistic_tls ? "o" : "-") + (h.allow_invalid_certs ? "i" : "-") + "|" +
           h.auth_username.value_or("") + "|" + h.auth_secret.value_or("") + "|" + r.helo_name;
  }

 private:
  void park();
  void restart();
  bool fresh_start_possible() const;
  bool prepare();
  void on_resolved(ResolveResult result);
  void try_next_endpoint();
  void on_connected(IoResult<ConnId> conn);
  void begin_session();
  void pump();
  void on_event(smtp::ClientEvent& event);
  void on_session_failed(const smtp::SessionFailedEvent& failed);
  bool feed_body();
  void flush();
  void arm_read();
  void arm_timer();
  void arm_guard(bool busy);
  void maybe_start_tls();
  void maybe_end();
  void end_connection(std::string detail);
  void fill_open(DeliveryStatus status, const std::string& text);
  void report();
  void close_connection();
  std::string where() const { return endpoints_[current_].endpoint.text(); }
  std::string target_text() const {
    const auto& t = endpoints_[current_];
    const std::string ep = t.endpoint.text();
    return t.name.empty() || t.name == t.endpoint.ip ? ep : t.name + " " + ep;
  }
  TlsClientOptions tls_options() const {
    const auto& t = endpoints_[current_];
    std::string name = ip_literal(t.name).value_or(t.name);
    return TlsClientOptions{name,
                            !request_.host.allow_invalid_certs && !request_.opportunistic_tls};
  }

  Io& io_;
  DeliveryRequest request_;
  RemoteDelivery::Done done_;
  Resolver resolver_;
  smtp::Envelope envelope_;
  std::vector<std::size_t> envelope_index_;  // machine's recipient index -> request index
  std::vector<std::optional<RecipientResult>> results_;
  DeliveryReport report_;
  std::vector<ResolvedTarget> endpoints_;
  std::size_t current_ = 0;
  bool clear_retry_ = false;  // opportunistic TLS failed here: this try is in clear text
  bool clear_retry_wanted_ = false;
  std::string last_failure_ = "no endpoint was tried";
  bool last_failure_permanent_ = false;
  bool reported_ = false;
  bool cancelled_ = false;

  // The current connection.
  std::optional<ConnId> conn_;
  std::unique_ptr<smtp::ClientSession> machine_;
  std::string inbox_;
  std::string outbuf_;
  std::optional<std::string> broken_;
  std::optional<std::string> session_failure_;  // before MAIL: why the session ended
  bool session_failure_permanent_ = false;
  std::optional<TimerId> timer_;
  Instant timer_at_;
  std::optional<TimerId> guard_;
  std::optional<std::string> tls_version_;
  std::size_t body_offset_ = 0;
  bool submitted_ = false;
  bool report_due_ = false;
  bool body_wanted_ = false;
  bool body_ended_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool pumping_ = false;
  bool again_ = false;
  bool starttls_wanted_ = false;
  bool handshaking_ = false;

  // Connection reuse.
  std::weak_ptr<ConnectionCache> cache_;
  std::string cache_key_;
  bool keep_ = false;         // the transaction ended well: keep the connection
  bool ready_again_ = false;  // the machine can take another message
  bool idle_ = false;         // in the cache
  bool reused_ = false;       // this transaction runs on a kept connection
  bool dsn_offered_ = false;
  Instant connected_at_;
  std::optional<TimerId> idle_timer_;
};

void Attempt::begin() {
  results_.assign(request_.recipients.size(), std::nullopt);
  report_.host = request_.host.address;
  if (!prepare()) return report();
  auto self = shared_from_this();
  // Posted, so that a resolver answering inside the call does not re-enter us.
  resolver_(request_.host.address, [self](ResolveResult result) {
    self->io_.post([self, result = std::move(result)]() mutable {
      if (!self->cancelled_) self->on_resolved(std::move(result));
    });
  });
}

// The spooled addresses and parameters, as the machine takes them. What no longer parses
// fails permanently here: no server could take it.
bool Attempt::prepare() {
  smtp::AddressOptions address_options;
  address_options.utf8 = true;
  smtp::ParamOptions param_options;
  param_options.utf8 = true;
  if (!request_.sender.empty()) {
    auto sender = smtp::parse_reverse_path("<" + request_.sender + ">", address_options);
    if (!sender) {
      fill_open(
          DeliveryStatus::permanent_failure,
          "553 5.1.7 the spooled sender address does not parse: " + sender.error().error.message);
      return false;
    }
    envelope_.sender = *sender;
  }
  auto params = smtp::parse_mail_params(request_.sender_params, param_options);
  if (params) envelope_.params = *params;  // else: none rather than malformed ones
  envelope_.params.size = request_.body.size();
  // Never a line over 998 octets through DATA (RFC 5321 4.5.3.1.6: a next hop may cut or
  // refuse it, and a cut line is a smuggling vector): such a text body goes only over BDAT.
  if (envelope_.params.body != smtp::BodyType::binary_mime) {
    envelope_.long_lines = has_long_line(request_.body);
  }
  for (std::size_t i = 0; i < request_.recipients.size(); ++i) {
    const auto& rcpt = request_.recipients[i];
    auto path = smtp::parse_forward_path("<" + rcpt.address + ">", address_options);
    if (!path) {
      results_[i] = RecipientResult{
          DeliveryStatus::permanent_failure,
          "553 5.1.3 the spooled recipient address does not parse: " + path.error().error.message,
          false};
      continue;
    }
    smtp::Rcpt command{*path, {}};
    if (auto p = smtp::parse_rcpt_params(rcpt.params, param_options)) command.params = *p;
    envelope_.recipients.push_back(std::move(command));
    envelope_index_.push_back(i);
  }
  return !envelope_.recipients.empty();
}

void Attempt::on_resolved(ResolveResult result) {
  if (!result) {
    const std::string& detail = result.error().detail;
    const bool coded = !detail.empty() && detail[0] >= '2' && detail[0] <= '5';
    fill_open(result.error().permanent ? DeliveryStatus::permanent_failure
                                       : DeliveryStatus::temporary_failure,
              coded ? detail : request_.host.address + ": " + detail);
    return report();
  }
  endpoints_ = std::move(*result);
  if (endpoints_.size() > request_.endpoints_max) endpoints_.resize(request_.endpoints_max);
  for (auto& target : endpoints_) target.endpoint.port = request_.host.port;
  if (endpoints_.empty()) last_failure_ = request_.host.address + ": no address to connect to";
  current_ = 0;
  try_next_endpoint();
}

void Attempt::try_next_endpoint() {
  if (current_ >= endpoints_.size()) {
    fill_open(last_failure_permanent_ ? DeliveryStatus::permanent_failure
                                      : DeliveryStatus::temporary_failure,
              last_failure_);
    return report();
  }
  report_.last_target = target_text();
  auto self = shared_from_this();
  io_.connect(endpoints_[current_].endpoint, request_.timeouts.connect,
              [self](IoResult<ConnId> conn, ConnectionFacts) {
                if (self->cancelled_) {
                  if (conn) self->io_.close(*conn);
                  return;
                }
                self->on_connected(std::move(conn));
              });
}

void Attempt::on_connected(IoResult<ConnId> conn) {
  if (!conn) {
    last_failure_ = conn.error().detail;  // "connect 192.0.2.1:25: Connection refused"
    ++current_;
    return try_next_endpoint();
  }
  conn_ = *conn;
  connected_at_ = io_.now();
  if (request_.host.tls != route::TlsMode::implicit) return begin_session();
  TlsClientOptions options = tls_options();
  handshaking_ = true;
  arm_guard(true);
  auto self = shared_from_this();
  io_.start_tls_client(*conn_, options, [self](IoResult<TlsFacts> facts) {
    if (self->cancelled_ || !self->conn_) return;
    self->handshaking_ = false;
    self->arm_guard(false);
    if (!facts) return self->end_connection("TLS handshake failed: " + facts.error().detail);
    self->tls_version_ = facts->version;
    self->begin_session();
  });
}

void Attempt::begin_session() {
  smtp::ClientConfig config = client_config(request_);
  if (clear_retry_) config.starttls = smtp::StartTlsPolicy::disable;
  machine_ = std::make_unique<smtp::ClientSession>(config, io_.now());
  pump();
}

void Attempt::pump() {
  if (!conn_ || !machine_) return;
  if (pumping_) {
    again_ = true;
    return;
  }
  auto self = shared_from_this();
  pumping_ = true;
  do {
    again_ = false;
    if (!inbox_.empty()) inbox_.erase(0, machine_->feed(inbox_, io_.now()));
    while (auto event = machine_->poll_event()) {
      on_event(*event);
      if (!conn_) {
        pumping_ = false;
        return;
      }
      again_ = true;
    }
    if (report_due_) {
      report_due_ = false;
      if (reused_ && (session_failure_ || broken_) && fresh_start_possible()) {
        close_connection();  // the kept connection was dead: nothing was decided on it
        pumping_ = false;
        return restart();
      }
      fill_open(DeliveryStatus::temporary_failure, where() + ": no reply for this recipient");
      report();
      if (!conn_) {
        pumping_ = false;
        return;
      }
    }
    if (keep_ && ready_again_ && reported_ && !idle_) park();
    if (feed_body()) again_ = true;
  } while (again_);
  pumping_ = false;
  flush();
  arm_read();
  arm_timer();
  maybe_start_tls();
  maybe_end();
}

void Attempt::on_event(smtp::ClientEvent& event) {
  if (auto* ready = std::get_if<smtp::ReadyEvent>(&event)) {
    if (submitted_) {  // the connection after the message: kept, or QUIT is on its way
      ready_again_ = true;
      return;
    }
    submitted_ = true;
    report_.endpoint = endpoints_[current_].endpoint;
    report_.server_name = endpoints_[current_].name;
    dsn_offered_ = ready->capabilities.dsn;
    report_.dsn_supported = dsn_offered_;
    if (ready->tls_active) report_.tls_version = tls_version_.value_or("TLS");
    [[maybe_unused]] auto error = machine_->submit(envelope_, io_.now());
    assert(!error);
  } else if (std::holds_alternative<smtp::ClientStartTlsEvent>(event)) {
    starttls_wanted_ = true;
  } else if (std::holds_alternative<smtp::BodyWantedEvent>(event)) {
    body_wanted_ = true;
  } else if (auto* rcpt = std::get_if<smtp::RecipientEvent>(&event)) {
    if (rcpt->index < envelope_index_.size()) {
      results_[envelope_index_[rcpt->index]] =
          RecipientResult{status_of(rcpt->outcome), one_line(rcpt->reply), true};
    }
  } else if (std::holds_alternative<smtp::MessageDoneEvent>(event)) {
    keep_ = !cache_.expired() && !cancelled_ && io_.now() - connected_at_ < cache_.lock()->age_max_;
    if (!keep_) machine_->quit(io_.now());
    report_due_ = true;  // after this batch: a SessionFailedEvent may follow and say why
  } else if (auto* failed = std::get_if<smtp::SessionFailedEvent>(&event)) {
    on_session_failed(*failed);
  }
}

// Before MAIL the machine gives no recipient an outcome: we decide (see the header).
void Attempt::on_session_failed(const smtp::SessionFailedEvent& failed) {
  std::string text =
      failed.reply ? one_line(*failed.reply) + " (" + failed.reason + ")" : failed.reason;
  session_failure_ = failed.reply ? text : where() + ": " + text;
  session_failure_permanent_ = failed.reply && failed.reply->code == 521;  // RFC 7504 §3
  if (failed.reply) return;
  // The machine's stand-in replies for a lost connection are our reason, not the server's.
  const std::string stand_in_temporary = "451 4.4.0 " + failed.reason;
  const std::string stand_in_permanent = "554 5.4.0 " + failed.reason;
  for (auto& result : results_) {
    if (result && result->from_server &&
        (result->text == stand_in_temporary || result->text == stand_in_permanent)) {
      result->text = where() + ": " + failed.reason;
      result->from_server = false;
    }
  }
}

// Streams the body while the machine's unsent output stays under one chunk.
bool Attempt::feed_body() {
  if (!body_wanted_ || body_ended_ || machine_->is_closed()) return false;
  const std::size_t chunk = std::max<std::size_t>(request_.body_chunk_bytes, 1);
  bool fed = false;
  while (body_offset_ < request_.body.size() && machine_->pending_output().size() < chunk) {
    const std::size_t n = std::min(chunk, request_.body.size() - body_offset_);
    auto error = machine_->send_body(std::span(request_.body).subspan(body_offset_, n), io_.now());
    if (error) return fed;  // the transaction ended meanwhile (BDAT refused)
    body_offset_ += n;
    fed = true;
  }
  if (body_offset_ == request_.body.size()) {
    body_ended_ = true;
    [[maybe_unused]] auto error = machine_->end_body(io_.now());
    fed = true;
  }
  return fed;
}

void Attempt::flush() {
  if (writing_ || !conn_ || handshaking_) return;
  auto pending = machine_->pending_output();
  if (pending.empty()) return;
  outbuf_.assign(pending.data(), pending.size());  // the Io reads it until the callback
  machine_->consume_output(pending.size());
  writing_ = true;
  arm_guard(true);
  auto self = shared_from_this();
  io_.write(*conn_, outbuf_, [self](IoStatus status) {
    if (self->cancelled_ || !self->conn_) return;
    self->writing_ = false;
    self->arm_guard(false);
    if (!status.ok()) {
      self->broken_ = self->where() + ": write failed: " + status.error->detail;
      self->machine_->feed_eof(self->io_.now());
    }
    self->pump();
  });
}

void Attempt::arm_read() {
  if (reading_ || !conn_ || broken_ || handshaking_ || !machine_->wants_read()) return;
  reading_ = true;
  auto self = shared_from_this();
  io_.read(*conn_, [self](IoResult<std::span<const char>> data) {
    if (self->cancelled_ || !self->conn_) return;
    self->reading_ = false;
    if (!data) {
      if (data.error().code != IoErrc::eof) {
        self->broken_ = self->where() + ": read failed: " + data.error().detail;
      }
      self->machine_->feed_eof(self->io_.now());
    } else if (self->inbox_.size() + data->size() > kInboxBytesMax) {
      return self->end_connection("the server sent too much without being asked");
    } else {
      self->inbox_.append(data->data(), data->size());
    }
    self->pump();
  });
}

void Attempt::arm_timer() {
  const auto deadline = conn_ ? machine_->poll_timeout() : std::nullopt;
  if (timer_ && (!deadline || *deadline != timer_at_)) {
    io_.cancel_timer(*timer_);
    timer_.reset();
  }
  if (!deadline || timer_) return;
  timer_at_ = *deadline;
  auto self = shared_from_this();
  timer_ = io_.start_timer(*deadline, [self] {
    if (self->cancelled_ || !self->conn_) return;
    self->timer_.reset();
    self->machine_->on_timeout(self->io_.now());
    self->pump();
  });
}

// A write or handshake the peer never lets finish (a full TCP window, a silent TLS peer)
// has no reply to time out: this guard does.
void Attempt::arm_guard(bool busy) {
  if (guard_) io_.cancel_timer(*guard_);
  guard_.reset();
  if (!busy) return;
  auto self = shared_from_this();
  guard_ = io_.start_timer(io_.now() + request_.timeouts.data_block, [self] {
    if (self->cancelled_ || !self->conn_) return;
    self->guard_.reset();
    self->end_connection(self->handshaking_ ? "timeout in the TLS handshake"
                                            : "timeout writing to the server");
  });
}

// As RemoteLink: no read or write in flight, unread plaintext dropped, then the handshake.
void Attempt::maybe_start_tls() {
  if (!starttls_wanted_ || !conn_ || reading_ || writing_ || broken_) return;
  starttls_wanted_ = false;
  handshaking_ = true;
  inbox_.clear();
  arm_guard(true);
  TlsClientOptions options = tls_options();
  auto self = shared_from_this();
  io_.start_tls_client(*conn_, options, [self](IoResult<TlsFacts> facts) {
    if (self->cancelled_ || !self->conn_) return;
    self->handshaking_ = false;
    self->arm_guard(false);
    if (!facts) {
      if (self->request_.opportunistic_tls) self->clear_retry_wanted_ = true;
      return self->end_connection("STARTTLS: TLS handshake failed: " + facts.error().detail);
    }
    self->tls_version_ = facts->version;
    if (self->machine_->on_tls_established(self->io_.now())) {
      return self->end_connection("the client machine refused the TLS it asked for");
    }
    self->pump();
  });
}

void Attempt::maybe_end() {
  if (!conn_) return;
  const bool drained = handshaking_ || machine_->pending_output().empty();
  if (machine_->is_closed() && !writing_ && drained) {
    end_connection(broken_.value_or("the session ended"));
  }
}

// The connection is over: the report when the transaction ran, else the next endpoint.
void Attempt::end_connection(std::string detail) {
  if (!conn_) return;
  auto self = shared_from_this();
  std::string reason =
      session_failure_.value_or(detail.rfind(where(), 0) == 0 ? detail : where() + ": " + detail);
  const bool permanent = session_failure_ && session_failure_permanent_;
  const bool restart_fresh = reused_ && fresh_start_possible();
  close_connection();
  if (reported_) return;
  if (restart_fresh) return restart();
  if (submitted_) {
    fill_open(DeliveryStatus::temporary_failure, reason);
    return report();
  }
  last_failure_ = std::move(reason);
  last_failure_permanent_ = permanent;
  if (last_failure_permanent_) {
    fill_open(DeliveryStatus::permanent_failure, last_failure_);
    return report();
  }
  if (clear_retry_wanted_ && !clear_retry_) {
    clear_retry_wanted_ = false;
    clear_retry_ = true;  // the same endpoint, in clear text (RFC 7435 §4.1)
    return try_next_endpoint();
  }
  clear_retry_ = clear_retry_wanted_ = false;
  ++current_;
  try_next_endpoint();
}

void Attempt::close_connection() {
  if (idle_) {
    if (auto cache = cache_.lock()) cache->erase(this);
    idle_ = false;
  }
  if (idle_timer_) io_.cancel_timer(*idle_timer_);
  idle_timer_.reset();
  keep_ = ready_again_ = reused_ = false;
  if (timer_) io_.cancel_timer(*timer_);
  if (guard_) io_.cancel_timer(*guard_);
  timer_.reset();
  guard_.reset();
  if (conn_) io_.close(*conn_);
  conn_.reset();
  machine_.reset();
  inbox_.clear();
  outbuf_.clear();
  broken_.reset();
  session_failure_.reset();
  session_failure_permanent_ = false;
  tls_version_.reset();
  body_offset_ = 0;
  body_wanted_ = body_ended_ = reading_ = writing_ = false;
  starttls_wanted_ = handshaking_ = false;
}

void Attempt::fill_open(DeliveryStatus status, const std::string& text) {
  for (auto& result : results_) {
    if (!result) result = RecipientResult{status, text, false};
  }
}

void Attempt::report() {
  if (reported_) return;
  reported_ = true;
  report_.recipients.reserve(results_.size());
  for (auto& result : results_) report_.recipients.push_back(std::move(*result));
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(report_));
}

void Attempt::cancel() {
  cancelled_ = true;
  reported_ = true;
  done_ = nullptr;
  close_connection();
}

// ---- connection reuse ----------------------------------------------------------------

// After the report, with the machine ready for another message: into the cache until the
// next message to the same destination, or QUIT after idle_max.
void Attempt::park() {
  auto cache = cache_.lock();
  keep_ = false;
  if (!cache || !conn_ || broken_ || cancelled_ || machine_->is_closed() ||
      !cache->put(cache_key_, shared_from_this())) {
    if (conn_ && machine_ && !machine_->is_closed()) machine_->quit(io_.now());
    return;
  }
  idle_ = true;
  auto self = shared_from_this();
  idle_timer_ = io_.start_timer(io_.now() + cache->idle_max_, [self] {
    self->idle_timer_.reset();
    if (!self->idle_ || !self->conn_) return;
    if (auto c = self->cache_.lock()) c->erase(self.get());
    self->idle_ = false;
    self->machine_->quit(self->io_.now());
    self->pump();
  });
}

// Taken from the cache: no longer idle (its idle timer must not QUIT it now).
void Attempt::claim() {
  if (idle_timer_) io_.cancel_timer(*idle_timer_);
  idle_timer_.reset();
  idle_ = false;
  reported_ = false;  // the handle now speaks for the next message
}

void Attempt::reuse(DeliveryRequest request, RemoteDelivery::Done done) {
  request_ = std::move(request);
  done_ = std::move(done);
  reported_ = false;
  if (cancelled_) return;
  if (!conn_ || !machine_ || machine_->is_closed() || broken_) {
    close_connection();
    return restart();  // it closed between the cache and now
  }
  envelope_ = smtp::Envelope{};
  envelope_index_.clear();
  results_.assign(request_.recipients.size(), std::nullopt);
  const std::optional<std::string> tls = report_.tls_version;
  report_ = DeliveryReport{};
  report_.host = request_.host.address;
  report_.last_target = target_text();
  if (!prepare()) {
    report();
    return park();
  }
  report_.endpoint = endpoints_[current_].endpoint;
  report_.server_name = endpoints_[current_].name;
  report_.dsn_supported = dsn_offered_;
  report_.tls_version = tls;
  body_offset_ = 0;
  body_wanted_ = body_ended_ = report_due_ = ready_again_ = false;
  submitted_ = reused_ = true;
  [[maybe_unused]] auto error = machine_->submit(envelope_, io_.now());
  assert(!error);
  pump();
}

// A kept connection that fails before any recipient has a reply from the server (it had
// closed while idle) says nothing about the message: start over on a fresh connection.
bool Attempt::fresh_start_possible() const {
  return std::none_of(results_.begin(), results_.end(),
                      [](const auto& r) { return r.has_value() && r->from_server; });
}

void Attempt::restart() {
  report_ = DeliveryReport{};
  envelope_ = smtp::Envelope{};
  envelope_index_.clear();
  submitted_ = false;
  current_ = 0;
  endpoints_.clear();
  last_failure_ = "no endpoint was tried";
  last_failure_permanent_ = false;
  begin();
}

void Attempt::drop_idle() {
  idle_ = false;
  if (!conn_ || !machine_) return;
  machine_->quit(io_.now());
  pump();
}

ConnectionCache::~ConnectionCache() {
  auto idle = std::move(idle_);
  idle_.clear();
  for (auto& [key, attempt] : idle) attempt->drop_idle();
}

bool ConnectionCache::put(const std::string& key, std::shared_ptr<Attempt> attempt) {
  const auto same = std::count_if(idle_.begin(), idle_.end(),
                                  [&](const auto& entry) { return entry.first == key; });
  if (static_cast<std::size_t>(same) >= per_key_max_) return false;
  idle_.emplace_back(key, std::move(attempt));
  return true;
}

std::shared_ptr<Attempt> ConnectionCache::take(const std::string& key) {
  // The most recently parked first: the least likely to have been closed by the server.
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
    if (it->first != key) continue;
    auto attempt = std::move(it->second);
    idle_.erase(std::next(it).base());
    ++reused_;
    return attempt;
  }
  return nullptr;
}

void ConnectionCache::erase(const Attempt* attempt) {
  std::erase_if(idle_, [attempt](const auto& entry) { return entry.second.get() == attempt; });
}

// ---- the handle ---------------------------------------------------------------------------

RemoteDelivery RemoteDelivery::start(Io& io, DeliveryRequest request, Done on_done,
                                     Resolver resolver, std::shared_ptr<ConnectionCache> cache) {
  if (!resolver) resolver = host_resolver(io, MxOptions{});
  if (cache) {
    if (auto kept = cache->take(Attempt::cache_key(request))) {
      kept->claim();
      auto shared = std::make_shared<std::pair<DeliveryRequest, Done>>(std::move(request),
                                                                       std::move(on_done));
      io.post([kept, shared] { kept->reuse(std::move(shared->first), std::move(shared->second)); });
      return RemoteDelivery(kept);
    }
  }
  auto attempt = std::make_shared<Attempt>(io, std::move(request), std::move(on_done),
                                           std::move(resolver), cache);
  io.post([attempt] {
    if (!attempt->finished()) attempt->begin();
  });
  return RemoteDelivery(attempt);
}

void RemoteDelivery::cancel() {
  if (attempt_) attempt_->cancel();
}

bool RemoteDelivery::finished() const {
  return !attempt_ || attempt_->finished();
}

}  // namespace tern::runtime::outbound
