// tern — the command-line tool: checks configurations, prints the key reference, and says
// where mail would go, and looks at ternd's queue.
//
//   tern config check FILE     exit 0 with a one-line summary, or 2 with one
//                              FILE:LINE:COL: message line per problem (on stderr); the
//                              routing, directory and session checks of config/route_model
//                              run once the file loads (their warnings keep exit 0)
//   tern config reference      the configuration reference in Markdown (docs/configuration.md)
//   tern config default        the embedded default configuration
//   tern route --config FILE --from ADDR --to ADDR [--to ADDR ...] [--var NAME=VALUE ...]
//              [--explain] [--json]
//                              one line per recipient (with --json one JSON object per line);
//                              --explain shows each rule tried, the values it saw and the
//                              lookup answers. Exit 0 when every recipient has a route, 1 when
//                              some is unroutable, 2 for a configuration error, 64 for usage.
//   tern queue list|show|retry|delete|hold|release ...
//                              through ternd's control socket (cmd/tern/queue_cmd.hpp)
#include <algorithm>
#include <charconv>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "cmd/common/diagnostics.hpp"
#include "cmd/tern/queue_cmd.hpp"
#include "config/embedded_default.hpp"
#include "config/loader.hpp"
#include "config/route_model.hpp"
#include "protocol/route/router.hpp"

namespace {

namespace route = tern::protocol::route;

constexpr std::string_view kUsage =
    "usage: tern config check FILE\n"
    "       tern config reference\n"
    "       tern config default\n"
    "       tern route --config FILE --from ADDR --to ADDR [--to ADDR ...]\n"
    "                  [--var NAME=VALUE ...] [--explain] [--json]\n"
    "       tern queue list|show|retry|delete|hold|release ...  (tern queue --help)\n";

int usage_error(std::string_view message) {
  std::cerr << "tern: " << message << '\n' << kUsage;
  return tern::cmd::kUsageExit;
}

std::string summary(const std::string& file, const tern::config::Config& config,
                    std::size_t warnings) {
  return file + ": ok (" + std::to_string(config.entries().size()) + " keys set, " +
         std::to_string(config.instances("server.listener").size()) + " listeners, " +
         std::to_string(config.instances("remote").size()) + " remote hosts, " +
         std::to_string(config.instances("directory").size()) + " directories, " +
         std::to_string(warnings) + " warnings)";
}

int config_check(const std::string& file) {
  tern::cmd::CheckedConfig loaded = tern::cmd::load_and_check(file, std::cerr);
  if (!loaded.ok) return tern::cmd::kConfigErrorExit;
  std::cout << summary(file, loaded.load.config, loaded.warnings) << '\n';
  return 0;
}

struct RouteArgs {
  std::string config;
  std::string from;
  std::vector<std::string> to;
  std::vector<std::string> vars;
  bool explain = false;
  bool json = false;
};

std::optional<std::string> parse_route_args(const std::vector<std::string>& args, RouteArgs& out) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--explain") {
      out.explain = true;
    } else if (a == "--json") {
      out.json = true;
    } else if (a == "--config" || a == "--from" || a == "--to" || a == "--var") {
      if (i + 1 >= args.size()) return a + " needs a value";
      const std::string& v = args[++i];
      if (a == "--config") out.config = v;
      if (a == "--from") out.from = v;
      if (a == "--to") out.to.push_back(v);
      if (a == "--var") out.vars.push_back(v);
    } else {
      return "unknown option '" + a + "'";
    }
  }
  if (out.config.empty()) return "route needs --config FILE";
  if (out.to.empty()) return "route needs at least one --to ADDR";
  return std::nullopt;
}

std::optional<std::string> set_fact(route::ConnectionFacts& f, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos) return "--var wants NAME=VALUE, got '" + assignment + "'";
  const std::string name = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  std::string* text = name == "listener"           ? &f.listener
                      : name == "remote_ip"        ? &f.remote_ip
                      : name == "local_ip"         ? &f.local_ip
                      : name == "helo_domain"      ? &f.helo_domain
                      : name == "authenticated_as" ? &f.authenticated_as
                      : name == "last_error"       ? &f.last_error
                                                   : nullptr;
  if (text != nullptr) {
    *text = value;
    return std::nullopt;
  }
  std::int64_t* number = name == "priority"    ? &f.priority
                         : name == "retry_num" ? &f.retry_num
                                               : nullptr;
  if (number == nullptr) {
    return "unknown variable '" + name +
           "' (listener, remote_ip, local_ip, helo_domain, authenticated_as, priority, retry_num, "
           "last_error)";
  }
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), *number);
  if (ec != std::errc() || end != value.data() + value.size())
    return name + " wants an integer, got '" + value + "'";
  return std::nullopt;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string route_json(const route::Outcome& outcome) {
  if (const auto* u = std::get_if<route::Unroutable>(&outcome)) {
    return "\"route\":\"error\",\"error\":" + json_string(u->reason);
  }
  if (std::holds_alternative<route::Pending>(outcome)) return "\"route\":\"pending\"";
  const route::Route& r = std::get<route::Route>(outcome);
  if (std::holds_alternative<route::LocalRoute>(r)) return "\"route\":\"local\"";
  if (const auto* remote = std::get_if<route::RemoteRoute>(&r)) {
    const route::RemoteHost& h = remote->host;
    return "\"route\":\"remote\",\"remote\":" + json_string(h.id) + ",\"protocol\":\"" +
           std::string(route::to_string(h.protocol)) + "\",\"address\":" + json_string(h.address) +
           ",\"port\":" + std::to_string(h.port) + ",\"tls\":\"" +
           std::string(route::to_string(h.tls)) +
           "\",\"allow_invalid_certs\":" + (h.allow_invalid_certs ? "true" : "false") +
           ",\"auth\":" + (h.auth_username ? json_string(*h.auth_username) : "null");
  }
  const auto& mx = std::get<route::MxRoute>(r);
  return "\"route\":\"mx\",\"domain\":" + json_string(mx.domain) + ",\"mta_sts\":\"" +
         std::string(route::to_string(mx.tls.mta_sts)) + "\",\"dane\":\"" +
         std::string(route::to_string(mx.tls.dane)) + "\",\"starttls\":\"" +
         std::string(route::to_string(mx.tls.starttls)) + "\"";
}

