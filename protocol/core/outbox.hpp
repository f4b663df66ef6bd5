// protocol/core/outbox.hpp — what every machine queues for its caller, in one shape.
//
// Contract: ByteOutbox holds bytes to send; pending() is everything not yet taken and
// consume(n) takes the first n of them (partial writes are fine; n beyond what is pending
// is clamped). EventQueue hands events out in the order they were pushed. Both back the
// pending_output()/consume_output()/poll_event() outputs of the machine contract
// (docs/architecture.md); MachineOutputs gives a machine those three calls at once, so
// every machine behaves the same way there.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tern::protocol {

class ByteOutbox {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // For encoders that write straight into the outbox (the DATA path avoids a copy): the
  // caller may only append to the string it gets.
  std::string& append_target() { return buffer_; }
  std::span<const char> pending() const { return std::span<const char>(buffer_).subspan(sent_); }
  std::size_t size() const { return buffer_.size() - sent_; }
  bool empty() const { return size() == 0; }
  void consume(std::size_t n) {
    sent_ += std::min(n, size());
    if (sent_ == buffer_.size()) {  // all sent: start over without moving bytes around
      buffer_.clear();
      sent_ = 0;
    }
  }

 private:
  std::string buffer_;
  std::size_t sent_ = 0;  // bytes of buffer_ already taken
};

template <class Event>
class EventQueue {
 public:
  void push(Event event) { events_.push_back(std::move(event)); }
  std::optional<Event> poll() {
    if (events_.empty()) return std::nullopt;
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
  }
  bool empty() const { return events_.empty(); }

 private:
  std::deque<Event> events_;
};

// The polled outputs every machine has. A machine derives from it, queues into out_ and
// events_, and inherits pending_output(), consume_output(n) and poll_event().
template <class Event>
class MachineOutputs {
 public:
  std::span<const char> pending_output() const { return out_.pending(); }
  void consume_output(std::size_t n) { out_.consume(n); }
  std::optional<Event> poll_event() { return events_.poll(); }

 protected:
  ByteOutbox out_;
  EventQueue<Event> events_;
};

}  // namespace tern::protocol
