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
  EXPECT_EQ(defaults.engine.settings.queue.expire,
            protocol::Duration::minutes(std::int64_t{5} * 24 * 60));
  auto r = engine("[queue.schedule]\nretry = [\"1m\", \"soon\", \"0s\"]\nexpire = \"2d\"\n");
  EXPECT_EQ(messages(r),
            "e.toml:2:9: queue.schedule.retry: 'soon' is not a positive duration (\"30s\", \"5m\", "
            "\"1h\", \"1d\")\n"
            "e.toml:2:9: queue.schedule.retry: '0s' is not a positive duration (\"30s\", \"5m\", "
            "\"1h\", \"1d\")\n");
  EXPECT_EQ(r.engine.settings.queue.expire, protocol::Duration::minutes(std::int64_t{2} * 24 * 60));
  auto empty = engine("[queue.schedule]\nretry = []\n");
  EXPECT_EQ(messages(empty), "e.toml:2:9: queue.schedule.retry: needs at least one duration\n");
}

TEST(EngineSettings, ResolverServersAreCheckedWithTheirLine) {
  auto defaults = engine("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.engine.resolver.type, ResolverSpec::Type::system);
  EXPECT_EQ(defaults.engine.settings.outbound.dns_timeout, protocol::Duration::seconds(5));
  auto r = engine(
      "[resolver]\ntype = \"custom\"\ncustom = [\"udp://127.0.0.1:5353\", \"192.0.2.53\", "
      "\"::1\", \"[::1]:54\"]\ntimeout = \"2s\"\n");
  ASSERT_TRUE(r.ok()) << messages(r);
  ASSERT_EQ(r.engine.resolver.servers.size(), 4u);
  EXPECT_EQ(r.engine.resolver.servers[0].text(), "127.0.0.1:5353");
  EXPECT_EQ(r.engine.resolver.servers[1].text(), "192.0.2.53:53");
  EXPECT_EQ(r.engine.resolver.servers[2].text(), "[::1]:53");
  EXPECT_EQ(r.engine.resolver.servers[3].text(), "[::1]:54");
  EXPECT_EQ(r.engine.settings.outbound.dns_timeout, protocol::Duration::seconds(2));
  auto bad = engine("[resolver]\ntype = \"custom\"\ncustom = [\"dns.example:53\"]\n");
  EXPECT_EQ(messages(bad),
            "e.toml:3:10: resolver.custom: 'dns.example:53' is not a name server address: write "
            "\"udp://192.0.2.53:53\", \"192.0.2.53\" or \"[2001:db8::53]:53\"\n");
  auto none = engine("[resolver]\ntype = \"custom\"\n");
  EXPECT_EQ(messages(none),
            "e.toml:2:8: resolver.type is \"custom\" but resolver.custom lists no name server\n");
  auto ignored = engine("[resolver]\ncustom = [\"127.0.0.1\"]\n");
  EXPECT_TRUE(ignored.ok());
  EXPECT_EQ(messages(ignored),
            "e.toml:2:10: warning: resolver.custom is ignored unless resolver.type = \"custom\" "
            "(it is \"system\")\n");
}

TEST(EngineSettings, OutboundLimitsAndTimeouts) {
  auto r = engine(
      "[queue.outbound]\nlimits.mx = 3\nlimits.multihomed = 1\ntimeouts.connect = \"20s\"\n"
      "timeouts.data = \"15m\"\ntls.allow-invalid-certs = true\n");
  ASSERT_TRUE(r.ok()) << messages(r);
  const auto& o = r.engine.settings.outbound;
  EXPECT_EQ(o.mx_max, 3u);
  EXPECT_EQ(o.multihomed_max, 1u);
  EXPECT_EQ(o.connect_timeout, protocol::Duration::seconds(20));
  EXPECT_EQ(o.data_timeout, protocol::Duration::minutes(15));
  EXPECT_EQ(o.command_timeout, protocol::Duration::minutes(5));
  EXPECT_TRUE(o.mx_allow_invalid_certs);
}

TEST(EngineSettings, MessagesInFlightLimit) {
  EXPECT_EQ(engine("").engine.settings.queue.deliveries_in_flight_max, 16u);
  auto r = engine("[queue.limits]\nmessages = 100\n");
  ASSERT_TRUE(r.ok()) << messages(r);
  EXPECT_EQ(r.engine.settings.queue.deliveries_in_flight_max, 100u);
  // The schema bounds it at load: 1..10000.
  EXPECT_FALSE(load_string("[queue.limits]\nmessages = 0\n", "e.toml").ok());
  EXPECT_TRUE(load_string("[queue.limits]\nmessages = 10000\n", "e.toml").ok());
  EXPECT_FALSE(load_string("[queue.limits]\nmessages = 10001\n", "e.toml").ok());
}

TEST(EngineSettings, RequiringMtaStsOrDaneIsRefusedUntilTheyExist) {
  EXPECT_TRUE(engine("[queue.outbound.tls]\nmta-sts = \"optional\"\ndane = \"disable\"\n").ok());
  auto r = engine("[queue.outbound.tls]\nmta-sts = \"require\"\ndane = \"require\"\n");
  EXPECT_EQ(messages(r),
            "e.toml:2:11: queue.outbound.tls.mta-sts = \"require\" is not supported yet (Tern "
            "does not check MTA-STS policies): use \"optional\" or \"disable\"\n"
            "e.toml:3:8: queue.outbound.tls.dane = \"require\" is not supported yet (Tern does "
            "not check DANE policies): use \"optional\" or \"disable\"\n");
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
