// runtime/directory/remote_link.hpp — one connection to a remote directory server, driving
// one client protocol machine (imap::ClientSession or smtp::ClientSession) over the Io.
//
// Contract:
// - start(to, timeout, tls): connect; then, by tls.mode: `implicit` does the TLS handshake
//   (tls.client: SNI, name and whether to verify) before anything else; `starttls` and
//   `plain` begin in clear. Then hooks.make(now) builds the machine and bytes flow both
//   ways, the machine's deadlines run on an Io timer, and every event it polls goes to
//   hooks.on_event, except the machine's STARTTLS event (StartTlsEvent, the template's
//   second parameter), which the link handles itself: once no read or write is in flight
//   it drops any unread plaintext (response injection), runs start_tls_client with
//   tls.client and then calls the machine's on_tls_established. Only a link started with
//   mode `starttls` accepts that event; on any other it is a broken machine and the link
//   ends. The machine decides whether STARTTLS is required (its config): the link only
//   carries out the handshake it asks for.
// - hooks.on_end(detail) runs exactly once when the link ends by itself: connect or TLS
//   (implicit or STARTTLS) failed, the connection broke, or the machine closed (after its
//   last bytes were written). close() ends it without on_end; afterwards no hook runs again.
// - The owner may call machine() and then pump() after giving the machine an input of its
//   own (submit, quit); hooks may close the link or drop the owner's reference to it: the
//   link keeps itself alive until its callback returns.
// - Input the machine leaves unconsumed waits in the link, at most kInboxMax bytes; beyond
//   that the server is talking nonsense and the link ends.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "runtime/io.hpp"

namespace tern::runtime::directory {

enum class LinkTlsMode { plain, implicit, starttls };

struct LinkTls {
  LinkTlsMode mode = LinkTlsMode::plain;
  TlsClientOptions client;  // for implicit and starttls
};

template <class Machine, class StartTlsEvent>
class RemoteLink : public std::enable_shared_from_this<RemoteLink<Machine, StartTlsEvent>> {
 public:
  using Event = typename decltype(std::declval<Machine&>().poll_event())::value_type;
  struct Hooks {
    std::function<std::unique_ptr<Machine>(Instant now)> make;
    std::function<void(Event&)> on_event;
    std::function<void(std::string detail)> on_end;
  };
  static constexpr std::size_t kInboxMax = std::size_t{256} * 1024;

  RemoteLink(Io& io, Hooks hooks) : io_(io), hooks_(std::move(hooks)) {}
  ~RemoteLink() { close(); }
  RemoteLink(const RemoteLink&) = delete;
  RemoteLink& operator=(const RemoteLink&) = delete;

  void start(const Endpoint& to, Duration timeout, LinkTls tls) {
    tls_ = std::move(tls);
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    io_.connect(to, timeout, [weak, io = &io_](IoResult<ConnId> conn, ConnectionFacts) {
      auto self = weak.lock();
      if (!self || self->closed_) {
        if (conn) io->close(*conn);  // nobody wants it any more
        return;
      }
      self->on_connected(std::move(conn));
    });
  }

  Machine* machine() { return machine_.get(); }
  bool closed() const { return closed_; }

  void pump() {
    if (closed_ || !machine_) return;
    if (pumping_) {
      again_ = true;
      return;
    }
    auto self = this->shared_from_this();
    pumping_ = true;
    do {
      again_ = false;
      if (!inbox_.empty()) {
        const std::size_t used = machine_->feed(inbox_, io_.now());
        inbox_.erase(0, used);
      }
      while (auto event = machine_->poll_event()) {
        if (std::holds_alternative<StartTlsEvent>(*event)) {
          if (tls_.mode != LinkTlsMode::starttls) {
            return end("the client machine asked for STARTTLS, which was not configured");
          }
          starttls_wanted_ = true;
        } else {
          hooks_.on_event(*event);
        }
        if (closed_) return;
        again_ = true;
      }
    } while (again_);
    pumping_ = false;
    flush();
    arm_read();
    arm_timer();
    maybe_start_tls();
    maybe_end();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (timer_) io_.cancel_timer(*timer_);
    timer_.reset();
    if (conn_) io_.close(*conn_);
  }

