// Every TOML example of the seed documents (conformance/seeds/) loads as its text says.
// Routing semantics of these examples are tested with the router; here: the loader.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "config/loader.hpp"

namespace tern::config {
namespace {

std::string read_seed(const std::string& name) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/conformance/seeds/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The bodies of the fenced blocks that open with "```" + `fence_info`, in order.
std::vector<std::string> fenced_blocks(const std::string& document, const std::string& fence_info) {
  std::vector<std::string> blocks;
  std::istringstream lines(document);
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (!inside && line == "```" + fence_info) {
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

std::string all_messages(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += to_string(d) + "\n";
  return out;
}

TEST(Seeds, RoutingDocumentExamplesAllLoad) {
  auto blocks = fenced_blocks(read_seed("001_cd4d8f6118ba6107.txt"), "toml");
  ASSERT_EQ(blocks.size(), 4u);  // local routing, relay host, MTA-STS/DANE off, LMTP
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    auto result = load_string(blocks[i], "seed-001-block-" + std::to_string(i + 1) + ".toml");
    EXPECT_TRUE(result.diagnostics.empty()) << blocks[i] << all_messages(result);
  }
}

TEST(Seeds, RelayHostExampleHasItsValues) {
  auto blocks = fenced_blocks(read_seed("001_cd4d8f6118ba6107.txt"), "toml");
  auto result = load_string(blocks[1], "relay.toml");
  ASSERT_TRUE(result.ok());
  const auto& next_hop = std::get<Expression>(result.config.find("queue.outbound.next-hop")->value);
  EXPECT_EQ(next_hop.rules[0].result, ExpressionAtom{std::string("relay")});
  EXPECT_EQ(std::get<std::string>(result.config.find("remote.relay.address")->value),
            "relay.example.org");
  EXPECT_EQ(std::get<std::int64_t>(result.config.find("remote.relay.port")->value), 25);
  EXPECT_EQ(std::get<std::string>(result.config.find("remote.relay.protocol")->value), "smtp");
  EXPECT_EQ(std::get<bool>(result.config.find("remote.relay.tls.implicit")->value), false);
}

TEST(Seeds, LmtpExampleHasItsValues) {
  auto blocks = fenced_blocks(read_seed("001_cd4d8f6118ba6107.txt"), "toml");
  auto result = load_string(blocks[3], "lmtp.toml");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(std::get<std::string>(result.config.find("remote.lmtp.protocol")->value), "lmtp");
  EXPECT_EQ(std::get<std::int64_t>(result.config.find("remote.lmtp.port")->value), 24);
  EXPECT_EQ(std::get<bool>(result.config.find("remote.lmtp.tls.allow-invalid-certs")->value), true);
  EXPECT_EQ(std::get<std::string>(result.config.find("remote.lmtp.auth.username")->value),
            "relay_server");
}

TEST(Seeds, DirectoryExampleIsRejectedAtTheSecondDeclaration) {
  auto blocks = fenced_blocks(read_seed("002_8ea15fea548950cb.txt"), "toml");
  ASSERT_EQ(blocks.size(), 2u);
  auto result = load_string(blocks[0], "directory.toml");
  ASSERT_EQ(result.diagnostics.size(), 1u) << all_messages(result);
  // The block declares [directory."imap".tls] at lines 6 and 15.
  EXPECT_EQ(to_string(result.diagnostics[0]),
            "directory.toml:15:1: syntax error: table [directory.\"imap\".tls] is declared twice; "
            "the first declaration is at line 6 (merge the two, or rename one)");
}

TEST(Seeds, DirectoryExampleLoadsOnceTheSecondTableIsRenamed) {
  auto blocks = fenced_blocks(read_seed("002_8ea15fea548950cb.txt"), "toml");
  std::string fixed = blocks[0];
  fixed.replace(fixed.rfind("[directory.\"imap\".tls]"), 22, "[directory.\"lmtp\".tls]");
  auto result = load_string(fixed, "directory.toml");
  EXPECT_TRUE(result.diagnostics.empty()) << all_messages(result);
  EXPECT_EQ(result.config.instances("directory"), (std::vector<std::string>{"imap", "lmtp"}));
  auto lookup = load_string(blocks[1], "lookup.toml");
  // [directory."smtp".lookup] alone names a directory without its required type.
  EXPECT_EQ(all_messages(lookup),
            "lookup.toml:1:1: missing required key 'directory.smtp.type' (Kind of directory)\n");
}

TEST(Seeds, RelayShorthandIsTomlNotColonSyntax) {
  auto blocks = fenced_blocks(read_seed("000_44a6770999fe48ef.txt"), "");
  ASSERT_EQ(blocks.size(), 1u);
  auto verbatim = load_string(blocks[0], "relay.conf");
  ASSERT_EQ(verbatim.diagnostics.size(), 1u);
  EXPECT_NE(to_string(verbatim.diagnostics[0]).find("not `key: value`"), std::string::npos);
  auto as_toml = load_string(
      "smtp-relay-host = \"127.0.0.1\"\nsmtp-relay-port = 587\nsmtp-relay-auth = \"foo\"\n"
      "smtp-relay-secret = \"bar\"\nsmtp-relay-tls = true\nsmtp-relay-timeout = 60000 # ms\n",
      "relay.toml");
  EXPECT_TRUE(as_toml.diagnostics.empty()) << all_messages(as_toml);
  EXPECT_EQ(std::get<protocol::Duration>(as_toml.config.find("smtp-relay-timeout")->value),
            protocol::Duration::seconds(60));
}

}  // namespace
}  // namespace tern::config
