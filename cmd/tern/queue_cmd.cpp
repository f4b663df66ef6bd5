#include "cmd/tern/queue_cmd.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string_view>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd/common/control_request.hpp"
#include "cmd/common/diagnostics.hpp"
#include "cmd/common/queue_render.hpp"

namespace tern::cmd {

namespace {

constexpr std::string_view kQueueUsage =
    "usage: tern queue list [--json]\n"
    "       tern queue show ID [--json]\n"
    "       tern queue retry ID|--all\n"
    "       tern queue delete ID [--silent]\n"
    "       tern queue hold ID\n"
    "       tern queue release ID\n"
    "       each with [--config FILE | --socket PATH]\n";

struct Flags {
  bool json = false;
  bool silent = false;
  bool all = false;
  std::optional<std::string> id;
};

// What each subcommand accepts, and the request line it makes.
std::optional<std::string> request_for(const std::string& cmd, const Flags& f,
                                       std::string& problem) {
  using Kind = ControlRequest::Kind;
  const bool id = f.id.has_value();
  const auto fits = [&](bool ok, std::string_view form) -> bool {
    if (!ok) problem = "usage: tern queue " + std::string(form);
    return ok;
  };
  ControlRequest r;
  r.id = f.id.value_or("");
  if (cmd == "list") {
    if (!fits(!id && !f.silent && !f.all, "list [--json]")) return std::nullopt;
    r.kind = Kind::list;
    r.json = f.json;
  } else if (cmd == "show") {
    if (!fits(id && !f.silent && !f.all, "show ID [--json]")) return std::nullopt;
    r.kind = Kind::show;
    r.json = f.json;
  } else if (cmd == "retry") {
    if (!fits(id != f.all && !f.json && !f.silent, "retry ID|--all")) return std::nullopt;
    r.kind = f.all ? Kind::retry_all : Kind::retry;
  } else if (cmd == "delete") {
    if (!fits(id && !f.json && !f.all, "delete ID [--silent]")) return std::nullopt;
    r.kind = Kind::remove;
    r.silent = f.silent;
  } else if (cmd == "hold" || cmd == "release") {
    if (!fits(id && !f.json && !f.all && !f.silent, cmd + " ID")) return std::nullopt;
    r.kind = cmd == "hold" ? Kind::hold : Kind::release;
  } else {
    problem = "unknown queue command '" + terminal_safe(cmd) + "'";
    return std::nullopt;
  }
  return format_control_request(r);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

ssize_t read_some(int fd, char* buf, std::size_t size) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, size);
    if (n >= 0 || errno != EINTR) return n;
  }
}

int unavailable(std::ostream& err, const std::string& what) {
  err << "tern: " << what << " (is ternd running?)\n";
  return kUnavailableExit;
}

// -1 and a message on failure.
int connect_socket(const std::string& path, std::ostream& err) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) {
    unavailable(err, "control socket path '" + path + "' is longer than " +
                         std::to_string(sizeof address.sun_path - 1) + " bytes");
    return -1;
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    unavailable(err, std::string("socket: ") + std::strerror(errno));
    return -1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EACCES) {
      err << "tern: cannot connect to " << path << ": " << std::strerror(error)
          << " (run tern as the user ternd runs as)\n";
    } else {
      unavailable(err, "cannot connect to " + path + ": " + std::strerror(error));
    }
    return -1;
  }
  return fd;
}

// Reads the first line, then streams the rest where it belongs.
int read_answer(int fd, std::ostream& out, std::ostream& err) {
  std::string first;
  char buf[4096];
  std::size_t lf = std::string::npos;
  while (lf == std::string::npos) {
    const ssize_t n = read_some(fd, buf, sizeof buf);
    if (n <= 0) return unavailable(err, "ternd closed the connection without an answer");
    first.append(buf, static_cast<std::size_t>(n));
    lf = first.find('\n');
    if (lf == std::string::npos && first.size() > kAnswerFirstLineMax) {
      return unavailable(err, "ternd's answer is not a control answer");
    }
  }
  const std::string head = first.substr(0, lf);
  const bool ok = head == "ok";
  if (!ok && head.rfind("error: ", 0) != 0) {
    return unavailable(err, "ternd's answer is not a control answer");
  }
  std::ostream& body = ok ? out : err;
  if (!ok) err << "tern: " << terminal_safe(head.substr(7)) << '\n';
  body << std::string_view(first).substr(lf + 1);
  for (ssize_t n; (n = read_some(fd, buf, sizeof buf)) > 0;) {
    body.write(buf, n);
  }
  body.flush();
  return ok ? 0 : 1;
}

}  // namespace

std::optional<QueueInvocation> parse_queue_args(const std::vector<std::string>& args,
                                                std::string& problem) {
  if (args.size() < 2) {
    problem = "queue needs a command";
    return std::nullopt;
  }
  QueueInvocation inv;
  Flags flags;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json" || a == "--silent" || a == "--all") {
      (a == "--json" ? flags.json : a == "--silent" ? flags.silent : flags.all) = true;
    } else if (a == "--config" || a == "--socket") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        problem = a + " needs a value";
        return std::nullopt;
      }
      (a == "--config" ? inv.config_file : inv.socket_path) = args[++i];
    } else if (a.rfind('-', 0) == 0) {
      problem = "unknown option '" + terminal_safe(a) + "'";
      return std::nullopt;
    } else if (flags.id) {
      problem = "one message ID at a time";
      return std::nullopt;
    } else if (!valid_queue_id(a)) {
      problem = "'" + terminal_safe(a) + "' is not a message ID (1 to 64 letters and digits)";
      return std::nullopt;
    } else {
      flags.id = a;
    }
  }
  if (!inv.config_file.empty() && !inv.socket_path.empty()) {
    problem = "use --config FILE or --socket PATH, not both";
    return std::nullopt;
  }
  auto line = request_for(args[1], flags, problem);
  if (!line) return std::nullopt;
  inv.request_line = std::move(*line);
  return inv;
}

std::optional<std::string> control_socket_from_config(const std::string& config_file,
                                                      std::ostream& err) {
  // Warnings are `tern config check`'s business: here only errors are worth printing.
  std::ostringstream diagnostics;
  CheckedConfig loaded = load_and_check(config_file, diagnostics);
  if (!loaded.ok) {
    err << diagnostics.str();
    return std::nullopt;
  }
  return loaded.engine.engine.spool_dir + "/control.sock";
}

int exchange_with_ternd(const std::string& socket_path, const std::string& request_line,
                        std::ostream& out, std::ostream& err) {
  const int fd = connect_socket(socket_path, err);
  if (fd < 0) return kUnavailableExit;
  // A failed send still leaves an answer to read: a busy ternd says so, then closes.
  write_all(fd, request_line);
  const int status = read_answer(fd, out, err);
  ::close(fd);
  return status;
}

int run_queue_command(const std::vector<std::string>& args) {
  if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) {
    std::cout << kQueueUsage;
    return 0;
  }
  std::string problem;
  const std::optional<QueueInvocation> inv = parse_queue_args(args, problem);
  if (!inv) {
    std::cerr << "tern: " << problem << '\n' << kQueueUsage;
    return kUsageExit;
  }
  std::string socket_path = inv->socket_path;
  if (socket_path.empty()) {
    auto from_config = control_socket_from_config(inv->config_file, std::cerr);
    if (!from_config) return kConfigErrorExit;
    socket_path = std::move(*from_config);
  }
  return exchange_with_ternd(socket_path, inv->request_line, std::cout, std::cerr);
}

}  // namespace tern::cmd
