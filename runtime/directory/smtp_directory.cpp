// Pooled recipient probes and one-shot AUTH checks. A Conn is the directory's view of one
// connection; its link's hooks hold it weakly so that dropping it from conns_ ends it.
#include "runtime/directory/smtp_directory.hpp"

#include <algorithm>
#include <utility>

namespace tern::runtime::directory {

namespace smtp = protocol::smtp;

namespace {

std::optional<smtp::ForwardPath> forward_path(const std::string& address) {
  smtp::AddressOptions options;
  options.utf8 = true;  // the session may have accepted it under SMTPUTF8
  auto path = smtp::parse_forward_path("<" + address + ">", options);
  if (!path || path->is_bare_postmaster()) return std::nullopt;
  return *path;
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string describe(const smtp::SessionFailedEvent& failed) {
  std::string text = failed.reason;
  if (failed.reply) {
    text += " (" + std::to_string(failed.reply->code);
    if (!failed.reply->lines.empty()) text += " " + failed.reply->lines.front().substr(0, 200);
    text += ")";
  }
  return text;
}

}  // namespace

SmtpDirectory::SmtpDirectory(Io& io, RemoteDirectorySettings settings, SmtpDirectoryMode mode)
    : RemoteDirectory(io, std::move(settings)), mode_(mode) {}

SmtpDirectory::~SmtpDirectory() {
  for (auto& [id, conn] : conns_) {
    stop_idle_timer(conn);
    conn->link->close();
  }
}

void SmtpDirectory::check_recipient(std::string_view address,
                                    std::function<void(RecipientOutcome)> on_done) {
  // Not ours to ask about, or not an address any server could know: no connection.
  if (!in_lookup_domains(address) || !forward_path(std::string(address))) {
    return post_rcpt(std::move(on_done), {RecipientStatus::unknown, {}});
  }
  enqueue_rcpt(address, std::move(on_done));
}

std::size_t SmtpDirectory::idle_connections() const {
  return static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(), [](const auto& c) {
    return !c.second->auth && c.second->ready && !c.second->job && !c.second->retiring;
  }));
}

bool SmtpDirectory::try_start(const JobPtr& job) {
  const std::size_t limit = std::max<std::size_t>(settings_.limits_rcpt, 1);
  std::optional<std::uint64_t> idle;
  for (auto& [id, conn] : conns_) {
    if (conn->auth || !conn->ready || conn->job || conn->retiring) continue;
    if (!job->auth && conn->checks < limit) {
      conn->job = job;
      stop_idle_timer(conn);
      submit(conn);
      return true;
    }
    idle = id;
  }
  if (connections_ >= pool_max()) {
    if (!job->auth || !idle) return false;
    drop(*idle);  // an authentication needs the slot more than an idle probe connection
  }
  open_connection(job, job->auth);
  return true;
}

SmtpDirectory::ConnPtr SmtpDirectory::open_connection(const JobPtr& job, bool auth) {
  ++connections_;
  auto conn = std::make_shared<Conn>();
  conn->id = next_id_++;
  conn->auth = auth;
  conn->job = job;
  smtp::ClientConfig config;
  config.mode = mode_ == SmtpDirectoryMode::lmtp ? smtp::ClientMode::lmtp : smtp::ClientMode::smtp;
  config.helo_name = settings_.helo_name;
  config.starttls =
      starttls_required() ? smtp::StartTlsPolicy::require : smtp::StartTlsPolicy::disable;
  config.tls_active = settings_.tls_implicit;
  config.auth_requires_tls = !clear_credentials_allowed();
  config.greeting_timeout = settings_.timeout;
  config.command_timeout = settings_.timeout;
  if (auth) {
    smtp::ClientAuth credentials;
    credentials.credentials.username = job->user;
    credentials.credentials.password = std::move(job->password);
    job->password.clear();
    config.auth = std::move(credentials);
  }
  std::weak_ptr<Conn> weak = conn;
  Link::Hooks hooks;
  hooks.make = [config = std::move(config)](Instant now) {
    return std::make_unique<smtp::ClientSession>(config, now);
  };
  hooks.on_event = [this, weak](smtp::ClientEvent& event) {
    if (auto c = weak.lock()) on_event(c, event);
  };
  hooks.on_end = [this, weak](std::string detail) {
    if (auto c = weak.lock()) on_end(c, std::move(detail));
  };
  conn->link = std::make_shared<Link>(io_, std::move(hooks));
  conns_.emplace(conn->id, conn);
  job->abort = [this, id = conn->id] {
    drop(id);
    dispatch();
  };
  conn->link->start(*endpoint_, settings_.timeout, link_tls());
  return conn;
}

