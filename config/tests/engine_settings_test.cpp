#include "config/engine_settings.hpp"

#include <string>

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config/route_model.hpp"

namespace tern::config {
namespace {

EngineConfigResult engine(const std::string& text) {
  auto loaded = load_string(text, "e.toml");
  EXPECT_TRUE(loaded.ok());
  auto model = build_route_model(loaded.config);
  EXPECT_TRUE(model.ok());
  return build_engine_config(loaded.config, model.model);
}

std::string messages(const EngineConfigResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += to_string(d) + "\n";
  return out;
}

TEST(EngineSettings, ListenersAndTheirAddresses) {
  auto r = engine(
      "[server.listener.a]\nbind = [\"127.0.0.1:25\", \"[::1]:25\"]\n"
      "[server.listener.b]\nbind = [\"127.0.0.1:24\"]\nprotocol = \"lmtp\"\ntls.implicit = true\n");
  ASSERT_TRUE(r.ok()) << messages(r);
  const auto& listeners = r.engine.settings.listeners;
  ASSERT_EQ(listeners.size(), 2u);
  EXPECT_EQ(listeners[0].binds.size(), 2u);
  EXPECT_EQ(listeners[0].binds[1].text(), "[::1]:25");
  EXPECT_TRUE(listeners[1].lmtp);
  EXPECT_TRUE(listeners[1].implicit_tls);
  EXPECT_TRUE(r.engine.needs_self_signed);
}

TEST(EngineSettings, BadAndDuplicateBindsAreErrorsWithTheirLine) {
  auto r = engine(
      "[server.listener.a]\nbind = [\"127.0.0.1\"]\n"
      "[server.listener.b]\nbind = [\"127.0.0.1:25\"]\n[server.listener.c]\nbind = "
      "[\"127.0.0.1:25\"]\n");
  EXPECT_EQ(messages(r),
            "e.toml:2:8: server.listener.a.bind: '127.0.0.1' is not an address: write "
            "\"127.0.0.1:25\" or \"[::1]:25\"\n"
            "e.toml:6:8: server.listener.c.bind: 127.0.0.1:25 is bound by another listener too\n");
}

TEST(EngineSettings, CertificatesAreChosenPerListener) {
  auto r = engine(
      "[certificate.one]\ncert = \"C1\"\nprivate-key = \"K1\"\n"
      "[certificate.two]\ncert = \"C2\"\nprivate-key = \"K2\"\n"
      "[server.tls]\ncertificate = \"one\"\n"
      "[server.listener.a]\nbind = [\"127.0.0.1:25\"]\n"
      "[server.listener.b]\nbind = [\"127.0.0.1:26\"]\ntls.certificate = \"two\"\n"
      "[server.listener.c]\nbind = [\"127.0.0.1:27\"]\ntls.certificate = \"three\"\n");
  EXPECT_EQ(r.engine.settings.listeners[0].certificate, "one");
  EXPECT_EQ(r.engine.settings.listeners[1].certificate, "two");
  EXPECT_FALSE(r.engine.needs_self_signed);
  EXPECT_EQ(messages(r),
            "e.toml:16:19: server.listener.c.tls.certificate names certificate 'three', which is "
            "not defined (certificate.three.cert)\n");
}

TEST(EngineSettings, QueueSchedule) {
  auto defaults = engine("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.engine.settings.queue.retry.size(), 7u);
  EXPECT_EQ(defaults.engine.settings.queue.retry.back(), protocol::Duration::minutes(120));
  EXPECT_EQ(defaults.engine.settings.queue.notify.size(), 2u);
  EXPECT_EQ(defaults.engine.settings.queue.expire, protocol::Duration::minutes(5 * 24 * 60));
  auto r = engine("[queue.schedule]\nretry = [\"1m\", \"soon\", \"0s\"]\nexpire = \"2d\"\n");
  EXPECT_EQ(messages(r),
            "e.toml:2:9: queue.schedule.retry: 'soon' is not a positive duration (\"30s\", \"5m\", "
            "\"1h\", \"1d\")\n"
            "e.toml:2:9: queue.schedule.retry: '0s' is not a positive duration (\"30s\", \"5m\", "
            "\"1h\", \"1d\")\n");
  EXPECT_EQ(r.engine.settings.queue.expire, protocol::Duration::minutes(2 * 24 * 60));
  auto empty = engine("[queue.schedule]\nretry = []\n");
  EXPECT_EQ(messages(empty), "e.toml:2:9: queue.schedule.retry: needs at least one duration\n");
}

TEST(EngineSettings, MemoryDirectoryProblemsAreReportedAtLoad) {
  auto r = engine(
      "[directory.d]\ntype = \"memory\"\nprincipals = [{ name = \"a\", secret = \"x\", email = "
      "\"a@x.example\" }, { name = \"b\", email = \"a@x.example\" }]\n");
  EXPECT_FALSE(r.ok());
  const auto text = messages(r);
  EXPECT_NE(text.find("e.toml:3:14: directory.d.principals: "), std::string::npos) << text;
  EXPECT_NE(text.find("warning: directory.d.principals: principal 'a': the secret is plain text"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace tern::config
