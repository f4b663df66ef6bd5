// Runs the conversation transcripts of conformance/smtp/*.txt against the server machine.
// The format, meant to be read by a person (see conformance/README.md):
//   # text                     a comment
//   config: key=value          server configuration (hostname, mode, tls_available, ...)
//   policy: ...                how the application answers (see apply_policy below)
//   C: text                    a line the client sends (CRLF added); consecutive C lines
//                              are sent together, as a pipelining client would
//   C~ text                    raw client bytes with \r, \n, \\ escapes, no CRLF added
//   S: text                    the next line the server must have sent
//   !tls                       the TLS handshake the server asked for completes
//   !messages N                the application has been asked to accept N messages
//   !body text                 the last message's body, with \r \n escapes
//   !closed                    the server has closed the session
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "protocol/smtp/server_session.hpp"
#include "protocol/smtp/tests/server_harness.hpp"

namespace tern::protocol::smtp {
namespace {

std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      const char c = text[++i];
      out += c == 'r' ? '\r' : c == 'n' ? '\n' : c == '0' ? '\0' : c;
    } else {
      out += text[i];
    }
  }
  return out;
}

Reply parse_reply_words(std::istringstream& words) {
  Reply reply;
  std::string status;
  words >> reply.code >> status;
  reply.enhanced = parse_enhanced_status(status);
  std::string text;
  std::getline(words >> std::ws, text);
  reply.lines = {reply.enhanced ? text : status + (text.empty() ? "" : " " + text)};
  return reply;
}

struct Transcript {
  ServerConfig config;
  std::map<std::string, Reply> rcpt_replies;  // policy: rcpt <address> <code> <x.y.z> text
  std::vector<Reply> message_replies;         // policy: message <code> <x.y.z> text (LMTP: each)
  std::optional<Reply> vrfy_reply;            // policy: vrfy <code> <x.y.z> text
};

void apply_config(Transcript& t, const std::string& key, const std::string& value) {
  ServerConfig& c = t.config;
  if (key == "hostname")
    c.hostname = value;
  else if (key == "mode")
    c.mode = value == "lmtp" ? ServerMode::lmtp : ServerMode::smtp;
  else if (key == "tls_available")
    c.tls_available = value == "true";
  else if (key == "tls_active")
    c.tls_active = value == "true";
  else if (key == "auth")
    c.auth_mechanisms = {value};
  else if (key == "auth_required")
    c.auth_required = value == "true";
  else if (key == "message_bytes_max")
    c.message_bytes_max = std::stoull(value);
  else if (key == "pipelining")
    c.extensions.pipelining = value == "true";
  else if (key == "dsn")
    c.extensions.dsn = value == "true";
  else if (key == "vrfy")
    c.extensions.vrfy = value == "true";
  else if (key == "smtputf8")
    c.extensions.smtputf8 = value == "true";
  else if (key == "enhanced_status_codes")
    c.extensions.enhanced_status_codes = value == "true";
  else if (key == "binary_mime")
    c.extensions.binary_mime = value == "true";
  else if (key == "normalize_bare_lf")
    c.normalize_bare_lf = value == "true";
  else
    FAIL() << "unknown config key " << key;
}

void apply_policy(Transcript& t, const std::string& rule) {
  std::istringstream words(rule);
  std::string kind;
  words >> kind;
  if (kind == "rcpt") {
    std::string address;
    words >> address;
    t.rcpt_replies[address] = parse_reply_words(words);
  } else if (kind == "message") {
    t.message_replies.push_back(parse_reply_words(words));
  } else if (kind == "vrfy") {
    t.vrfy_reply = parse_reply_words(words);
  } else {
    FAIL() << "unknown policy " << rule;
  }
}

ServerDecision decide(const Transcript& t, const ServerEvent& event) {
  if (const auto* rcpt = std::get_if<RcptEvent>(&event)) {
    auto it = t.rcpt_replies.find(serialize(rcpt->command.path));
    if (it != t.rcpt_replies.end()) {
      if (it->second.code / 100 == 2) return Accept{it->second};
      return Reject{it->second};
    }
  }
  if (std::holds_alternative<MessageEvent>(event)) {
    if (t.message_replies.empty()) return Accept{};
    if (t.config.mode == ServerMode::lmtp) return PerRecipient{t.message_replies};
    const Reply& r = t.message_replies.front();
    if (r.code / 100 == 2) return Accept{r};
    return Reject{r};
  }
  if (std::holds_alternative<VerifyEvent>(event) && t.vrfy_reply) {
    if (t.vrfy_reply->code / 100 == 2) return Accept{*t.vrfy_reply};
    return Reject{*t.vrfy_reply};
  }
  return testing::accept_all(event);
}

void run_transcript(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  Transcript t;
  std::size_t i = 0;
  for (;
       i < lines.size() && (lines[i].empty() || lines[i][0] == '#' ||
                            lines[i].rfind("config:", 0) == 0 || lines[i].rfind("policy:", 0) == 0);
       ++i) {
    const std::string& line = lines[i];
    if (line.rfind("config:", 0) == 0) {
      const std::string kv = line.substr(8);
      apply_config(t, kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
    } else if (line.rfind("policy:", 0) == 0) {
      apply_policy(t, line.substr(8));
    }
  }
  testing::Harness h(t.config);
  h.policy = [&t](const ServerEvent& e) { return decide(t, e); };
  std::size_t checked = 0;  // lines of h.lines() already matched
  std::string pending;      // client bytes of the current group
  auto flush = [&] {
    if (!pending.empty()) h.run(pending);
    pending.clear();
  };
  for (; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    SCOPED_TRACE(file.filename().string() + ":" + std::to_string(i + 1) + ": " + line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("C: ", 0) == 0 || line == "C:") {
      pending += line.substr(std::min<std::size_t>(3, line.size())) + "\r\n";
    } else if (line.rfind("C~ ", 0) == 0) {
      pending += unescape(line.substr(3));
    } else if (line.rfind("S: ", 0) == 0) {
      flush();
      const auto out = h.lines();
      ASSERT_LT(checked, out.size()) << "the server sent nothing more";
      EXPECT_EQ(out[checked], line.substr(3));
      ++checked;
    } else if (line == "!tls") {
      flush();
      ASSERT_FALSE(h.session.on_tls_established(h.now));
    } else if (line.rfind("!messages ", 0) == 0) {
      flush();
      EXPECT_EQ(h.messages, std::stoull(line.substr(10)));
    } else if (line.rfind("!body ", 0) == 0) {
      flush();
      EXPECT_EQ(h.body, unescape(line.substr(6)));
    } else if (line == "!closed") {
      flush();
      EXPECT_TRUE(h.session.is_closed());
    } else {
      FAIL() << "unknown transcript line";
    }
  }
  flush();
  const auto out = h.lines();
  EXPECT_EQ(checked, out.size()) << "the server sent lines the transcript does not expect, first: "
                                 << (checked < out.size() ? out[checked] : "");
}

class SmtpTranscript : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(SmtpTranscript, Replays) {
  run_transcript(GetParam());
}

std::vector<std::filesystem::path> transcripts() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(TERN_TRANSCRIPTS_DIR)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

INSTANTIATE_TEST_SUITE_P(Conformance, SmtpTranscript, ::testing::ValuesIn(transcripts()),
                         [](const auto& info) {
                           std::string name = info.param.stem().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(SmtpTranscripts, ThereAreTranscripts) {
  EXPECT_GE(transcripts().size(), 15u);
}

}  // namespace
}  // namespace tern::protocol::smtp
