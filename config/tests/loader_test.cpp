#include "config/loader.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "config/embedded_default.hpp"

namespace tern::config {
namespace {

LoadOptions options_with_env(std::map<std::string, std::string> env) {
  LoadOptions options;
  options.getenv = [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  return options;
}

LoadResult load(std::string_view text, const LoadOptions& options = options_with_env({})) {
  return load_string(text, "t.toml", "", options);
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(to_string(d));
  return out;
}

TEST(Loader, ValidFileKeepsTypedValuesAndPositions) {
  auto result = load(
      "[remote.relay]\n"
      "address = \"relay.example.org\"\n"
      "port = 587\n"
      "[remote.relay.tls]\n"
      "implicit = false\n");
  ASSERT_TRUE(result.ok()) << messages(result)[0];
  const Entry* address = result.config.find("remote.relay.address");
  ASSERT_NE(address, nullptr);
  EXPECT_EQ(std::get<std::string>(address->value), "relay.example.org");
  EXPECT_EQ(address->pos, (SourcePos{"t.toml", 2, 11}));
  EXPECT_EQ(address->bindings, std::vector<std::string>{"relay"});
  EXPECT_EQ(std::get<std::int64_t>(result.config.find("remote.relay.port")->value), 587);
  EXPECT_EQ(std::get<bool>(result.config.find("remote.relay.tls.implicit")->value), false);
  EXPECT_EQ(result.config.instances("remote"), std::vector<std::string>{"relay"});
}

TEST(Loader, DefaultsComeFromTheSchema) {
  auto result = load("[remote.relay]\naddress = \"r\"\n");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config.find("remote.relay.port"), nullptr);
  EXPECT_EQ(std::get<std::int64_t>(*result.config.value_or_default("remote.relay.port")), 25);
  EXPECT_EQ(std::get<bool>(*result.config.value_or_default("remote.relay.tls.implicit")), true);
  EXPECT_EQ(result.config.value_or_default("remote.relay.auth.username"), nullptr);
  EXPECT_EQ(result.config.value_or_default("no.such.key"), nullptr);
}

TEST(Loader, SyntaxErrorGivesFileLineColumn) {
  auto result = load("[server]\nhostname = \"a\n");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].pos.file, "t.toml");
  EXPECT_EQ(result.diagnostics[0].pos.line, 2u);
  EXPECT_EQ(messages(result)[0].rfind("t.toml:2:", 0), 0u) << messages(result)[0];
  EXPECT_NE(messages(result)[0].find("syntax error"), std::string::npos);
}

TEST(Loader, ColonSyntaxGetsATomlHint) {
  auto result = load("smtp-relay-host: 127.0.0.1\n");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_NE(messages(result)[0].find("write `key = value`, not `key: value`"), std::string::npos);
}

TEST(Loader, TableDeclaredTwiceNamesBothLines) {
  auto result = load(
      "[directory.\"imap\".tls]\n"
      "implicit = true\n"
      "\n"
      "[directory.\"imap\".tls]\n"
      "implicit = false\n");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(messages(result)[0],
            "t.toml:4:1: syntax error: table [directory.\"imap\".tls] is declared twice; the first "
            "declaration is at line 1 (merge the two, or rename one)");
}

TEST(Loader, UnknownKeysAreErrorsWithSuggestions) {
  auto result = load(
      "[remote.relay]\n"
      "adress = \"x\"\n"
      "colour = \"blue\"\n"
      "[queue.outbund]\n"
      "next-hop = \"relay\"\n");
  EXPECT_EQ(
      messages(result),
      (std::vector<std::string>{
          "t.toml:1:1: missing required key 'remote.relay.address' (Host name or IP address of "
          "the remote SMTP or LMTP server)",
          "t.toml:2:1: unknown key 'remote.relay.adress' (did you mean 'remote.relay.address'?)",
          "t.toml:3:1: unknown key 'remote.relay.colour'",
          "t.toml:5:1: unknown key 'queue.outbund.next-hop' (did you mean "
          "'queue.outbound.next-hop'?)"}));
}

TEST(Loader, UnknownEmptyTableIsReported) {
  auto result = load("[queue.inbound]\n");
  EXPECT_EQ(messages(result), std::vector<std::string>{"t.toml:1:1: unknown key 'queue.inbound'"});
}