void SmtpDirectory::submit(const ConnPtr& conn) {
  const JobPtr job = conn->job;
  job->abort = [this, id = conn->id] {
    drop(id);
    dispatch();
  };
  auto path = forward_path(job->address);  // checked on arrival: present
  smtp::Envelope envelope;
  envelope.recipients.push_back(smtp::Rcpt{path.value_or(smtp::ForwardPath{}), {}});
  envelope.params.smtputf8 = !is_ascii(job->address);
  envelope.probe_only = true;
  conn->ready = false;
  conn->submitted = true;
  conn->answer.reset();
  ++conn->checks;
  if (conn->link->machine()->submit(std::move(envelope), io_.now())) {
    conn->job = nullptr;
    fail(job, "smtp directory: the client machine refused the probe");
    return retire(conn);
  }
  conn->link->pump();
}

void SmtpDirectory::on_event(const ConnPtr& conn, smtp::ClientEvent& event) {
  if (conn->auth) return on_auth_event(conn, event);
  if (std::holds_alternative<smtp::ReadyEvent>(event)) return on_ready(conn);
  if (const auto* rcpt = std::get_if<smtp::RecipientEvent>(&event)) {
    if (conn->job && conn->submitted) conn->answer = classify(*rcpt, conn->job->address);
    return;
  }
  if (const auto* failed = std::get_if<smtp::SessionFailedEvent>(&event)) {
    conn->retiring = true;
    conn->ready = false;
    if (conn->job) fail(conn->job, "smtp directory: " + describe(*failed));
    conn->job = nullptr;
  }
}

void SmtpDirectory::on_auth_event(const ConnPtr& conn, smtp::ClientEvent& event) {
  const JobPtr& job = conn->job;
  if (const auto* ready = std::get_if<smtp::ReadyEvent>(&event)) {
    if (ready->authenticated) {
      std::vector<std::string> addresses;
      if (job->user.find('@') != std::string::npos) addresses.push_back(ascii_lower(job->user));
      finish_auth(job, {AuthStatus::authenticated, job->user, std::move(addresses),
                        "accepted by the SMTP server"});
    } else {
      fail(job, "smtp directory: the server did not authenticate");
    }
    return retire(conn);
  }
  if (const auto* failed = std::get_if<smtp::SessionFailedEvent>(&event)) {
    conn->retiring = true;
    // Only a 535 to our AUTH speaks about the credentials (RFC 4954 §6); the machine says
    // "authentication failed" for a refused AUTH and nothing else.
    if (failed->reply && failed->reply->code == 535 && failed->reason == "authentication failed") {
      return finish_auth(job, {AuthStatus::rejected, {}, {}, "rejected by the SMTP server"});
    }
    fail(job, "smtp directory: " + describe(*failed));
  }
}

void SmtpDirectory::on_ready(const ConnPtr& conn) {
  conn->ready = true;
  if (conn->job && conn->submitted) {  // the probe's answer is complete
    JobPtr job = std::move(conn->job);
    conn->job = nullptr;
    conn->submitted = false;
    finish_rcpt(job, conn->answer.value_or(RecipientOutcome{RecipientStatus::unavailable, {}}));
    conn->answer.reset();
  }
  if (conn->job) return submit(conn);  // the first ReadyEvent of a new connection
  if (conn->checks >= std::max<std::size_t>(settings_.limits_rcpt, 1)) {
    retire(conn);
  } else {
    go_idle(conn);
  }
  dispatch();
}

void SmtpDirectory::go_idle(const ConnPtr& conn) {
  stop_idle_timer(conn);
  conn->idle_timer = io_.start_timer(io_.now() + settings_.idle_timeout, [this, id = conn->id] {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    it->second->idle_timer.reset();
    retire(it->second);
  });
}

void SmtpDirectory::retire(const ConnPtr& conn) {
  stop_idle_timer(conn);
  conn->retiring = true;
  conn->ready = false;
  if (conn->link->closed() || !conn->link->machine()) return;
  conn->link->machine()->quit(io_.now());
  conn->link->pump();
}

void SmtpDirectory::on_end(const ConnPtr& conn, std::string detail) {
  if (conn->job) fail(conn->job, "smtp directory: " + detail);  // nothing if answered
  conn->job = nullptr;
  stop_idle_timer(conn);
  conns_.erase(conn->id);
  --connections_;
  dispatch();
}

void SmtpDirectory::drop(std::uint64_t conn_id) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;
  ConnPtr conn = it->second;
  stop_idle_timer(conn);
  conn->link->close();
  conns_.erase(it);
  --connections_;
}

void SmtpDirectory::stop_idle_timer(const ConnPtr& conn) {
  if (conn->idle_timer) io_.cancel_timer(*conn->idle_timer);
  conn->idle_timer.reset();
}

RecipientOutcome SmtpDirectory::classify(const smtp::RecipientEvent& event,
                                         const std::string& address) const {
  const int code = event.reply.code;
  if (event.outcome == smtp::Outcome::delivered && (code == 250 || code == 251)) {
    return {RecipientStatus::local, ascii_lower(address)};
  }
  if (event.outcome == smtp::Outcome::permanent_failure &&
      (code == 550 || code == 551 || code == 553)) {
    return {RecipientStatus::unknown, {}};
  }
  return {RecipientStatus::unavailable, {}};  // 4xx, 252, a refused MAIL ...
}

}  // namespace tern::runtime::directory
