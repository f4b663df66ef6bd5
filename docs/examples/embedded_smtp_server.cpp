// A complete SMTP server in one file, on the tern::protocol library: it serves COUNT
// connections one after another on 127.0.0.1 over plain blocking sockets, accepts every
// message and prints its envelope and size. All SMTP rules (sequencing, pipelining, DATA
// framing, limits, replies) live in ServerSession; this program only moves bytes and
// answers the session's questions.
//
//   embedded_smtp_server COUNT   (prints "listening on PORT" first)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <tern/protocol/smtp/server_session.hpp>
#include <unistd.h>

namespace smtp = tern::protocol::smtp;

static tern::protocol::Instant now() {
  auto since_boot = std::chrono::steady_clock::now().time_since_epoch();
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(since_boot).count()};
}

// Sends everything the session has queued.
static bool flush(int fd, smtp::ServerSession& session) {
  while (!session.pending_output().empty()) {
    auto out = session.pending_output();
    ssize_t n = write(fd, out.data(), out.size());
    if (n <= 0) return false;
    session.consume_output(static_cast<std::size_t>(n));
  }
  return true;
}

// Answers the session's questions: accept everything, print what was received. Returns
// how many events there were.
static int handle_events(smtp::ServerSession& session, std::size_t& body_bytes) {
  int count = 0;
  while (auto event = session.poll_event()) {
    ++count;
    if (auto* mail = std::get_if<smtp::MailEvent>(&*event)) {
      std::printf("MAIL FROM:%s\n", smtp::serialize(mail->command.path).c_str());
      (void)session.decide(mail->ticket, smtp::Accept{}, now());
    } else if (auto* rcpt = std::get_if<smtp::RcptEvent>(&*event)) {
      std::printf("RCPT TO:%s\n", smtp::serialize(rcpt->command.path).c_str());
      (void)session.decide(rcpt->ticket, smtp::Accept{}, now());
    } else if (auto* chunk = std::get_if<smtp::BodyChunkEvent>(&*event)) {
      body_bytes += chunk->bytes.size();
    } else if (auto* message = std::get_if<smtp::MessageEvent>(&*event)) {
      std::printf("message of %zu bytes accepted\n", body_bytes);
      body_bytes = 0;
      (void)session.decide(message->ticket, smtp::Accept{}, now());
    } else if (auto* hello = std::get_if<smtp::HelloEvent>(&*event)) {
      (void)session.decide(hello->ticket, smtp::Accept{}, now());
    } else if (auto* verify = std::get_if<smtp::VerifyEvent>(&*event)) {
      (void)session.decide(verify->ticket, smtp::Accept{}, now());
    } else if (auto* auth = std::get_if<smtp::AuthEvent>(&*event)) {
      (void)session.decide(auth->ticket, smtp::Reject{{535, {{5, 7, 8}}, {"no AUTH here"}}}, now());
    }
  }
  return count;
}

static void serve(int fd) {
  smtp::ServerConfig config;
  config.hostname = "embedded.example";
  smtp::ServerSession session(config, now());
  std::string unconsumed;  // bytes read but not yet taken by the session
  std::size_t body_bytes = 0;
  char buffer[4096];
  while (!session.is_closed()) {
    // Feed what we have; the session may take part of it and pause on a question.
    const std::size_t used = session.feed(unconsumed, now());
    unconsumed.erase(0, used);
    const int events = handle_events(session, body_bytes);
    if (!flush(fd, session) || session.is_closed()) break;
    if (used > 0 || events > 0) continue;         // progress: feed the rest again
    ssize_t n = read(fd, buffer, sizeof buffer);  // the session needs more bytes
    if (n <= 0) {
      session.feed_eof(now());
      handle_events(session, body_bytes);
      break;
    }
    unconsumed.append(buffer, static_cast<std::size_t>(n));
  }
  flush(fd, session);
}

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 1;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 8) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listen");
    return 1;
  }
  std::printf("listening on %d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  for (int i = 0; i < count; ++i) {
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return 1;
    serve(fd);
    close(fd);
    std::fflush(stdout);
  }
  close(listener);
  return 0;
}
