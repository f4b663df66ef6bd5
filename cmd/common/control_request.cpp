#include "cmd/common/control_request.hpp"

#include <vector>

#include "cmd/common/queue_render.hpp"  // valid_queue_id, terminal_safe

namespace tern::cmd {

namespace {

using Kind = ControlRequest::Kind;

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t end = std::min(line.find(' ', i), line.size());
    words.push_back(line.substr(i, end - i));
    i = end;
  }
  return words;
}

protocol::Error usage(std::string_view text) {
  return protocol::fail(0, "usage: " + std::string(text));
}

protocol::Result<ControlRequest> with_id(Kind kind, std::string_view id) {
  if (!valid_queue_id(id)) {
    return protocol::fail(0, "invalid message id (1 to 64 letters and digits)");
  }
  return ControlRequest{kind, std::string(id), false, false};
}

// A word of the peer's, quoted back safely and briefly.
std::string echo(std::string_view word) {
  constexpr std::size_t kEchoBytesMax = 32;
  std::string safe = terminal_safe(word.substr(0, kEchoBytesMax));
  return "'" + safe + (word.size() > kEchoBytesMax ? "...'" : "'");
}

protocol::Result<ControlRequest> parse_words(const std::vector<std::string_view>& w) {
  const std::string_view cmd = w[0];
  const std::size_t n = w.size();
  if (cmd == "list") {
    if (n == 1 || (n == 2 && w[1] == "json")) return ControlRequest{Kind::list, "", n == 2, false};
    return usage("list [json]");
  }
  if (cmd == "show") {
    if (n < 2 || n > 3 || (n == 3 && w[2] != "json")) return usage("show ID [json]");
    auto r = with_id(Kind::show, w[1]);
    if (r) r.value().json = n == 3;
    return r;
  }
  if (cmd == "retry") {
    if (n != 2) return usage("retry ID | retry --all");
    if (w[1] == "--all") return ControlRequest{Kind::retry_all, "", false, false};
    return with_id(Kind::retry, w[1]);
  }
  if (cmd == "delete") {
    if (n < 2 || n > 3 || (n == 3 && w[2] != "silent")) return usage("delete ID [silent]");
    auto r = with_id(Kind::remove, w[1]);
    if (r) r.value().silent = n == 3;
    return r;
  }
  if (cmd == "hold" || cmd == "release") {
    if (n != 2) return usage(std::string(cmd) + " ID");
    return with_id(cmd == "hold" ? Kind::hold : Kind::release, w[1]);
  }
  return protocol::fail(
      0, "unknown command " + echo(cmd) + " (list, show, retry, delete, hold, release)");
}

}  // namespace

protocol::Result<ControlRequest> parse_control_request(std::string_view line) {
  if (line.size() > kControlLineBytesMax) {
    return protocol::fail(kControlLineBytesMax, "request line longer than 1024 bytes");
  }
  const std::vector<std::string_view> words = split_words(line);
  if (words.empty()) return protocol::fail(0, "empty request");
  return parse_words(words);
}

std::string format_control_request(const ControlRequest& r) {
  switch (r.kind) {
    case Kind::list: return r.json ? "list json\n" : "list\n";
    case Kind::show: return "show " + r.id + (r.json ? " json\n" : "\n");
    case Kind::retry: return "retry " + r.id + "\n";
    case Kind::retry_all: return "retry --all\n";
    case Kind::remove: return "delete " + r.id + (r.silent ? " silent\n" : "\n");
    case Kind::hold: return "hold " + r.id + "\n";
    case Kind::release: return "release " + r.id + "\n";
  }
  return "\n";
}

}  // namespace tern::cmd
