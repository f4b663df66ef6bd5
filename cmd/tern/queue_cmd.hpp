// cmd/tern/queue_cmd.hpp — `tern queue ...`: ask ternd, through its control socket
// (cmd/ternd/control_server.hpp states the protocol), to show or change the queue.
//
//   tern queue list [--json]          tern queue show ID [--json]
//   tern queue retry ID|--all         tern queue delete ID [--silent]
//   tern queue hold ID                tern queue release ID
//   each with [--config FILE | --socket PATH]
//
// Contract:
// - args are tern's arguments, args[0] == "queue" (as tern's main passes them).
// - The socket is PATH, or "<storage.spool of FILE>/control.sock" with FILE loaded and
//   checked by cmd::load_and_check (without either option: the embedded default's spool).
// - ID must be [A-Za-z0-9]{1,64}; it is checked here, so no argument can smuggle a second
//   word into the request line.
// - Exit status: 0 when ternd answers `ok` (the body goes to stdout); 1 when it answers
//   `error: ...` (the reason and any body go to stderr); 2 when the configuration has
//   errors (its diagnostics on stderr); 64 for a usage error; 69 (EX_UNAVAILABLE) when the
//   socket cannot be reached or ternd closes without a well-formed answer (the message
//   asks "is ternd running?"). The answer is streamed, never held whole in memory; its
//   first line may be at most kAnswerFirstLineMax bytes. There is no client-side timeout:
//   `delete` legitimately waits for an attempt in flight.
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace tern::cmd {

inline constexpr int kUnavailableExit = 69;  // EX_UNAVAILABLE
inline constexpr std::size_t kAnswerFirstLineMax = 4096;

int run_queue_command(const std::vector<std::string>& args);

// The parts of it, public for the tests.
struct QueueInvocation {
  std::string request_line;  // "show ABC json\n"
  std::string config_file;   // --config
  std::string socket_path;   // --socket
};
// nullopt and a message in `problem` on a usage error.
std::optional<QueueInvocation> parse_queue_args(const std::vector<std::string>& args,
                                                std::string& problem);
// "<storage.spool>/control.sock" of `config_file` ("" = the embedded default); nullopt
// after writing the configuration's diagnostics to `err` when it has errors.
std::optional<std::string> control_socket_from_config(const std::string& config_file,
                                                      std::ostream& err);
// Connects, sends `request_line`, copies the answer's body to out (ok) or err (error).
int exchange_with_ternd(const std::string& socket_path, const std::string& request_line,
                        std::ostream& out, std::ostream& err);

}  // namespace tern::cmd