std::string route_text(const route::Outcome& outcome) {
  if (const auto* u = std::get_if<route::Unroutable>(&outcome)) return "error: " + u->reason;
  if (const auto* p = std::get_if<route::Pending>(&outcome)) {
    return "pending: needs " + std::to_string(p->lookups.size()) + " lookups";
  }
  return route::describe(std::get<route::Route>(outcome));
}

// The trace of one recipient, in words, one string per line.
std::vector<std::string> explain_lines(const route::RecipientOutcome& r,
                                       const route::RuleList& rules,
                                       const tern::config::DirectoryLookups& lookups,
                                       const std::string& context) {
  std::vector<std::string> out;
  out.push_back("rcpt " + r.rcpt + " (rcpt_domain " + route::quote_string(r.domain) +
                "), rules of " + context + ":");
  const route::Explanation& e = *r.explanation;
  for (const route::RuleTrace& t : e.rules) {
    std::string head =
        "  rule " + std::to_string(t.rule_index + 1) + " at " + route::to_string(t.position) + ": ";
    out.push_back(head + (t.condition_text    ? "if " + *t.condition_text
                          : t.rule_index == 0 ? "always"
                                              : "else"));
    for (const auto& v : t.variables)
      out.push_back("    " + v.name + " = " + route::format_value(v.value));
    for (const auto& l : t.lookups) {
      std::string answer = l.answer ? (*l.answer ? "true" : "false") : "unknown";
      out.push_back("    " + route::to_string(l.key) + " = " + answer + " (" +
                    lookups.reason(l.key) + ")");
    }
    if (t.condition_text && t.condition_result && !*t.condition_result) {
      out.push_back("    condition is false: next rule");
    } else if (e.matched_rule == t.rule_index && e.result) {
      std::string then =
          t.rule_index < rules.rules.size() ? rules.rules[t.rule_index].result_text : "?";
      out.push_back(
          std::string(t.condition_text ? "    condition is true: " : "    ") + "then " + then +
          (then == route::format_value(*e.result) ? "" : " = " + route::format_value(*e.result)) +
          (*e.result == route::Value(false) ? ": deliver by DNS MX" : ""));
    }
  }
  if (!e.matched_rule && !e.fault && e.needs_lookups.empty())
    out.push_back("  no rule matched: DNS MX");
  if (e.fault) out.push_back("  fault: " + *e.fault);
  out.push_back("  route: " + route_text(r.outcome));
  return out;
}

void print_recipient(const route::RecipientOutcome& r, const RouteArgs& args,
                     const tern::config::RouteModel& model,
                     const tern::config::DirectoryLookups& lookups) {
  const std::string context = model.relay_shorthand ? "smtp-relay-host" : "queue.outbound.next-hop";
  std::vector<std::string> lines;
  if (args.explain) lines = explain_lines(r, model.routing.next_hop, lookups, context);
  if (!args.json) {
    for (const auto& line : lines) std::cout << line << '\n';
    if (!args.explain) std::cout << r.rcpt << ": " << route_text(r.outcome) << '\n';
    return;
  }
  std::string json = "{\"rcpt\":" + json_string(r.rcpt) + "," + route_json(r.outcome) +
                     ",\"rule\":" + (r.rule ? std::to_string(*r.rule + 1) : "null");
  if (args.explain) {
    json += ",\"explain\":[";
    for (std::size_t i = 0; i < lines.size(); ++i) json += (i ? "," : "") + json_string(lines[i]);
    json += "]";
  }
  std::cout << json << "}\n";
}

int route_command(const std::vector<std::string>& args) {
  RouteArgs a;
  if (auto problem = parse_route_args(args, a)) return usage_error(*problem);
  route::RouteRequest request;
  for (const auto& v : a.vars) {
    if (auto problem = set_fact(request.facts, v)) return usage_error(*problem);
  }
  tern::cmd::CheckedConfig loaded = tern::cmd::load_and_check(a.config, std::cerr);
  if (!loaded.ok) return tern::cmd::kConfigErrorExit;
  const tern::config::RouteModel& model = loaded.model.model;
  request.envelope = {a.from, a.to};
  request.explain = a.explain;
  tern::config::DirectoryLookups lookups(model);
  route::Plan plan = route::route(request, model.routing, lookups);
  bool all_routed = true;
  for (const auto& r : plan.recipients) {
    print_recipient(r, a, model, lookups);
    all_routed = all_routed && std::holds_alternative<route::Route>(r.outcome);
  }
  return all_routed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? tern::cmd::kUsageExit : 0;
  }
  if (args[0] == "route") return route_command(args);
  if (args[0] == "queue") return tern::cmd::run_queue_command(args);
  if (args[0] != "config") return usage_error("unknown command '" + args[0] + "'");
  if (args.size() == 3 && args[1] == "check") return config_check(args[2]);
  if (args.size() == 2 && args[1] == "reference") {
    std::cout << tern::config::tern_schema().reference_markdown();
    return 0;
  }
  if (args.size() == 2 && args[1] == "default") {
    std::cout << tern::config::embedded_default_toml();
    return 0;
  }
  return usage_error("unknown or incomplete 'config' command");
}
