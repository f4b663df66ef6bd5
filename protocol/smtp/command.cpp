#include "protocol/smtp/command.hpp"

#include <array>
#include <limits>

#include "protocol/smtp/chars.hpp"

namespace tern::protocol::smtp {
namespace {

constexpr std::size_t kMechanismBytesMax = 20;  // RFC 4422 §3.1 / RFC 4954 sasl-mech

Unexpected<CommandError> reject(std::uint16_t code, EnhancedStatus status, std::size_t offset,
                                std::string message, std::string_view usage = {}) {
  return unexpected(CommandError{code, status, Error{offset, std::move(message)},
                                 std::string(usage), std::nullopt});
}

// 501 5.5.2: the arguments do not have the shape of the command.
Unexpected<CommandError> bad_syntax(std::size_t offset, std::string message,
                                    std::string_view usage) {
  return reject(501, {5, 5, 2}, offset, std::move(message), usage);
}

// 501 5.5.4: the shape is right but a value is not acceptable.
Unexpected<CommandError> bad_argument(std::size_t offset, std::string message,
                                      std::string_view usage) {
  return reject(501, {5, 5, 4}, offset, std::move(message), usage);
}

// Address faults. RFC 5321 §4.5.3.1.10 answers an over-long path with 501; RFC 3463 has no
// "too long" code for addresses, and its nearest is the bad-address-syntax pair: X.1.7 for
// the sender (MAIL), X.1.3 for a recipient (RCPT) — a path longer than the server accepts is
// an address it cannot parse. Non-ASCII without SMTPUTF8 is RFC 6531's 553 X.6.7.
Unexpected<CommandError> address_fault(const AddressError& e, std::size_t base, bool sender,
                                       std::string_view usage) {
  if (e.fault == AddressFault::non_ascii) {
    return reject(553, {5, 6, 7}, base + e.error.offset, e.error.message, usage);
  }
  const EnhancedStatus status = sender ? EnhancedStatus{5, 1, 7} : EnhancedStatus{5, 1, 3};
  return reject(501, status, base + e.error.offset, e.error.message, usage);
}

// Free text of VRFY/EXPN/NOOP/HELP: printable ASCII and SP, UTF-8 only with SMTPUTF8.
std::optional<CommandError> check_text(std::string_view text, std::size_t at, const ParseOptions& o,
                                       std::string_view usage) {
  for (std::size_t i = 0; i < text.size();) {
    if (chars::is_print_or_space(text[i])) {
      ++i;
      continue;
    }
    if (!chars::is_non_ascii(text[i]))
      return bad_argument(at + i, "control character in argument", usage).error;
    if (!o.smtputf8)
      return bad_argument(at + i, "non-ASCII argument without SMTPUTF8", usage).error;
    const std::size_t n = chars::utf8_sequence_length(text, i);
    if (n == 0) return bad_argument(at + i, "malformed UTF-8 in argument", usage).error;
    i += n;
  }
  return std::nullopt;
}

// ---- one handler per verb; `args` is everything after the verb, at line offset `at` ----

struct Context {
  std::string_view args;
  std::size_t at;  // offset of args in the line
  const ParseOptions& options;
  std::string_view usage;
};

template <class T>
CommandResult no_args(const Context& c) {
  if (!c.args.empty()) return bad_argument(c.at, "this command takes no arguments", c.usage);
  return Command{T{}};
}

// " text" (required or optional) for VRFY, EXPN, NOOP, HELP.
Expected<std::optional<std::string>, CommandError> text_arg(const Context& c, bool required) {
  if (c.args.empty()) {
    if (required) return bad_syntax(c.at, "missing argument", c.usage);
    return std::optional<std::string>();
  }
  if (c.args[0] != ' ' || c.args.size() == 1)
    return bad_syntax(c.at, "expected one space and an argument", c.usage);
  if (auto e = check_text(c.args.substr(1), c.at + 1, c.options, c.usage))
    return unexpected(std::move(*e));
  return std::optional<std::string>(std::string(c.args.substr(1)));
}

template <class T, bool required>
CommandResult text_command(const Context& c) {
  auto t = text_arg(c, required);
  if (!t) return unexpected(t.error());
  if constexpr (required) {
    return Command{T{std::move(**t)}};
  } else {
    return Command{T{std::move(*t)}};
  }
}

template <class T>
CommandResult hello(const Context& c) {
  if (c.args.size() < 2 || c.args[0] != ' ') return bad_syntax(c.at, "missing domain", c.usage);
  auto host = parse_host(c.args.substr(1), AddressOptions{c.options.limits, c.options.smtputf8});
  if (!host) {
    const AddressError& e = host.error();
    return bad_argument(c.at + 1 + e.error.offset, e.error.message, c.usage);
  }
  return Command{T{std::move(*host)}};
}

// " FROM:" / " TO:" then at most one SP: the offset where the path begins.
std::optional<std::size_t> path_start(std::string_view args, std::string_view keyword) {
  if (!chars::istarts_with(args, keyword)) return std::nullopt;
  std::size_t pos = keyword.size();
  if (pos < args.size() && args[pos] == ' ') ++pos;  // the common client deviation
  return pos;
}

// After the path: nothing, or one SP and the parameters.
Expected<std::string_view, CommandError> params_text(const Context& c, std::size_t pos) {
  if (pos == c.args.size()) return std::string_view();
  if (c.args[pos] != ' ') return bad_syntax(c.at + pos, "expected a space after the path", c.usage);
  if (pos + 1 == c.args.size())
    return bad_syntax(c.at + pos, "trailing space after the path", c.usage);
  return c.args.substr(pos + 1);
}

template <class P>
std::optional<CommandError> check_unknown(const Context& c, const P& params) {
  if (!c.options.reject_unknown_params || params.unknown.empty()) return std::nullopt;
  return reject(555, {5, 5, 4}, c.at, "unsupported parameter " + params.unknown.front().keyword,
                c.usage)
      .error;
}

CommandResult mail(const Context& c) {
  const auto start = path_start(c.args, " FROM:");
  if (!start) return bad_syntax(c.at, "expected FROM:", c.usage);
  const AddressOptions ao{c.options.limits, c.options.smtputf8};
  auto path = parse_reverse_path_prefix(c.args.substr(*start), ao);
  if (!path) return address_fault(path.error(), c.at + *start, true, c.usage);
  auto text = params_text(c, *start + path->length);
  if (!text) return unexpected(text.error());
  auto params = parse_mail_params(*text, ParamOptions{c.options.limits, c.options.smtputf8});
  const std::size_t params_at = c.at + *start + path->length + 1;
  if (!params)
    return bad_argument(params_at + params.error().offset, params.error().message, c.usage);
  if (auto e = check_unknown(c, *params)) return unexpected(std::move(*e));
  if (path->value.path && needs_smtputf8(path->value.path->mailbox) && !params->smtputf8) {
    return reject(553, {5, 6, 7}, c.at + *start, "non-ASCII address without the SMTPUTF8 parameter",
                  c.usage);
  }
  return Command{Mail{std::move(path->value), std::move(*params)}};
}

CommandResult rcpt(const Context& c) {
  const auto start = path_start(c.args, " TO:");
  if (!start) return bad_syntax(c.at, "expected TO:", c.usage);
  const AddressOptions ao{c.options.limits, c.options.smtputf8};
  auto path = parse_forward_path_prefix(c.args.substr(*start), ao);
  if (!path) return address_fault(path.error(), c.at + *start, false, c.usage);
  auto text = params_text(c, *start + path->length);
  if (!text) return unexpected(text.error());
  auto params = parse_rcpt_params(*text, ParamOptions{c.options.limits, c.options.smtputf8});
  const std::size_t params_at = c.at + *start + path->length + 1;
  if (!params)
    return bad_argument(params_at + params.error().offset, params.error().message, c.usage);
  if (auto e = check_unknown(c, *params)) return unexpected(std::move(*e));
  return Command{Rcpt{std::move(path->value), std::move(*params)}};
}

CommandResult bdat(const Context& c) {
  if (c.args.size() < 2 || c.args[0] != ' ') return bad_syntax(c.at, "missing chunk size", c.usage);
  const std::string_view rest = c.args.substr(1);
  const std::size_t sp = rest.find(' ');
  const std::string_view digits = rest.substr(0, sp);
  if (digits.empty() || digits.size() > 20)
    return bad_syntax(c.at + 1, "expected a chunk size of 1 to 20 digits", c.usage);
  Bdat b;
  for (char ch : digits) {
    if (!chars::is_digit(ch))
      return bad_syntax(c.at + 1, "expected a chunk size of 1 to 20 digits", c.usage);
    const auto d = static_cast<std::uint64_t>(ch - '0');
    if (b.chunk_bytes > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return bad_argument(c.at + 1, "chunk size does not fit in 64 bits", c.usage);
    }
    b.chunk_bytes = b.chunk_bytes * 10 + d;
  }
  if (sp != std::string_view::npos) {
    if (!chars::iequals(rest.substr(sp + 1), "LAST"))
      return bad_syntax(c.at + 2 + sp, "expected LAST", c.usage);
    b.last = true;
  }
  if (b.chunk_bytes > c.options.bdat_chunk_bytes_max) {
    auto e =
        reject(552, {5, 3, 4}, c.at + 1,
               "chunk size exceeds " + std::to_string(c.options.bdat_chunk_bytes_max) + " octets",
               c.usage);
    e.error.bdat_chunk_bytes = b.chunk_bytes;
    return e;
  }
  return Command{b};
}

bool is_base64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  std::size_t pad = 0;
  for (char ch : s) {
    if (ch == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return false;  // '=' only at the end
    if (!chars::is_let_dig(ch) && ch != '+' && ch != '/') return false;
  }
  return pad <= 2;
}

CommandResult auth(const Context& c) {
  if (c.args.size() < 2 || c.args[0] != ' ') return bad_syntax(c.at, "missing mechanism", c.usage);
  const std::string_view rest = c.args.substr(1);
  const std::size_t sp = rest.find(' ');
  const std::string_view mech = rest.substr(0, sp);
  if (mech.empty() || mech.size() > kMechanismBytesMax)
    return bad_syntax(c.at + 1, "invalid mechanism name", c.usage);
  for (char ch : mech) {
    if (!chars::is_let_dig(ch) && ch != '-' && ch != '_')
      return bad_syntax(c.at + 1, "invalid mechanism name", c.usage);
  }
  Auth a{chars::to_upper_ascii(mech), std::nullopt};
  if (sp != std::string_view::npos) {
    const std::string_view resp = rest.substr(sp + 1);
    if (resp == "=")
      a.initial_response = std::string();
    else if (is_base64(resp))
      a.initial_response = std::string(resp);
    else
      return bad_syntax(c.at + 2 + sp, "initial response is not base64 or \"=\"", c.usage);
  }
  return Command{std::move(a)};
}

// ---- the verb table --------------------------------------------------------------------

enum class Mode { both, smtp_only, lmtp_only };

struct Verb {
  std::string_view name;
  std::string_view usage;
  Mode mode;
  CommandResult (*handler)(const Context&);
};

constexpr std::array<Verb, 15> kVerbs{{
    {"EHLO", "Syntax: EHLO domain", Mode::smtp_only, hello<Ehlo>},
    {"HELO", "Syntax: HELO domain", Mode::smtp_only, hello<Helo>},
    {"LHLO", "Syntax: LHLO domain", Mode::lmtp_only, hello<Lhlo>},
    {"MAIL", "Syntax: MAIL FROM:<address> [parameters]", Mode::both, mail},
    {"RCPT", "Syntax: RCPT TO:<address> [parameters]", Mode::both, rcpt},
    {"DATA", "Syntax: DATA", Mode::both, no_args<Data>},
    {"BDAT", "Syntax: BDAT size [LAST]", Mode::both, bdat},
    {"RSET", "Syntax: RSET", Mode::both, no_args<Rset>},
    {"NOOP", "Syntax: NOOP [string]", Mode::both, text_command<Noop, false>},
    {"QUIT", "Syntax: QUIT", Mode::both, no_args<Quit>},
    {"VRFY", "Syntax: VRFY string", Mode::both, text_command<Vrfy, true>},
    {"EXPN", "Syntax: EXPN string", Mode::both, text_command<Expn, true>},
    {"HELP", "Syntax: HELP [topic]", Mode::both, text_command<Help, false>},
    {"STARTTLS", "Syntax: STARTTLS", Mode::both, no_args<StartTls>},
    {"AUTH", "Syntax: AUTH mechanism [initial-response]", Mode::both, auth},
}};

const Verb* find_verb(std::string_view name, bool lmtp) {
  for (const Verb& v : kVerbs) {
    if (!chars::iequals(name, v.name)) continue;
    if ((v.mode == Mode::smtp_only && lmtp) || (v.mode == Mode::lmtp_only && !lmtp)) return nullptr;
    return &v;
  }
  return nullptr;
}

// Faults of the line as a whole, before any verb is looked at.
std::optional<CommandError> check_line(std::string_view line, const GrammarLimits& limits) {
  if (line.size() + 2 > limits.command_line_bytes_max) {
    // RFC 5321 §4.5.3.1.10 "500 Line too long"; X.5.6 is the registry's line-too-long code
    // (RFC 4954), the nearest RFC 3463-family code for it.
    return reject(500, {5, 5, 6}, limits.command_line_bytes_max - 2, "line too long").error;
  }
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\0') return reject(500, {5, 5, 2}, i, "NUL byte in command line").error;
    if (line[i] == '\r' || line[i] == '\n')
      return reject(500, {5, 5, 2}, i, "bare CR or LF in command line").error;
  }
  return std::nullopt;
}

struct VerbName {
  std::string_view operator()(const Ehlo&) const { return "EHLO"; }
  std::string_view operator()(const Helo&) const { return "HELO"; }
  std::string_view operator()(const Lhlo&) const { return "LHLO"; }
  std::string_view operator()(const Mail&) const { return "MAIL"; }
  std::string_view operator()(const Rcpt&) const { return "RCPT"; }
  std::string_view operator()(const Data&) const { return "DATA"; }
  std::string_view operator()(const Bdat&) const { return "BDAT"; }
  std::string_view operator()(const Rset&) const { return "RSET"; }
  std::string_view operator()(const Noop&) const { return "NOOP"; }
  std::string_view operator()(const Quit&) const { return "QUIT"; }
  std::string_view operator()(const Vrfy&) const { return "VRFY"; }
  std::string_view operator()(const Expn&) const { return "EXPN"; }
  std::string_view operator()(const Help&) const { return "HELP"; }
  std::string_view operator()(const StartTls&) const { return "STARTTLS"; }
  std::string_view operator()(const Auth&) const { return "AUTH"; }
};

// The arguments after the verb, canonical form (including the leading SP when present).
struct ArgsWriter {
  using S = std::string;
  S operator()(const Ehlo& c) const { return chars::concat({" ", serialize(c.host)}); }
  S operator()(const Helo& c) const { return chars::concat({" ", serialize(c.host)}); }
  S operator()(const Lhlo& c) const { return chars::concat({" ", serialize(c.host)}); }
  S operator()(const Mail& c) const {
    return chars::concat({" FROM:", serialize(c.path), serialize_params(c.params)});
  }
  S operator()(const Rcpt& c) const {
    return chars::concat({" TO:", serialize(c.path), serialize_params(c.params)});
  }
  S operator()(const Bdat& c) const {
    return chars::concat({" ", std::to_string(c.chunk_bytes), c.last ? " LAST" : ""});
  }
  S operator()(const Noop& c) const { return c.text ? chars::concat({" ", *c.text}) : S(); }
  S operator()(const Vrfy& c) const { return chars::concat({" ", c.text}); }
  S operator()(const Expn& c) const { return chars::concat({" ", c.text}); }
  S operator()(const Help& c) const { return c.topic ? chars::concat({" ", *c.topic}) : S(); }
  S operator()(const Auth& c) const {
    if (!c.initial_response) return chars::concat({" ", c.mechanism});
    return chars::concat(
        {" ", c.mechanism, " ",
         c.initial_response->empty() ? "=" : std::string_view(*c.initial_response)});
  }
  template <class T>
  S operator()(const T&) const {
    return S();
  }
};

// A source route is parsed but never written back, so compare without that flag.
Command without_source_routes(Command c) {
  if (auto* m = std::get_if<Mail>(&c); m != nullptr && m->path.path)
    m->path.path->source_route_ignored = false;
  if (auto* r = std::get_if<Rcpt>(&c); r != nullptr && r->path.path)
    r->path.path->source_route_ignored = false;
  return c;
}

}  // namespace

