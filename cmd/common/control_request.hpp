// cmd/common/control_request.hpp — the request line of ternd's control socket, both ways:
// `tern queue ...` formats it, ternd's control server parses it (cmd/ternd/control_server.hpp
// states the exchange around it).
//
// Contract:
// - Grammar: words separated by runs of spaces,
//     list [json] | show ID [json] | retry ID | retry --all | delete ID [silent] |
//     hold ID | release ID
//   with ID = [A-Za-z0-9]{1,64} (valid_queue_id).
// - parse_control_request(line): `line` without its LF (a CR before it is the caller's to
//   strip). Lines longer than kControlLineBytesMax, empty lines, unknown commands, wrong
//   arguments and bad ids fail with a one-line message fit for "error: <message>" (an
//   unknown command is quoted back terminal-safe, cut to 32 bytes).
// - format_control_request(request): the line for a valid request, LF included; parsing it
//   (without the LF) gives `request` back. Fields that the kind does not use (json for
//   retry, silent for list, ...) are not written, so they come back false.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"

namespace tern::cmd {

inline constexpr std::size_t kControlLineBytesMax = 1024;

struct ControlRequest {
  enum class Kind { list, show, retry, retry_all, remove, hold, release };
  Kind kind = Kind::list;
  std::string id;       // empty for list and retry_all
  bool json = false;    // list, show
  bool silent = false;  // remove
  friend bool operator==(const ControlRequest&, const ControlRequest&) = default;
};

// One request line, without its LF. Fails with a message fit for `error: <message>`.
protocol::Result<ControlRequest> parse_control_request(std::string_view line);

std::string format_control_request(const ControlRequest& request);

}  // namespace tern::cmd
