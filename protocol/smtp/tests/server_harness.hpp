// Test harness for ServerSession: feeds input, answers every question with a policy, and
// records the output and the events. Shared by unit tests, properties and fuzzing.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/smtp/server_session.hpp"

namespace tern::protocol::smtp::testing {

template <class Event>
concept HasTicket = requires(const Event& e) {
  e.ticket;
};

inline std::optional<Ticket> ticket_of(const ServerEvent& event) {
  return std::visit(
      [](const auto& e) -> std::optional<Ticket> {
        if constexpr (HasTicket<std::decay_t<decltype(e)>>) {
          return e.ticket;
        } else {
          return std::nullopt;
        }
      },
      event);
}

// A one-line rendering of an event, for comparing event streams in tests.
inline std::string describe(const ServerEvent& event) {
  struct Describe {
    std::string operator()(const HelloEvent& e) { return "hello " + serialize(e.host); }
    std::string operator()(const MailEvent& e) { return "mail " + serialize(e.command.path); }
    std::string operator()(const RcptEvent& e) { return "rcpt " + serialize(e.command.path); }
    std::string operator()(const BodyStartEvent& e) {
      return e.chunked ? "body bdat" : "body data";
    }
    std::string operator()(const BodyChunkEvent& e) { return "chunk " + e.bytes; }
    std::string operator()(const MessageEvent& e) {
      return "message " + std::to_string(e.body_bytes) + " " + std::to_string(e.recipients);
    }
    std::string operator()(const MessageAbortedEvent& e) {
      return "aborted " + std::to_string(int(e.reason));
    }
    std::string operator()(const AuthEvent& e) {
      return "auth " + e.mechanism + " " + e.response.value_or("-");
    }
    std::string operator()(const AuthCancelledEvent&) { return "auth cancelled"; }
    std::string operator()(const VerifyEvent& e) { return "verify " + e.text; }
    std::string operator()(const StartTlsEvent&) { return "starttls"; }
    std::string operator()(const ResetEvent&) { return "reset"; }
    std::string operator()(const RepliedEvent& e) {
      return "replied " + e.verb + " " + std::to_string(e.reply.code);
    }
    std::string operator()(const ClosedEvent& e) {
      return "closed " + std::to_string(int(e.reason));
    }
  };
  return std::visit(Describe{}, event);
}

// The events as lines, with consecutive body chunks merged (chunking depends on how the
// input was split; the bytes do not).
inline std::vector<std::string> describe_all(const std::vector<ServerEvent>& events) {
  std::vector<std::string> out;
  bool last_was_chunk = false;
  for (const auto& event : events) {
    const bool chunk = std::holds_alternative<BodyChunkEvent>(event);
    if (chunk && last_was_chunk) {
      out.back() += std::get<BodyChunkEvent>(event).bytes;
    } else {
      out.push_back(describe(event));
    }
    last_was_chunk = chunk;
  }
  return out;
}

// Accepts everything; AUTH succeeds when the decoded response is "\0user\0pass" (PLAIN).
inline ServerDecision accept_all(const ServerEvent& event) {
  if (const auto* auth = std::get_if<AuthEvent>(&event)) {
    if (!auth->response) return Challenge{""};
    if (*auth->response == std::string("\0user\0pass", 10)) return Authenticated{};
    return Reject{Reply{535, EnhancedStatus{5, 7, 8}, {"Authentication credentials invalid"}}};
  }
  if (const auto* message = std::get_if<MessageEvent>(&event)) {
    (void)message;
    return Accept{};
  }
  return Accept{};
}

struct Harness {
  ServerSession session;
  std::function<ServerDecision(const ServerEvent&)> policy = accept_all;
  std::string output;
  std::vector<ServerEvent> events;
  std::string body;
  std::size_t messages = 0;
  Instant now{0};

  explicit Harness(ServerConfig config) : session(std::move(config), Instant{0}) { drain(); }

  // Feeds `input` in pieces of at most `chunk` bytes (0: all at once), resolving every
  // question as it comes. Returns the bytes the session did not take (it closed).
  std::string run(std::string_view input, std::size_t chunk = 0) {
    while (!input.empty()) {
      const std::size_t size = chunk == 0 ? input.size() : std::min(chunk, input.size());
      const std::size_t used = session.feed(input.substr(0, size), now);
      input.remove_prefix(used);
      const bool progressed = drain();
      if (used == 0 && !progressed) break;
    }
    return std::string(input);
  }

  // Takes output and events; answers questions. True if anything happened.
  bool drain() {
    bool any = false;
    while (true) {
      auto out = session.pending_output();
      if (!out.empty()) {
        output.append(out.data(), out.size());
        session.consume_output(out.size());
        any = true;
      }
      auto event = session.poll_event();
      if (!event) break;
      any = true;
      if (const auto* chunk = std::get_if<BodyChunkEvent>(&*event)) body += chunk->bytes;
      if (std::holds_alternative<MessageEvent>(*event)) ++messages;
      events.push_back(*event);
      if (auto ticket = ticket_of(*event)) {
        auto error = session.decide(*ticket, policy(*event), now);
        if (error) throw std::runtime_error("decide failed: " + error.message());
      }
    }
    return any;
  }

  // The reply lines of the output, without CRLF.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < output.size()) {
      auto end = output.find("\r\n", start);
      if (end == std::string::npos) break;
      out.push_back(output.substr(start, end - start));
      start = end + 2;
    }
    return out;
  }
};

}  // namespace tern::protocol::smtp::testing