std::string_view verb_name(const Command& command) {
  return std::visit(VerbName{}, command);
}

Reply CommandError::to_reply() const {
  Reply r{code, status, {error.message}};
  if (!usage.empty()) r.lines.push_back(usage);
  return r;
}

CommandResult parse_command(std::span<const char> bytes, const ParseOptions& options) {
  ParseOptions o = options;
  o.limits = options.limits.effective();
  std::string_view line(bytes.data(), bytes.size());
  if (auto e = check_line(line, o.limits)) return unexpected(std::move(*e));
  if (o.allow_trailing_whitespace) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  }
  const std::size_t verb_end = std::min(line.find(' '), line.size());
  const Verb* verb = find_verb(line.substr(0, verb_end), o.lmtp);
  if (verb == nullptr) return reject(500, {5, 5, 1}, 0, "command unrecognized");
  return verb->handler(Context{line.substr(verb_end), verb_end, o, verb->usage});
}

Result<std::string> serialize(const Command& command) {
  std::string line(verb_name(command));
  line += std::visit(ArgsWriter{}, command);
  ParseOptions o;
  o.smtputf8 = true;
  o.lmtp = std::holds_alternative<Lhlo>(command);
  o.bdat_chunk_bytes_max = std::numeric_limits<std::uint64_t>::max();
  const std::size_t big = line.size() + 2;
  o.limits = GrammarLimits{big, big, big, big, big, big}.effective();
  auto back = parse_command(std::span<const char>(line.data(), line.size()), o);
  if (!back)
    return fail(back.error().error.offset,
                "command cannot be serialized: " + back.error().error.message);
  if (*back != without_source_routes(command))
    return fail(0, "command cannot be serialized canonically");
  return line + "\r\n";
}

}  // namespace tern::protocol::smtp