 private:
  void on_connected(IoResult<ConnId> conn) {
    if (!conn) return end("connect to the remote directory failed: " + conn.error().detail);
    conn_ = *conn;
    if (tls_.mode != LinkTlsMode::implicit) return begin();
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    io_.start_tls_client(*conn_, tls_.client, [weak](IoResult<TlsFacts> facts) {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      if (!facts) return self->end("TLS with the remote directory failed: " + facts.error().detail);
      self->begin();
    });
  }

  void begin() {
    machine_ = hooks_.make(io_.now());
    pump();
  }

  // The Io refuses a handshake while a read or write is in flight: wait for them. The
  // machine reads nothing while it awaits TLS, so a read in flight is one armed before.
  void maybe_start_tls() {
    if (!starttls_wanted_ || closed_ || reading_ || writing_ || broken_) return;
    starttls_wanted_ = false;
    handshaking_ = true;
    inbox_.clear();  // plaintext after the server's go-ahead is never trusted
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    io_.start_tls_client(*conn_, tls_.client, [weak](IoResult<TlsFacts> facts) {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->handshaking_ = false;
      if (!facts) {
        return self->end("STARTTLS with the remote directory failed: TLS handshake: " +
                         facts.error().detail);
      }
      if (self->machine_->on_tls_established(self->io_.now())) {
        return self->end("the client machine refused the TLS handshake it asked for");
      }
      self->pump();
    });
  }

  void flush() {
    if (writing_ || closed_ || handshaking_) return;  // nothing in clear mid-handshake
    auto pending = machine_->pending_output();
    if (pending.empty()) return;
    outbuf_.assign(pending.data(), pending.size());  // the Io reads it until the callback
    machine_->consume_output(pending.size());
    writing_ = true;
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    io_.write(*conn_, outbuf_, [weak](IoStatus status) {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->writing_ = false;
      if (!status.ok()) {
        self->broken_ = "write to the remote directory failed: " + status.error->detail;
        self->machine_->feed_eof(self->io_.now());
      }
      self->pump();
    });
  }

  void arm_read() {
    if (reading_ || closed_ || broken_ || handshaking_ || !machine_->wants_read()) return;
    reading_ = true;
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    io_.read(*conn_, [weak](IoResult<std::span<const char>> data) {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->reading_ = false;
      if (!data) {
        self->broken_ = data.error().code == IoErrc::eof
                            ? "the remote directory closed the connection"
                            : "read from the remote directory failed: " + data.error().detail;
        self->machine_->feed_eof(self->io_.now());
      } else if (self->inbox_.size() + data->size() > kInboxMax) {
        return self->end("the remote directory sent too much without an answer");
      } else {
        self->inbox_.append(data->data(), data->size());
      }
      self->pump();
    });
  }

  void arm_timer() {
    const auto deadline = closed_ ? std::nullopt : machine_->poll_timeout();
    if (timer_ && (!deadline || *deadline != timer_at_)) {
      io_.cancel_timer(*timer_);
      timer_.reset();
    }
    if (!deadline || timer_) return;
    timer_at_ = *deadline;
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    timer_ = io_.start_timer(*deadline, [weak] {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->timer_.reset();
      self->machine_->on_timeout(self->io_.now());
      self->pump();
    });
  }

  void maybe_end() {
    if (closed_) return;
    if (broken_) return end(*broken_);
    // A machine that closed mid-handshake (its own deadline) has nothing more to say.
    const bool drained = handshaking_ || machine_->pending_output().empty();
    if (machine_->is_closed() && !writing_ && drained) {
      end("the session ended");
    }
  }

  void end(std::string detail) {
    if (closed_) return;
    auto self = this->shared_from_this();
    close();
    if (hooks_.on_end) hooks_.on_end(std::move(detail));
  }

  Io& io_;
  Hooks hooks_;
  LinkTls tls_;
  std::optional<ConnId> conn_;
  std::unique_ptr<Machine> machine_;
  std::string inbox_;
  std::string outbuf_;
  std::optional<std::string> broken_;  // the connection failed: end once events are out
  std::optional<TimerId> timer_;
  Instant timer_at_;
  bool reading_ = false;
  bool writing_ = false;
  bool pumping_ = false;
  bool again_ = false;
  bool starttls_wanted_ = false;  // the machine's StartTlsEvent, handshake not begun yet
  bool handshaking_ = false;      // start_tls_client in flight
  bool closed_ = false;
};

}  // namespace tern::runtime::directory
