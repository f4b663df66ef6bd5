// The engine tests' fixture: the receiving engine (runtime::Server) on the simulated Io,
// configured from TOML through the same config path ternd uses, with a directory whose every
// answer the test sets. Shared by engine_test.cpp and hardening_test.cpp.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"
#include "config/engine_settings.hpp"
#include "config/loader.hpp"
#include "config/route_model.hpp"
#include "runtime/server.hpp"

namespace tern::runtime::testing {

using adapters::sim::PeerId;
using adapters::sim::SimIo;

// A directory whose every answer the test sets.
class FakeDirectory final : public directory::Directory {
 public:
  explicit FakeDirectory(Io& io) : io_(io) {}
  void authenticate(std::string_view user, std::string_view password,
                    std::function<void(directory::AuthOutcome)> done) override {
    directory::AuthOutcome outcome;
    if (down) {
      outcome.status = directory::AuthStatus::unavailable;
    } else if (user == "ann" && password == "secret") {
      outcome.status = directory::AuthStatus::authenticated;
      outcome.principal = "ann";
      outcome.addresses = {"ann@example.org"};
    } else {
      outcome.status = directory::AuthStatus::rejected;
    }
    // A real directory hashes only for users it knows: a known user answers later.
    if (user == "ann" && known_user_delay.ns > 0) {
      io_.start_timer(io_.now() + known_user_delay, [done, outcome] { done(outcome); });
      return;
    }
    io_.post([done, outcome] { done(outcome); });
  }
  void check_recipient(std::string_view address,
                       std::function<void(directory::RecipientOutcome)> done) override {
    directory::RecipientOutcome outcome;
    if (down) {
      outcome.status = directory::RecipientStatus::unavailable;
    } else if (address == "ann@example.org" || address == "bob@example.org") {
      outcome.status = directory::RecipientStatus::local;
      outcome.principal = std::string(address.substr(0, 3));
    } else if (address == "postmaster@example.org") {
      outcome.status = directory::RecipientStatus::local;
      outcome.principal = "postmaster";
    }
    io_.post([done, outcome] { done(outcome); });
  }
  void may_send_as(std::string_view principal, std::string_view address,
                   std::function<void(directory::SenderOutcome)> done) override {
    directory::SenderOutcome outcome;
    outcome.status = down ? directory::SenderStatus::unavailable
                     : (principal == "ann" && address == "ann@example.org")
                         ? directory::SenderStatus::allowed
                         : directory::SenderStatus::not_owned;
    io_.post([done, outcome] { done(outcome); });
  }
  bool is_local_domain(std::string_view domain) const override { return domain == "example.org"; }

  bool down = false;
  Duration known_user_delay{};

 private:
  Io& io_;
};

class CollectLog final : public LogSink {
 public:
  void log(LogLevel level, std::string_view session, std::string_view message) override {
    lines += std::string(session) + " " + std::string(message) + "\n";
    if (level != LogLevel::debug)
      info_lines += std::string(session) + " " + std::string(message) + "\n";
  }
  std::string lines;
  std::string info_lines;  // what an operator sees without --debug
};

inline constexpr std::string_view kConfig = R"(
[server]
hostname = "mx.example.org"
max-connections-per-ip = 3
[server.listener.smtp]
bind = ["127.0.0.1:25"]
[server.listener.lmtp]
bind = ["127.0.0.1:24"]
protocol = "lmtp"
[server.listener.smtps]
bind = ["127.0.0.1:465"]
tls.implicit = true
[directory.main]
type = "memory"
[session.auth]
errors.wait = "2s"
[session.rcpt]
errors.wait = "0s"
)";

inline const Endpoint kSmtp{"127.0.0.1", 25};
inline const Endpoint kLmtp{"127.0.0.1", 24};
inline const Endpoint kSmtps{"127.0.0.1", 465};

// Settings from TOML through the daemon's own config path, with `directory` as "main";
// nullptr when the TOML does not load.
inline std::shared_ptr<const EngineSettings> engine_settings(
    std::string_view toml, Io& io, std::shared_ptr<FakeDirectory> directory) {
  auto loaded = config::load_string(toml, "test.toml");
  if (!loaded.ok()) return nullptr;
  auto model = config::build_route_model(loaded.config);
  if (!model.ok()) return nullptr;
  auto built = config::build_engine_config(loaded.config, model.model);
  if (!built.ok()) return nullptr;
  auto settings = built.engine.settings;
  settings.directories["main"] = std::move(directory);
  settings.default_directory = "main";
  settings.tls_identities[""] = *io.load_tls_identity("CERT", "KEY");
  return std::make_shared<const EngineSettings>(std::move(settings));
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    configure(kConfig);
    start();
  }

  // Settings from TOML through the daemon's own config path, with the fake directory.
  void configure(std::string_view toml) {
    directory_ = std::make_shared<FakeDirectory>(io_);
    settings_ = engine_settings(toml, io_, directory_);
    ASSERT_TRUE(settings_ != nullptr);
  }

  void start() {
    server_ = std::make_unique<Server>(io_, log_, settings_);
    ASSERT_TRUE(server_->start().ok()) << log_.lines;
  }

  PeerId connect(const Endpoint& to = kSmtp, std::string from_ip = "192.0.2.1") {
    auto peer = io_.connect_peer(
        to, Endpoint{std::move(from_ip), static_cast<std::uint16_t>(40000 + ++port_)});
    EXPECT_TRUE(peer.has_value());
    io_.run_for(Duration::milliseconds(100));
    return *peer;
  }

  // Sends, lets the world run for `span` of virtual time, returns what the engine wrote.
  std::string say(PeerId peer, std::string_view bytes,
                  Duration span = Duration::milliseconds(200)) {
    io_.peer_send(peer, bytes);
    io_.run_for(span);
    return io_.peer_take(peer);
  }

  std::string only_maildir(std::string_view account) {
    const auto files = io_.maildir(account);
    EXPECT_EQ(files.size(), 1u) << account;
    return files.empty() ? std::string() : files.begin()->second;
  }

  SimIo io_{1};
  CollectLog log_;
  std::shared_ptr<FakeDirectory> directory_;
  std::shared_ptr<const EngineSettings> settings_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

}  // namespace tern::runtime::testing