TEST(Loader, TypeAndRangeErrors) {
  auto result = load(
      "[remote.a]\naddress = 5\nport = 70000\nprotocol = \"lmpt\"\n"
      "[remote.a.tls]\nimplicit = \"yes\"\n");
  EXPECT_EQ(messages(result),
            (std::vector<std::string>{
                "t.toml:2:11: 'remote.<id>.address' expects a string, found an integer",
                "t.toml:3:8: 'remote.<id>.port' must be between 1 and 65535, found 70000",
                "t.toml:4:12: 'remote.<id>.protocol' must be one of smtp, lmtp, found 'lmpt' (did "
                "you mean 'lmtp'?)",
                "t.toml:6:12: 'remote.<id>.tls.implicit' expects true or false, found a string"}));
}

TEST(Loader, MissingRequiredKeyInEveryInstanceTheFileMentions) {
  auto result = load(
      "[remote.a.tls]\nimplicit = false\n"
      "[remote.b]\naddress = \"b\"\n"
      "[directory.d]\nport = 993\n");
  EXPECT_EQ(messages(result),
            (std::vector<std::string>{
                "t.toml:1:1: missing required key 'remote.a.address' (Host name or IP address of "
                "the remote SMTP or LMTP server)",
                "t.toml:5:1: missing required key 'directory.d.type' (Kind of directory)"}));
}

TEST(Loader, DurationsSizesAndLists) {
  auto result = load(
      "smtp-relay-timeout = 1500\n"
      "[server.listener.a]\nbind = \"127.0.0.1:25\"\n"
      "[server.listener.b]\nbind = [\"127.0.0.1:26\", \"[::1]:26\"]\n");
  ASSERT_TRUE(result.ok()) << messages(result)[0];
  EXPECT_EQ(std::get<protocol::Duration>(result.config.find("smtp-relay-timeout")->value),
            protocol::Duration::milliseconds(1500));
  EXPECT_EQ(std::get<std::vector<std::string>>(result.config.find("server.listener.a.bind")->value),
            std::vector<std::string>{"127.0.0.1:25"});
  EXPECT_EQ(std::get<std::vector<std::string>>(result.config.find("server.listener.b.bind")->value),
            (std::vector<std::string>{"127.0.0.1:26", "[::1]:26"}));
  auto bad = load("smtp-relay-timeout = \"5 minutes\"\n[server.listener.a]\nbind = [1]\n");
  EXPECT_EQ(messages(bad),
            (std::vector<std::string>{
                "t.toml:1:22: 'smtp-relay-timeout': unknown duration unit ' minutes' (use ms, s, "
                "m, h, d or w)",
                "t.toml:3:9: 'server.listener.<id>.bind' expects an array of strings, found an "
                "integer"}));
}

TEST(Loader, EnvMacroExpandsOrFailsClearly) {
  auto options = options_with_env({{"RELAY_SECRET", "s3cret"}});
  auto result = load(
      "[remote.r]\naddress = \"r\"\n[remote.r.auth]\nsecret = \"%{env:RELAY_SECRET}%\"\n", options);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(std::get<std::string>(result.config.find("remote.r.auth.secret")->value), "s3cret");
  auto missing = load("[remote.r]\naddress = \"pre-%{env:NOPE}%\"\n", options);
  EXPECT_EQ(messages(missing),
            std::vector<std::string>{"t.toml:2:11: environment variable 'NOPE' is not set"});
  auto unknown = load("[remote.r]\naddress = \"%{envv:X}%\"\n", options);
  EXPECT_EQ(messages(unknown),
            std::vector<std::string>{"t.toml:2:11: unknown macro 'envv' (use %{env:NAME}% or "
                                     "%{file:PATH}%)"});
  auto open = load("[remote.r]\naddress = \"%{env:X\"\n", options);
  EXPECT_EQ(messages(open), std::vector<std::string>{
                                "t.toml:2:11: unterminated macro: '%{' without a closing '}%'"});
}

