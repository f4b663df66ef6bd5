// Test harness for the IMAP machines: drives a ServerSession or a ClientSession with input
// in chunks, answers the server's questions with a policy, and wires a client to a server
// through an in-memory pipe. Shared by unit tests, properties and fuzz targets.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/imap/client_session.hpp"
#include "protocol/imap/server_session.hpp"

namespace tern::protocol::imap::testing {

inline std::string describe(const ServerEvent& event) {
  struct Describe {
    std::string operator()(const VerifyEvent& e) {
      std::string s = "verify " + e.mechanism;
      if (const auto* p = std::get_if<sasl::PasswordCredentials>(&e.credentials))
        s += " " + p->authcid + " " + p->password;
      return s;
    }
    std::string operator()(const AuthenticatedEvent& e) { return "authenticated " + e.user; }
    std::string operator()(const AuthFailedEvent& e) {
      return "auth failed " + std::to_string(int(e.reason));
    }
    std::string operator()(const StartTlsEvent&) { return "starttls"; }
    std::string operator()(const CompletedEvent& e) {
      return "completed " + e.tag + " " + e.command + " " + std::string(status_name(e.status));
    }
    std::string operator()(const ClosedEvent& e) {
      return "closed " + std::to_string(int(e.reason));
    }
  };
  return std::visit(Describe{}, event);
}

inline std::string describe(const ClientEvent& event) {
  struct Describe {
    std::string operator()(const CapabilitiesEvent& e) {
      std::string s = "caps";
      for (const auto& c : e.capabilities) s += " " + c;
      return s;
    }
    std::string operator()(const StartTlsEvent&) { return "starttls"; }
    std::string operator()(const OutcomeEvent& e) {
      return "outcome " + std::to_string(int(e.outcome)) + " " + std::to_string(int(e.reason)) +
             " " + e.method;
    }
    std::string operator()(const ClientClosedEvent&) { return "closed"; }
  };
  return std::visit(Describe{}, event);
}

template <class Event>
std::vector<std::string> describe_all(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(describe(e));
  return out;
}

// Password "pass" for user "user" is right; CRAM-MD5 users get the secret "pass".
inline ServerDecision check_user_pass(const VerifyEvent& event) {
  if (const auto* p = std::get_if<sasl::PasswordCredentials>(&event.credentials)) {
    return Verified{p->authcid == "user" && p->password == "pass"};
  }
  if (const auto* s = std::get_if<sasl::SecretRequest>(&event.credentials)) {
    return Secret{s->username == "user" ? std::optional<std::string>("pass") : std::nullopt};
  }
  return Verified{false};
}

// The lines of a byte stream, without CRLF.
inline std::vector<std::string> lines_of(const std::string& output) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < output.size()) {
    const auto end = output.find("\r\n", start);
    if (end == std::string::npos) break;
    out.push_back(output.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

struct ServerHarness {
  ServerSession session;
  std::function<ServerDecision(const VerifyEvent&)> policy = check_user_pass;
  std::string output;
  std::vector<ServerEvent> events;
  Instant now{0};

  explicit ServerHarness(ServerConfig config) : session(std::move(config), Instant{0}) { drain(); }

  // Feeds `input` in pieces of at most `chunk` bytes (0: all at once). Returns what the
  // session did not take.
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

  bool drain() {
    bool any = false;
    while (true) {
      const auto out = session.pending_output();
      if (!out.empty()) {
        output.append(out.data(), out.size());
        session.consume_output(out.size());
        any = true;
      }
      auto event = session.poll_event();
      if (!event) break;
      any = true;
      events.push_back(*event);
      if (const auto* verify = std::get_if<VerifyEvent>(&*event)) {
        if (auto error = session.decide(verify->ticket, policy(*verify), now)) {
          throw std::runtime_error("decide failed: " + error.message());
        }
      }
    }
    return any;
  }

  std::vector<std::string> lines() const { return lines_of(output); }
};

struct ClientHarness {
  ClientSession session;
  std::string output;
  std::vector<ClientEvent> events;
  Instant now{0};

  explicit ClientHarness(ClientConfig config) : session(config, Instant{0}) { drain(); }

  std::string run(std::string_view input, std::size_t chunk = 0) {
    while (!input.empty()) {
      const std::size_t size = chunk == 0 ? input.size() : std::min(chunk, input.size());
      const std::size_t used = session.feed(input.substr(0, size), now);
      input.remove_prefix(used);
      drain();
      if (used == 0) break;
    }
    return std::string(input);
  }

  void drain() {
    const auto out = session.pending_output();
    output.append(out.data(), out.size());
    session.consume_output(out.size());
    while (auto event = session.poll_event()) events.push_back(*event);
  }

  std::vector<std::string> lines() const { return lines_of(output); }

  std::vector<OutcomeEvent> outcomes() const {
    std::vector<OutcomeEvent> out;
    for (const auto& e : events) {
      if (const auto* o = std::get_if<OutcomeEvent>(&e)) out.push_back(*o);
    }
    return out;
  }
};

// A client and a server joined by an in-memory pipe. `next_chunk` says how many bytes to
// move at a time (called once per move); TLS is "established" on both sides once both
// asked for it and the pipe is empty.
struct Pipe {
  ClientHarness client;
  ServerHarness server;
  std::function<std::size_t()> next_chunk = [] { return std::size_t{1} << 20; };

  Pipe(ClientConfig c, ServerConfig s) : client(c), server(std::move(s)) {}

  void run(std::size_t steps_max = 100000) {
    std::size_t to_server = 0, to_client = 0;      // bytes of each output already delivered
    std::size_t client_done = 0, server_done = 0;  // StartTlsEvents already handled
    for (std::size_t step = 0; step < steps_max; ++step) {
      bool moved =
          move(client.output, to_server, [&](std::string_view b) { return server.run(b).size(); });
      moved = move(server.output, to_client,
                   [&](std::string_view b) { return client.run(b).size(); }) ||
              moved;
      const bool client_tls = count_tls(client.events) > client_done;
      const bool server_tls = count_tls(server.events) > server_done;
      if (client_tls && server_tls && to_server == client.output.size() &&
          to_client == server.output.size()) {
        ++client_done;
        ++server_done;
        (void)client.session.on_tls_established(client.now);
        (void)server.session.on_tls_established(server.now);
        client.drain();
        server.drain();
        continue;
      }
      if (!moved) break;
    }
  }

 private:
  template <class Feed>
  bool move(const std::string& from, std::size_t& sent, Feed feed) {
    if (sent >= from.size()) return false;
    const std::size_t n = std::min(std::max<std::size_t>(next_chunk(), 1), from.size() - sent);
    const std::size_t rest = feed(std::string_view(from).substr(sent, n));
    sent += n - rest;
    if (rest != 0) sent = from.size();  // the peer closed: what it did not take is lost
    return true;
  }
  template <class Events>
  static std::size_t count_tls(const Events& events) {
    std::size_t n = 0;
    for (const auto& e : events) n += std::holds_alternative<StartTlsEvent>(e) ? 1 : 0;
    return n;
  }
};

}  // namespace tern::protocol::imap::testing
