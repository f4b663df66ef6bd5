// config/route_model: the seeds' examples load AND route as their text says; the static
// checks (unknown remote, `||` between strings, unreachable rules, relay TLS policy, the
// relay shorthand) report file:line:col diagnostics.
#include "config/route_model.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "protocol/route/router.hpp"

namespace tern::config {
namespace {

namespace route = protocol::route;

std::string read_seed(const std::string& name) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/conformance/seeds/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> toml_blocks(const std::string& document) {
  std::vector<std::string> blocks;
  std::istringstream lines(document);
  std::string line, block;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (!inside && line == "```toml") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

std::string messages(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += to_string(d) + "\n";
  return out;
}

struct Built {
  LoadResult load;
  RouteModelResult model;
};

Built build(const std::string& text, const std::string& name = "t.toml") {
  Built b{load_string(text, name), {}};
  EXPECT_TRUE(b.load.ok()) << messages(b.load.diagnostics);
  b.model = build_route_model(b.load.config);
  return b;
}

// The route of each recipient, as `describe` prints it (or "error: ...").
std::vector<std::string> routes(const RouteModel& model, std::vector<std::string> rcpts) {
  route::RouteRequest request;
  request.envelope = {"sender@example.com", std::move(rcpts)};
  DirectoryLookups lookups(model);
  route::Plan plan = route::route(request, model.routing, lookups);
  EXPECT_TRUE(plan.complete());
  std::vector<std::string> out;
  for (const auto& r : plan.recipients) {
    const auto* routed = std::get_if<route::Route>(&r.outcome);
    out.push_back(routed != nullptr ? route::describe(*routed) : "error");
  }
  return out;
}

const std::string kDirectory =
    "\n[directory.\"main\"]\ntype = \"memory\"\n"
    "principals = [{ name = \"ann\", email = \"ann@example.org\" }]\n";

TEST(RouteModelSeeds, LocalExampleRoutesLocalDomainsToLocalElseMx) {
  auto blocks = toml_blocks(read_seed("001_cd4d8f6118ba6107.txt"));
  ASSERT_EQ(blocks.size(), 4u);
  Built b = build(blocks[0] + kDirectory);
  ASSERT_TRUE(b.model.ok()) << messages(b.model.diagnostics);
  EXPECT_EQ(messages(b.model.diagnostics), "");
  EXPECT_EQ(routes(b.model.model, {"ann@Example.org", "joe@gmail.com"}),
            (std::vector<std::string>{
                "local", "mx gmail.com (mta-sts optional, dane optional, starttls optional)"}));
}

TEST(RouteModelSeeds, RelayExampleSendsEverythingToRelayWithStarttls) {
  auto blocks = toml_blocks(read_seed("001_cd4d8f6118ba6107.txt"));
  Built b = build(blocks[1] + "\n" + blocks[2] + kDirectory);  // with the MTA-STS/DANE note applied
  ASSERT_TRUE(b.model.ok());
  EXPECT_EQ(messages(b.model.diagnostics), "");
  const std::string relay = "remote relay (smtp relay.example.org:25, tls starttls)";
  EXPECT_EQ(routes(b.model.model, {"ann@example.org", "joe@gmail.com"}),
            (std::vector<std::string>{relay, relay}));
  const route::RemoteHost& host = b.model.model.routing.remotes.at(0);
  EXPECT_EQ(host.protocol, route::RemoteProtocol::smtp);
  EXPECT_EQ(host.tls, route::TlsMode::starttls);
  EXPECT_FALSE(host.allow_invalid_certs);
  EXPECT_EQ(b.model.model.routing.mx_tls.mta_sts, route::TlsPolicy::disable);
  EXPECT_EQ(b.model.model.routing.mx_tls.dane, route::TlsPolicy::disable);
}

TEST(RouteModelSeeds, RelayExampleAloneWarnsAboutMtaStsAndDane) {
  auto blocks = toml_blocks(read_seed("001_cd4d8f6118ba6107.txt"));
  Built b = build(blocks[1], "relay.toml");
  ASSERT_TRUE(b.model.ok());
  EXPECT_EQ(messages(b.model.diagnostics),
            "relay.toml:2:12: warning: every recipient is relayed (remote 'relay'), but "
            "queue.outbound.tls.mta-sts "
            "and queue.outbound.tls.dane are not both \"disable\"; set them to \"disable\" as the "
            "relay-host example "
            "does (they apply to DNS MX delivery only)\n");
}

TEST(RouteModelSeeds, LmtpExampleRoutesLocalDomainsToLmtpElseMx) {
  auto blocks = toml_blocks(read_seed("001_cd4d8f6118ba6107.txt"));
  Built b = build(blocks[3] + kDirectory);
  ASSERT_TRUE(b.model.ok());
  EXPECT_EQ(messages(b.model.diagnostics), "");
  EXPECT_EQ(routes(b.model.model, {"ann@example.org", "joe@gmail.com"}),
            (std::vector<std::string>{
                "remote lmtp (lmtp localhost:24, tls starttls, invalid certificates allowed, auth "
                "as relay_server)",
                "mx gmail.com (mta-sts optional, dane optional, starttls optional)"}));
  EXPECT_EQ(b.model.model.routing.remotes.at(0).auth_secret, "123456");
}

TEST(RouteModelSeeds, LmtpExampleWithoutDirectoryWarnsThatNothingIsLocal) {
  auto blocks = toml_blocks(read_seed("001_cd4d8f6118ba6107.txt"));
  Built b = build(blocks[3], "lmtp.toml");
  ASSERT_TRUE(b.model.ok());
  EXPECT_EQ(messages(b.model.diagnostics),
            "lmtp.toml:2:38: warning: 'queue.outbound.next-hop': is_local_domain(): no directory "
            "is defined, so no "
            "domain or address is local (define directory.<name> with type = \"memory\" and "
            "principals, or "
            "lookup.domains)\n");
  EXPECT_EQ(routes(b.model.model, {"ann@example.org"}),
            std::vector<std::string>{
                "mx example.org (mta-sts optional, dane optional, starttls optional)"});
}

TEST(RouteModelSeeds, DirectoryExampleLookupDomainsAreLocal) {
  auto blocks = toml_blocks(read_seed("002_8ea15fea548950cb.txt"));
  std::string fixed = blocks[0];
  fixed.replace(fixed.rfind("[directory.\"imap\".tls]"), 22, "[directory.\"lmtp\".tls]");
  Built b =
      build(fixed +
            "\n[directory.\"imap\".lookup]\ndomains = [\"Example.org\", \"example.com\"]\n"
            "[storage]\ndirectory = \"imap\"\n"
            "[queue.outbound]\nnext-hop = [{ if = \"is_local_domain('*', rcpt_domain)\", then = "
            "\"'local'\" }, { else = false }]\n");
  ASSERT_TRUE(b.model.ok()) << messages(b.model.diagnostics);
  const RouteModel& m = b.model.model;
  ASSERT_EQ(m.directories.size(), 2u);
  EXPECT_EQ(m.directories[0].type, DirectoryType::imap);
  EXPECT_EQ(m.directories[0].port, 993);
  EXPECT_EQ(m.directories[1].tls_implicit, false);
  EXPECT_EQ(m.default_directory, "imap");
  EXPECT_EQ(routes(m, {"x@example.org", "y@example.com", "z@example.net"})[0], "local");
  EXPECT_EQ(routes(m, {"y@example.com"})[0], "local");
  DirectoryLookups lookups(m);
  EXPECT_EQ(lookups.find({route::LookupFunction::is_local_address, "imap", "Who@Example.COM"}),
            true);
  EXPECT_EQ(lookups.find({route::LookupFunction::is_local_domain, "lmtp", "example.com"}), false);
  EXPECT_EQ(lookups.reason({route::LookupFunction::is_local_domain, "", "example.org"}),
            "directory 'imap': its lookup.domains lists 'example.org'");
}

TEST(RouteModelShorthand, Seed000RelaysEveryNonLocalRecipient) {
  Built b = build(
      "smtp-relay-host = \"127.0.0.1\"\nsmtp-relay-port = 587\nsmtp-relay-auth = \"foo\"\n"
      "smtp-relay-secret = \"bar\"\nsmtp-relay-tls = true\nsmtp-relay-timeout = 60000 # ms\n" +
      kDirectory);
  ASSERT_TRUE(b.model.ok());
  EXPECT_EQ(
      messages(b.model.diagnostics),
      "t.toml:5:18: warning: smtp-relay-tls = true means TLS from the first byte, but port 587 "
      "usually "
      "speaks STARTTLS (implicit TLS is port 465); set smtp-relay-tls = false for STARTTLS\n");
  EXPECT_TRUE(b.model.model.relay_shorthand);
  EXPECT_EQ(routes(b.model.model, {"ann@example.org", "joe@gmail.com"}),
            (std::vector<std::string>{
                "local", "remote relay (smtp 127.0.0.1:587, tls implicit, auth as foo)"}));
  // smtp-relay-timeout (a bare number is milliseconds) is the relay's timeout per step.
  ASSERT_EQ(b.model.model.routing.remotes.size(), 1u);
  EXPECT_EQ(b.model.model.routing.remotes[0].timeout, protocol::Duration::seconds(60));
  Built starttls = build("smtp-relay-host = \"relay.example.org\"\nsmtp-relay-tls = false\n");
  EXPECT_EQ(messages(starttls.model.diagnostics), "");
  EXPECT_EQ(routes(starttls.model.model, {"a@b.org"})[0],
            "remote relay (smtp relay.example.org:25, tls starttls)");
}

TEST(RouteModelShorthand, CannotBeCombinedWithNextHopOrARemoteNamedRelay) {
  Built b = build(
      "smtp-relay-host = \"r\"\nsmtp-relay-tls = false\n[queue.outbound]\nnext-hop = false\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:4:12: queue.outbound.next-hop cannot be combined with the relay shorthand "
            "smtp-relay-host "
            "(t.toml:1:19); use one or the other\n");
  b = build("smtp-relay-host = \"r\"\n[remote.relay]\naddress = \"x\"\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:3:11: remote 'relay' is also defined by smtp-relay-host (t.toml:1:19); use one "
            "or the other\n");
  b = build("smtp-relay-port = 465\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:1:19: smtp-relay-port is set without smtp-relay-host\n");
}

TEST(RouteModelChecks, MisspelledRemoteIsAnErrorNeverMx) {
  auto blocks = toml_blocks(read_seed("001_cd4d8f6118ba6107.txt"));
  std::string text = blocks[3];
  text.replace(text.find("then = \"'lmtp'\""), 15, "then = \"'lmpt'\"");
  Built b = build(text, "lmtp.toml");
  EXPECT_FALSE(b.model.ok());
  EXPECT_NE(messages(b.model.diagnostics)
                .find("lmtp.toml:2:64: 'queue.outbound.next-hop' rule 1 routes to remote 'lmpt', "
                      "which is not "
                      "defined (did you mean 'lmtp'?); define [remote.\"lmpt\"], or use 'local', "
                      "or false for DNS MX\n"),
            std::string::npos)
      << messages(b.model.diagnostics);
}

TEST(RouteModelChecks, ExpressionErrorsCarryPositionAndText) {
  Built b = build(
      "[queue.outbound]\n"
      "next-hop = [ { if = \"rcpt_domain == ('a.org' || 'b.org')\", then = \"'local'\" },\n"
      "             { if = \"priority > 'x'\", then = \"'local'\" },\n"
      "             { if = \"rcpt_domian == 'c.org'\", then = \"'local'\" },\n"
      "             { else = false } ]\n");
  EXPECT_EQ(
      messages(b.model.diagnostics),
      "t.toml:2:46: 'queue.outbound.next-hop' rule 1: '||' between string literals is not a "
      "boolean; did you "
      "mean rcpt_domain == 'a.org' || rcpt_domain == 'b.org' or in_list(rcpt_domain, ['a.org', "
      "'b.org'])? in "
      "\"rcpt_domain == ('a.org' || 'b.org')\"\n"
      "t.toml:3:31: 'queue.outbound.next-hop' rule 2: cannot compare integer with string using '>' "
      "in "
      "\"priority > 'x'\"\n"
      "t.toml:4:22: 'queue.outbound.next-hop' rule 3: unknown variable 'rcpt_domian' (did you mean "
      "'rcpt_domain'?) in \"rcpt_domian == 'c.org'\"\n");
}

TEST(RouteModelChecks, UnreachableRulesAndMissingElseAreWarnings) {
  Built b = build(
      "[queue.outbound]\n"
      "next-hop = [ { if = \"true\", then = \"'local'\" },\n"
      "             { if = \"rcpt_domain == 'x'\", then = false } ]\n");
  EXPECT_TRUE(b.model.ok());
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:3:21: warning: 'queue.outbound.next-hop' rule 2: rule is unreachable: rule 1 "
            "at t.toml:2:21 "
            "always matches\n"
            "t.toml:3:21: warning: 'queue.outbound.next-hop': recipients that no rule matches are "
            "delivered by DNS "
            "MX; end the list with { else = false } to say so\n");
}

TEST(RouteModelChecks, TrueAndBareHostNamesAreErrorsWithHints) {
  Built b = build("[queue.outbound]\nnext-hop = true\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:2:12: 'queue.outbound.next-hop': true is not a route; give a remote id, "
            "'local', or false for "
            "DNS MX\n");
  b = build(
      "[queue.outbound]\nnext-hop = [{ if = \"true\", then = \"relay\" }]\n[remote.relay]\naddress "
      "= \"r\"\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:2:36: 'queue.outbound.next-hop' rule 1: unknown variable 'relay' (a host name "
            "is a string: "
            "write \"'relay'\") in \"relay\"\n");
}

TEST(RouteModelChecks, DirectoryNamesAreChecked) {
  Built b =
      build(kDirectory +
            "[directory.other]\ntype = \"memory\"\n"
            "[queue.outbound]\nnext-hop = [{ if = \"is_local_domain('mian', rcpt_domain)\", then = "
            "\"'local'\" },"
            " { if = \"is_local_address('', rcpt)\", then = \"'local'\" }, { else = false }]\n"
            "[session.rcpt]\ndirectory = \"mian\"\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:8:37: 'queue.outbound.next-hop': is_local_domain(): directory 'mian' is not "
            "defined (did you "
            "mean 'main'?)\n"
            "t.toml:8:105: 'queue.outbound.next-hop': is_local_address(): '' means the default "
            "directory, but there "
            "are 2 ('main', 'other') and storage.directory does not name one\n"
            "t.toml:10:13: 'session.rcpt.directory': directory 'mian' is not defined (did you mean "
            "'main'?)\n");
  b = build(kDirectory + "[storage]\ndirectory = \"mainn\"\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:6:13: storage.directory names 'mainn', which is not a defined directory (did "
            "you mean 'main'?)\n");
}

TEST(RouteModelChecks, RemotesAndDirectoriesAreChecked) {
  Built b = build(
      "[remote.local]\naddress = \"x\"\n[directory.imap]\ntype = \"imap\"\naddress = \"i\"\n"
      "[directory.m]\ntype = \"memory\"\nprincipals = [{ name = \"ann\", email = \"ann\" }]\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:2:11: a remote cannot be named 'local': 'local' is the local store\n"
            "t.toml:4:8: directory 'imap' of type imap needs 'directory.imap.port'\n"
            "t.toml:8:15: principal 'ann': 'ann' is not an address (user@domain)\n");
}

TEST(RouteModelSession, DefaultsCompileForEveryRegisteredSessionKey) {
  Built b = build("");
  ASSERT_TRUE(b.model.ok()) << messages(b.model.diagnostics);
  EXPECT_EQ(messages(b.model.diagnostics), "");
  std::vector<std::string> registered;
  for (const auto& key : tern_schema().keys()) {
    // Plain settings (session.auth.errors.wait) are not rule lists.
    if (key.pattern.starts_with("session.") && key.type == ValueType::expression) {
      registered.push_back(key.pattern);
    }
  }
  std::sort(registered.begin(), registered.end());
  std::vector<std::string> compiled = session_keys();
  std::sort(compiled.begin(), compiled.end());
  EXPECT_EQ(registered, compiled);
  for (const auto& key : compiled) EXPECT_EQ(b.model.model.session.count(key), 1u) << key;
  route::Variables vars;
  for (const char* name :
       {"listener", "remote_ip", "local_ip", "helo_domain", "authenticated_as"}) {
    vars.set(name, std::string());
  }
  auto relay = route::evaluate(b.model.model.session.at("session.extensions.dsn"), vars,
                               route::LookupTable{});
  EXPECT_EQ(std::get<route::Matched>(relay).value, route::Value(false));
  vars.set("authenticated_as", std::string("ann"));
  relay = route::evaluate(b.model.model.session.at("session.extensions.dsn"), vars,
                          route::LookupTable{});
  EXPECT_EQ(std::get<route::Matched>(relay).value, route::Value(true));
}

// A configured rule list that can end without a match falls through to the key's default:
// the engine has no second default to disagree with the schema's.
TEST(RouteModelSession, AListWithoutElseFallsThroughToTheDefault) {
  Built b = build(
      "[session.extensions]\ndsn = [{ if = \"listener == 'lmtp'\", then = false }]\n"
      "pipelining = [{ if = \"listener == 'lmtp'\", then = false }, { else = false }]\n");
  ASSERT_TRUE(b.model.ok()) << messages(b.model.diagnostics);
  route::Variables vars;
  for (const char* name : {"remote_ip", "local_ip", "helo_domain", "authenticated_as"})
    vars.set(name, std::string());
  vars.set("listener", std::string("smtp"));
  auto eval = [&](const char* key) {
    return std::get<route::Matched>(
               route::evaluate(b.model.model.session.at(key), vars, route::LookupTable{}))
        .value;
  };
  EXPECT_EQ(eval("session.extensions.dsn"), route::Value(false)) << "the default: not logged in";
  vars.set("authenticated_as", std::string("ann"));
  EXPECT_EQ(eval("session.extensions.dsn"), route::Value(true)) << "the default: logged in";
  EXPECT_EQ(b.model.model.session.at("session.extensions.pipelining").rules.size(), 2u)
      << "a list ending in else gets nothing appended";
  EXPECT_EQ(eval("session.extensions.pipelining"), route::Value(false));
  vars.set("listener", std::string("lmtp"));
  EXPECT_EQ(eval("session.extensions.dsn"), route::Value(false)) << "the configured rule first";
}

// The key is registered (Stalwart has it) but Tern does not implement RFC 3865: anything
// but false is refused at load instead of being silently ignored.
TEST(RouteModelSession, NoSolicitingIsRefusedUntilItIsImplemented) {
  EXPECT_TRUE(build("[session.extensions]\nno-soliciting = false\n").model.ok());
  Built b = build(
      "[session.extensions]\nno-soliciting = [{ if = \"listener == 'smtp'\", then = true }, "
      "{ else = false }]\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:2:54: 'session.extensions.no-soliciting': NO-SOLICITING (RFC 3865) is not "
            "supported yet; only false is accepted\n");
}

// Relaying does not enforce RFC 8689 yet: offering REQUIRETLS would accept a promise that the
// next hop never sees (issue 16).
TEST(RouteModelSession, RequireTlsIsRefusedUntilRelayingHonoursIt) {
  EXPECT_TRUE(build("[session.extensions]\nrequiretls = false\n").model.ok());
  Built b = build("[session.extensions]\nrequiretls = true\n");
  EXPECT_EQ(messages(b.model.diagnostics),
            "t.toml:2:14: 'session.extensions.requiretls': REQUIRETLS (RFC 8689) is not "
            "supported yet; only false is accepted\n");
}

TEST(RouteModelSession, APlainValueInSingleQuotesMeansTheWordInside) {
  // Stalwart's docs write both `directory = "'default'"` and `next-hop = "relay"`.
  Built b = build(
      "[directory.main]\ntype = \"memory\"\n[session.rcpt]\ndirectory = \"'main'\"\n"
      "[remote.relay]\naddress = \"192.0.2.1\"\n[queue.outbound]\nnext-hop = \"'relay'\"\n");
  ASSERT_TRUE(b.model.ok()) << messages(b.model.diagnostics);
  auto dir = route::evaluate(b.model.model.session.at("session.rcpt.directory"), route::Variables{},
                             route::LookupTable{});
  EXPECT_EQ(std::get<route::Matched>(dir).value, route::Value(std::string("main")));
  EXPECT_EQ(routes(b.model.model, {"a@x.example"}),
            std::vector<std::string>{"remote relay (smtp 192.0.2.1:25, tls implicit)"});
  // Quotes inside stay literal (and name no directory).
  Built odd =
      build("[directory.main]\ntype = \"memory\"\n[session.rcpt]\ndirectory = \"'ma'in'\"\n");
  EXPECT_FALSE(odd.model.ok());
}

TEST(RouteModelSession, StageVariablesTypesAndMechanisms) {
  Built b = build(
      "[session.auth]\nrequire = [{ if = \"rcpt_domain == 'x'\", then = true }, { else = false }]\n"
      "mechanisms = [\"PLAIN\", \"LOGN\"]\nerrors.total = \"three\"\n"
      "[session.rcpt]\nrelay = [{ if = \"is_local_domain('', rcpt_domain)\", then = true }, { else "
      "= false }]\n"
      "max-recipients = 50\n[session.data.limits]\nsize = [{ if = \"len(recipients) > 10\", then = "
      "1000 }, "
      "{ else = 2000 }]\n" +
      kDirectory);
  EXPECT_EQ(
      messages(b.model.diagnostics),
      "t.toml:2:20: 'session.auth.require' rule 1: variable 'rcpt_domain' is not available in "
      "context 'session.auth.require' in \"rcpt_domain == 'x'\"\n"
      "t.toml:3:14: 'session.auth.mechanisms': unknown SASL mechanism 'LOGN' (did you mean "
      "'LOGIN'?)\n"
      "t.toml:4:16: 'session.auth.errors.total': expression has type string, expected integer\n");
}

}  // namespace
}  // namespace tern::config
