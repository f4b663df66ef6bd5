// runtime/directory/remote_link.hpp — one connection to a remote directory server, driving
// one client protocol machine (imap::ClientSession or smtp::ClientSession) over the Io.
//
// Contract:
// - start(to, timeout, tls): connect; with `tls`, the TLS handshake comes first; then
//   hooks.make(now) builds the machine and bytes flow both ways, the machine's deadlines
//   run on an Io timer, and every event it polls goes to hooks.on_event.
// - hooks.on_end(detail) runs exactly once when the link ends by itself: connect or TLS
//   failed, the connection broke, or the machine closed (after its last bytes were
//   written). close() ends it without on_end; afterwards no hook runs again.
// - The owner may call machine() and then pump() after giving the machine an input of its
//   own (submit, quit); hooks may close the link or drop the owner's reference to it: the
//   link keeps itself alive until its callback returns.
// - Input the machine leaves unconsumed waits in the link, at most inbox_max bytes; beyond
//   that the server is talking nonsense and the link ends.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "runtime/io.hpp"

namespace tern::runtime::directory {

template <class Machine>
class RemoteLink : public std::enable_shared_from_this<RemoteLink<Machine>> {
 public:
  using Event = typename decltype(std::declval<Machine&>().poll_event())::value_type;
  struct Hooks {
    std::function<std::unique_ptr<Machine>(Instant now)> make;
    std::function<void(Event&)> on_event;
    std::function<void(std::string detail)> on_end;
  };
  static constexpr std::size_t inbox_max = 256 * 1024;

  RemoteLink(Io& io, Hooks hooks) : io_(io), hooks_(std::move(hooks)) {}
  ~RemoteLink() { close(); }
  RemoteLink(const RemoteLink&) = delete;
  RemoteLink& operator=(const RemoteLink&) = delete;

  void start(const Endpoint& to, Duration timeout, std::optional<TlsClientOptions> tls) {
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
        hooks_.on_event(*event);
        if (closed_) return;
        again_ = true;
      }
    } while (again_);
    pumping_ = false;
    flush();
    arm_read();
    arm_timer();
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
    if (!tls_) return begin();
    std::weak_ptr<RemoteLink> weak = this->shared_from_this();
    io_.start_tls_client(*conn_, *tls_, [weak](IoResult<TlsFacts> facts) {
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

  void flush() {
    if (writing_ || closed_) return;
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
    if (reading_ || closed_ || broken_ || !machine_->wants_read()) return;
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
      } else if (self->inbox_.size() + data->size() > inbox_max) {
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
    if (machine_->is_closed() && !writing_ && machine_->pending_output().empty()) {
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
  std::optional<TlsClientOptions> tls_;
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
  bool closed_ = false;
};

}  // namespace tern::runtime::directory
