// protocol/imap/grammar.hpp — the IMAP grammar of the authentication subset (RFC 9051 §9,
// RFC 3501 §9, LITERAL+/LITERAL- of RFC 7888): strings, responses and commands.
//
// Contract:
// - Character classes follow RFC 9051 §9: an atom is 1*ATOM-CHAR; a tag is 1*ASTRING-CHAR
//   without "+"; a quoted string escapes only DQUOTE and "\"; a literal is "{n}" CRLF (or
//   "{n+}", non-synchronizing) followed by exactly n bytes.
// - parse_response(text, limits): one complete response WITHOUT its final CRLF (for an
//   untagged data response, literals are inside: "{n}" CRLF <n bytes>). Returns the value
//   or an Error (offset into `text`). Status responses ("* OK", "tag NO", "* PREAUTH",
//   "* BYE") carry an optional response code kept as name + raw text; "* CAPABILITY" is
//   split into atoms; any other untagged response is kept raw as a DataResponse; "+" is a
//   ContinuationRequest. Only data responses may carry literals. Strict: a text that
//   starts with "[" must be a well-formed response code.
// - serialize(response, limits): the wire form with its final CRLF, or an Error when the
//   value could not be sent or would not parse back to itself (so parse(serialize(x)) == x
//   holds for every x that serializes).
// - Commands: serialize_command(command, mode, limits) chooses for each argument the
//   cheapest form (atom, quoted, literal) and returns the wire in segments: a segment that
//   ends with a synchronizing literal header must wait for a continuation request before
//   the next one is sent. It fails on a bad tag or name, or an argument that no form can
//   carry (a NUL, or longer than limits.literal_bytes_max). parse_command(parts, limits)
//   reads the parts a CommandReader (command_reader.hpp) framed; parse_command_head reads
//   just the tag and name, so a server can answer a command whose arguments it does not
//   parse.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/core/result.hpp"

namespace tern::protocol::imap {

// Every length the grammar reads has a limit; the defaults suit the authentication subset.
struct Limits {
  std::size_t line_bytes_max =
      std::size_t{64} * 1024;  // one line (or literal-separated segment) with CRLF
  std::size_t literal_bytes_max = std::size_t{64} * 1024;  // the bytes of one literal
  std::size_t literals_max = 16;                           // literals in one response or command
  std::size_t capabilities_max = 256;                      // atoms in one CAPABILITY list
  std::size_t ready_responses_max = 16;                    // parsed responses waiting to be polled
};

// ---- strings -----------------------------------------------------------------------------

bool is_atom_char(char c);
bool is_astring_char(char c);  // ATOM-CHAR or "]"
bool is_atom(std::string_view s);
bool is_tag(std::string_view s);
bool iequals(std::string_view a, std::string_view b);  // ASCII case-insensitive
// Quotable: 7-bit, no NUL, CR or LF (8-bit text goes as a literal, which IMAP4rev1 needs).
bool is_quotable(std::string_view s);
std::string quote(std::string_view s);  // DQUOTE ... DQUOTE with \" and \\ escaped

struct LiteralHeader {
  std::size_t bytes = 0;
  bool non_sync = false;   // "{n+}"
  std::size_t offset = 0;  // where "{" starts in the line
  friend bool operator==(const LiteralHeader&, const LiteralHeader&) = default;
};
// The literal header that ends `line` (no CRLF), if any. A "{...}" at the end that is not a
// well-formed header ("{}", "{12a}", "{99999999999999999999}") is an Error; so is a size
// over literal_bytes_max (the caller may still need to know it: see CommandReader).
std::optional<Result<LiteralHeader>> literal_header_at_end(std::string_view line,
                                                           bool allow_non_sync);
std::string literal_header(std::size_t bytes, bool non_sync);  // "{n}" or "{n+}" and CRLF

// ---- responses ---------------------------------------------------------------------------

enum class Status { ok, no, bad, preauth, bye };
std::string_view status_name(Status s);

struct ResponseCode {
  std::string name;  // an atom as sent, e.g. "CAPABILITY", "AUTHENTICATIONFAILED"
  std::string text;  // what follows "name SP" up to "]"; empty when nothing does
  bool is(std::string_view n) const { return iequals(name, n); }
  friend bool operator==(const ResponseCode&, const ResponseCode&) = default;
};

struct StatusResponse {
  std::string tag;  // empty: untagged ("*")
  Status status = Status::ok;
  std::optional<ResponseCode> code;
  std::string text;
  friend bool operator==(const StatusResponse&, const StatusResponse&) = default;
};

struct CapabilityResponse {
  std::vector<std::string> capabilities;
  friend bool operator==(const CapabilityResponse&, const CapabilityResponse&) = default;
};

// Any other untagged response, raw after "* " (literals included with their CRLF).
struct DataResponse {
  std::string text;
  friend bool operator==(const DataResponse&, const DataResponse&) = default;
};

struct ContinuationRequest {
  std::string text;  // base64 during AUTHENTICATE, resp-text otherwise
  friend bool operator==(const ContinuationRequest&, const ContinuationRequest&) = default;
};

using Response =
    std::variant<StatusResponse, CapabilityResponse, DataResponse, ContinuationRequest>;

Result<Response> parse_response(std::string_view text, const Limits& limits = {});
// True when `first_line` starts an untagged data response (the only kind with literals).
bool is_data_line(std::string_view first_line);
Result<std::string> serialize(const Response& response, const Limits& limits = {});

// The atoms of a "[CAPABILITY ...]" code's text (split on SP); an Error if one is not an atom.
Result<std::vector<std::string>> parse_capability_list(std::string_view text, const Limits& limits);
bool has_capability(const std::vector<std::string>& caps, std::string_view name);

// ---- commands ----------------------------------------------------------------------------

struct Command {
  std::string tag;
  std::string name;               // an atom; servers compare it case-insensitively
  std::vector<std::string> args;  // astrings, decoded
  friend bool operator==(const Command&, const Command&) = default;
};

// How the client may send literals: only synchronizing, LITERAL+ (always "{n+}"), or
// LITERAL- ("{n+}" up to 4096 bytes, RFC 7888 §4).
enum class LiteralMode { sync, non_sync, non_sync_small };
inline constexpr std::size_t kLiteralMinusBytesMax = 4096;

Result<std::vector<std::string>> serialize_command(const Command& command, LiteralMode mode,
                                                   const Limits& limits = {});

// One line of a command without its CRLF, and the literal that followed it, if any.
struct CommandPart {
  std::string line;
  std::optional<std::string> literal;
  friend bool operator==(const CommandPart&, const CommandPart&) = default;
};

struct CommandHead {
  std::string tag;
  std::string name;
  std::size_t rest = 0;  // offset in the first line after the name (at SP or the end)
};
// The tag and command name of a first line. The Error's offset is 0 when no tag could be
// read (the answer must be untagged); otherwise the tag is in `tag_seen`.
Result<CommandHead> parse_command_head(std::string_view line, std::string* tag_seen = nullptr);
Result<Command> parse_command(const std::vector<CommandPart>& parts, const Limits& limits = {});

// ---- shared by both machines --------------------------------------------------------------

// The STARTTLS exchange is done on this side: send what is pending, then start the handshake.
struct StartTlsEvent {
  friend bool operator==(const StartTlsEvent&, const StartTlsEvent&) = default;
};

}  // namespace tern::protocol::imap