TEST(Loader, FileMacroReadsRelativeToTheConfigFile) {
  auto dir = std::filesystem::temp_directory_path() / ("tern-config-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "secret.txt") << "from-file\r\n";
  std::filesystem::permissions(
      dir / "secret.txt", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(dir / "tern.toml")
      << "[remote.r]\naddress = \"r\"\n[remote.r.auth]\nsecret = \"%{file:secret.txt}%\"\n"
         "username = \"%{file:missing.txt}%\"\n";
  auto result = load_file((dir / "tern.toml").string());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(std::get<std::string>(result.config.find("remote.r.auth.secret")->value), "from-file");
  EXPECT_NE(
      to_string(result.diagnostics[0]).find("cannot read file '" + (dir / "missing.txt").string()),
      std::string::npos)
      << to_string(result.diagnostics[0]);
  std::filesystem::remove_all(dir);
}

// A secret (a private key, a password) in a file anyone on the machine can read is refused at
// load, with the key's position (issue 16); the owner's and the group's bits are the admin's.
TEST(Loader, ASecretFileOpenToOthersIsRefused) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("tern-secret-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "key.pem") << "KEY\n";
  std::ofstream(dir / "cert.pem") << "CERT\n";
  std::ofstream(dir / "tern.toml") << "[certificate.main]\ncert = \"%{file:cert.pem}%\"\n"
                                      "private-key = \"%{file:key.pem}%\"\n";
  fs::permissions(dir / "cert.pem", fs::perms::owner_read | fs::perms::others_read);
  fs::permissions(dir / "key.pem", fs::perms::owner_read | fs::perms::group_read);
  EXPECT_TRUE(load_file((dir / "tern.toml").string()).ok()) << "a public certificate is fine";
  fs::permissions(dir / "key.pem", fs::perms::owner_read | fs::perms::others_read);
  auto result = load_file((dir / "tern.toml").string());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(to_string(result.diagnostics[0]),
            (dir / "tern.toml").string() + ":3:15: file '" + (dir / "key.pem").string() +
                "' holds a secret and is open to others (mode 404); chmod o-rw it");
  fs::remove_all(dir);
}

TEST(Loader, UnreadableFileIsOneError) {
  auto result = load_file("/nonexistent/tern.toml");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(to_string(result.diagnostics[0]),
            "/nonexistent/tern.toml: cannot read configuration file: No such file or directory");
}

TEST(Loader, ExpressionPlainValueAndRuleList) {
  auto plain = load("[queue.outbound]\nnext-hop = \"relay\"\n[remote.relay]\naddress = \"r\"\n");
  ASSERT_TRUE(plain.ok());
  const auto& single = std::get<Expression>(plain.config.find("queue.outbound.next-hop")->value);
  ASSERT_EQ(single.rules.size(), 1u);
  EXPECT_EQ(single.rules[0].result, ExpressionAtom{std::string("relay")});
  EXPECT_FALSE(single.rules[0].result_is_expression);

  auto rules = load(
      "[queue.outbound]\n"
      "next-hop = [ { if = \"is_local_domain('', rcpt_domain)\", then = \"'local'\" },\n"
      "             { else = false } ]\n");
  ASSERT_TRUE(rules.ok());
  const auto& list = std::get<Expression>(rules.config.find("queue.outbound.next-hop")->value);
  ASSERT_EQ(list.rules.size(), 2u);
  EXPECT_EQ(list.rules[0].condition, "is_local_domain('', rcpt_domain)");
  EXPECT_EQ(list.rules[0].condition_pos, (SourcePos{"t.toml", 2, 21}));
  EXPECT_EQ(list.rules[0].result, ExpressionAtom{std::string("'local'")});
  EXPECT_TRUE(list.rules[0].result_is_expression);
  EXPECT_EQ(list.rules[1].condition, std::nullopt);
  EXPECT_EQ(list.rules[1].result, ExpressionAtom{false});
}

TEST(Loader, ExpressionShapeErrors) {
  EXPECT_EQ(messages(load("[queue.outbound]\nnext-hop = [ { if = \"a\", than = \"'b'\" } ]\n")),
            std::vector<std::string>{
                "t.toml:2:33: unknown key 'than' in a rule of 'queue.outbound.next-hop'; a rule "
                "has 'if' and 'then', or 'else' (did you mean 'then'?)"});
  EXPECT_EQ(messages(load(
                "[queue.outbound]\nnext-hop = [ { else = false }, { if = \"a\", then = 1 } ]\n")),
            std::vector<std::string>{
                "t.toml:2:23: 'else' must be the last rule of 'queue.outbound.next-hop'"});
  EXPECT_EQ(
      messages(load("[queue.outbound]\nnext-hop = []\n")),
      std::vector<std::string>{"t.toml:2:12: 'queue.outbound.next-hop' has an empty rule list"});
}

TEST(Loader, EmbeddedDefaultLoadsWithoutDiagnostics) {
  auto result = load_string(embedded_default_toml(), "default.toml");
  EXPECT_TRUE(result.diagnostics.empty()) << messages(result)[0];
  EXPECT_EQ(result.config.instances("server.listener"),
            (std::vector<std::string>{"lmtp", "smtp", "submission"}));
}

}  // namespace
}  // namespace tern::config
