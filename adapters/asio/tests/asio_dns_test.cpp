// Tests of AsioIo::dns_query through libunbound against a fake DNS server on 127.0.0.1 (UDP,
// an ephemeral port) that answers hand-built messages. Nothing but 127.0.0.1 is contacted.
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>  // before Asio under C++20
#include <vector>

#include <boost/asio/ip/udp.hpp>

#include <gtest/gtest.h>

#include "adapters/asio/asio_io.hpp"

namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using tern::adapters::asio::AsioIo;
using tern::adapters::asio::AsioIoOptions;
using tern::adapters::asio::ResolverOptions;
using tern::runtime::DnsAnswer;
using tern::runtime::DnsType;
using tern::runtime::Duration;
using tern::runtime::Endpoint;
using tern::runtime::IoErrc;
using tern::runtime::IoResult;
namespace net = boost::asio;
using net::ip::udp;

constexpr std::uint16_t kTypeA = 1, kTypeCname = 5, kTypeSoa = 6, kTypeMx = 15, kTypeAaaa = 28;

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string u16(unsigned v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}
std::string u32(std::uint32_t v) {
  return u16(v >> 16) + u16(v & 0xffff);
}

std::string wire_name(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t dot = text.find('.', start);
    if (dot == std::string::npos) dot = text.size();
    out += static_cast<char>(dot - start);
    out += text.substr(start, dot - start);
    start = dot + 1;
  }
  return out + '\0';
}

// One resource record whose owner is the question's name (a pointer to offset 12).
std::string record(std::uint16_t type, const std::string& rdata) {
  return "\xc0\x0c"s + u16(type) + u16(1) + u32(300) + u16(static_cast<unsigned>(rdata.size())) +
         rdata;
}

std::string soa_record() {
  const std::string rdata =
      "\2ns\xc0\x0c"s + "\4root\xc0\x0c"s + u32(1) + u32(3600) + u32(600) + u32(86400) + u32(60);
  return record(kTypeSoa, rdata);
}

// A fake authoritative-and-recursive server: each name has one behaviour. The names are
// under tern.example, since libunbound answers test. and invalid. itself (RFC 6761).
class FakeDnsServer {
 public:
  explicit FakeDnsServer(net::io_context& context)
      : socket_(context, udp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  int queries_seen(const std::string& name) const {
    const auto it = seen_.find(name);
    return it == seen_.end() ? 0 : it->second;
  }

 private:
  void receive() {
    socket_.async_receive_from(net::buffer(buffer_), peer_,
                               [this](const boost::system::error_code& ec, std::size_t n) {
                                 if (ec) return;
                                 answer(std::string(buffer_.data(), n));
                                 receive();
                               });
  }

  // Reads the question (uncompressed, as resolvers send it) and sends the reply.
  void answer(const std::string& query) {
    if (query.size() < 17) return;
    std::size_t pos = 12;
    std::string name;
    while (pos < query.size() && query[pos] != 0) {
      const auto n = static_cast<unsigned char>(query[pos]);
      if (!name.empty()) name += '.';
      name += query.substr(pos + 1, n);
      pos += 1 + n;
    }
    if (pos + 5 > query.size()) return;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::uint16_t qtype =
        static_cast<std::uint16_t>((static_cast<unsigned char>(query[pos + 1]) << 8) |
                                   static_cast<unsigned char>(query[pos + 2]));
    ++seen_[name];
    const std::string question = query.substr(12, pos + 5 - 12);
    std::vector<std::string> answers;
    std::vector<std::string> authority;
    int rcode = 0;
    if (name == "silent.tern.example") return;  // never answers
    if (name == "mx.tern.example" && qtype == kTypeMx) {
      // The second exchange is compressed (a pointer to the question) to show that the
      // Io hands over RDATA uncompressed.
      answers = {record(kTypeMx, u16(10) + wire_name("mx1.example.org")),
                 record(kTypeMx, u16(20) + "\3mx2\xc0\x0c"s)};
    } else if (name == "alias.tern.example" && qtype == kTypeA) {
      // CNAME to target.tern.example (its rdata starts at 48: the 12-byte header, the
      // 24-byte question, the record's 12 bytes before its rdata), then target's A record.
      answers = {record(kTypeCname, "\6target\xc0\x12"s),
                 "\xc0\x30"s + u16(kTypeA) + u16(1) + u32(300) + u16(4) + "\xc0\x00\x02\x07"s};
    } else if (name == "target.tern.example" && qtype == kTypeA) {
      answers = {record(kTypeA, "\xc0\x00\x02\x07"s)};  // when the resolver follows the CNAME
    } else if (name == "nullmx.tern.example" && qtype == kTypeMx) {
      answers = {record(kTypeMx, "\0\0\0"s)};
    } else if (name == "a.tern.example" && qtype == kTypeA) {
      answers = {record(kTypeA, "\xc0\x00\x02\x01"s), record(kTypeA, "\xc0\x00\x02\x02"s)};
    } else if (name == "aaaa.tern.example" && qtype == kTypeAaaa) {
      answers = {record(kTypeAaaa, "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x01"s)};
    } else if (name == "nx.tern.example") {
      rcode = 3;
      authority = {soa_record()};
    } else if (name == "fail.tern.example") {
      rcode = 2;
    } else if (name == "refused.tern.example") {
      rcode = 5;
    } else if (name == "empty.tern.example" || name == "a.tern.example" ||
               name == "mx.tern.example" || name == "aaaa.tern.example" ||
               name == "nullmx.tern.example") {
      authority = {soa_record()};  // NODATA
    } else {
      rcode = 3;
    }
    std::string reply = query.substr(0, 2);
    const auto rd = static_cast<unsigned char>(query[2]) & 0x01;
    reply += static_cast<char>(0x84 | rd);     // QR, AA, RD copied
    reply += static_cast<char>(0x80 | rcode);  // RA
    reply += u16(1) + u16(static_cast<unsigned>(answers.size())) +
             u16(static_cast<unsigned>(authority.size())) + u16(0);
    reply += question;
    for (const auto& rr : answers) reply += rr;
    for (const auto& rr : authority) reply += rr;
    boost::system::error_code ignored;
    socket_.send_to(net::buffer(reply), peer_, 0, ignored);
  }

  udp::socket socket_;
  udp::endpoint peer_;
  std::array<char, 4096> buffer_{};
  std::map<std::string, int> seen_;
};

class AsioDnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeDnsServer>(context_);
    io_ = make_io({Endpoint{"127.0.0.1", server_->port()}});
  }
  void TearDown() override { io_.reset(); }

  std::unique_ptr<AsioIo> make_io(std::vector<Endpoint> forwarders) {
    AsioIoOptions options{"/nonexistent/spool", "/nonexistent/mail"};
    options.resolver.mode = ResolverOptions::Mode::custom;
    options.resolver.forwarders = std::move(forwarders);
    return std::make_unique<AsioIo>(context_, std::move(options));
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      if (context_.stopped()) context_.restart();
      context_.run_one_for(10ms);
    }
    return done();
  }

  // Runs one query to its end; checks that the answer did not come inside dns_query.
  IoResult<DnsAnswer> query(const std::string& name, DnsType type,
                            Duration timeout = Duration::seconds(5)) {
    std::optional<IoResult<DnsAnswer>> result;
    io_->dns_query(name, type, timeout, [&](IoResult<DnsAnswer> r) { result = std::move(r); });
    EXPECT_FALSE(result.has_value()) << "answered inside dns_query";
    EXPECT_TRUE(run_until([&] { return result.has_value(); })) << name;
    if (!result) return tern::runtime::io_failure(IoErrc::io_error, "no answer in the test");
    return std::move(*result);
  }

  net::io_context context_;
  std::unique_ptr<FakeDnsServer> server_;
  std::unique_ptr<AsioIo> io_;
};

TEST_F(AsioDnsTest, MxRecordsAsUncompressedRdata) {
  const auto answer = query("mx.tern.example", DnsType::mx);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_FALSE(answer->nxdomain);
  EXPECT_FALSE(answer->secure);
  EXPECT_EQ(sorted(answer->rdata), (std::vector<std::string>{"\0\x0a\3mx1\7example\3org\0"s,
                                                             "\0\x14\3mx2\2mx\4tern\7example\0"s}));
  EXPECT_EQ(answer->canonical_name, "");  // libunbound names it only after a CNAME
}

TEST_F(AsioDnsTest, NullMx) {
  const auto answer = query("nullmx.tern.example", DnsType::mx);
  ASSERT_TRUE(answer) << answer.error().detail;
  ASSERT_EQ(answer->rdata.size(), 1u);
  EXPECT_EQ(answer->rdata[0], "\0\0\0"s);
}

TEST_F(AsioDnsTest, ARecords) {
  const auto answer = query("a.tern.example", DnsType::a);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_EQ(sorted(answer->rdata),
            (std::vector<std::string>{"\xc0\x00\x02\x01"s, "\xc0\x00\x02\x02"s}));
}

TEST_F(AsioDnsTest, CnameGivesTheCanonicalName) {
  const auto answer = query("alias.tern.example", DnsType::a);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_EQ(answer->rdata, (std::vector<std::string>{"\xc0\x00\x02\x07"s}));
  EXPECT_EQ(answer->canonical_name, "target.tern.example");
}

TEST_F(AsioDnsTest, AaaaRecord) {
  const auto answer = query("aaaa.tern.example", DnsType::aaaa);
  ASSERT_TRUE(answer) << answer.error().detail;
  ASSERT_EQ(answer->rdata.size(), 1u);
  EXPECT_EQ(answer->rdata[0], "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x01"s);
}

TEST_F(AsioDnsTest, UpperCaseNameIsTheSameName) {
  const auto answer = query("A.tern.Example", DnsType::a);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_EQ(answer->rdata.size(), 2u);
}

TEST_F(AsioDnsTest, NxDomain) {
  const auto answer = query("nx.tern.example", DnsType::mx);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_TRUE(answer->nxdomain);
  EXPECT_TRUE(answer->rdata.empty());
}

TEST_F(AsioDnsTest, NoDataIsAnEmptyAnswer) {
  const auto empty = query("empty.tern.example", DnsType::mx);
  ASSERT_TRUE(empty) << empty.error().detail;
  EXPECT_FALSE(empty->nxdomain);
  EXPECT_TRUE(empty->rdata.empty());
  const auto wrong_type = query("a.tern.example", DnsType::aaaa);
  ASSERT_TRUE(wrong_type) << wrong_type.error().detail;
  EXPECT_FALSE(wrong_type->nxdomain);
  EXPECT_TRUE(wrong_type->rdata.empty());
}

TEST_F(AsioDnsTest, ServFailIsDnsFailed) {
  const auto answer = query("fail.tern.example", DnsType::mx);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
  EXPECT_EQ(answer.error().detail, "MX fail.tern.example: SERVFAIL");
}

TEST_F(AsioDnsTest, RefusedIsDnsFailed) {
  const auto answer = query("refused.tern.example", DnsType::a);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
  // libunbound turns an upstream REFUSED into SERVFAIL for its caller.
  EXPECT_EQ(answer.error().detail.rfind("A refused.tern.example: ", 0), 0u)
      << answer.error().detail;
}

TEST_F(AsioDnsTest, NoAnswerTimesOut) {
  const auto start = std::chrono::steady_clock::now();
  const auto answer = query("silent.tern.example", DnsType::mx, Duration::milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::timeout);
  EXPECT_EQ(answer.error().detail, "MX silent.tern.example: no answer within 300 ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  EXPECT_GE(server_->queries_seen("silent.tern.example"), 1);
}

TEST_F(AsioDnsTest, BadNamesAreRefusedWithoutAQuery) {
  for (const std::string& name :
       {""s, "mx.tern.example."s, "."s, "a\0b.test"s, std::string(254, 'a')}) {
    const auto answer = query(name, DnsType::mx);
    ASSERT_FALSE(answer) << name;
    EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
    EXPECT_EQ(answer.error().detail, "MX " + name + ": bad name");
  }
  EXPECT_EQ(server_->queries_seen("mx.tern.example"), 0);
}

TEST_F(AsioDnsTest, NameOf253BytesIsAsked) {
  std::string name;
  for (int i = 0; i < 3; ++i) name += std::string(63, 'b') + ".";
  name += std::string(61, 'c');
  ASSERT_EQ(name.size(), 253u);
  const auto answer = query(name, DnsType::mx);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_TRUE(answer->nxdomain);
  EXPECT_EQ(server_->queries_seen(name), 1);
}

TEST_F(AsioDnsTest, ConcurrentQueriesEachAnswerOnce) {
  std::map<std::string, int> calls;
  std::map<std::string, IoResult<DnsAnswer>> results;
  const std::vector<std::pair<std::string, DnsType>> asks = {
      {"mx.tern.example", DnsType::mx},    {"a.tern.example", DnsType::a},
      {"nx.tern.example", DnsType::a},     {"fail.tern.example", DnsType::a},
      {"silent.tern.example", DnsType::a}, {"aaaa.tern.example", DnsType::aaaa}};
  for (const auto& ask : asks) {
    const std::string name = ask.first;
    io_->dns_query(name, ask.second, Duration::milliseconds(500), [&, name](IoResult<DnsAnswer> r) {
      ++calls[name];
      results.insert_or_assign(name, std::move(r));
    });
  }
  ASSERT_TRUE(run_until([&] { return calls.size() == asks.size(); }));
  // Let late results and timers run: nobody is answered twice.
  run_until([] { return false; }, 800ms);
  for (const auto& [name, count] : calls) EXPECT_EQ(count, 1) << name;
  EXPECT_EQ(results.at("mx.tern.example")->rdata.size(), 2u);
  EXPECT_EQ(results.at("a.tern.example")->rdata.size(), 2u);
  EXPECT_TRUE(results.at("nx.tern.example")->nxdomain);
  EXPECT_EQ(results.at("fail.tern.example").error().code, IoErrc::dns_failed);
  EXPECT_EQ(results.at("silent.tern.example").error().code, IoErrc::timeout);
  EXPECT_EQ(results.at("aaaa.tern.example")->rdata.size(), 1u);
}

TEST_F(AsioDnsTest, AHandlerMayStartTheNextQuery) {
  std::optional<IoResult<DnsAnswer>> second;
  io_->dns_query("mx.tern.example", DnsType::mx, Duration::seconds(5),
                 [&](IoResult<DnsAnswer> first) {
                   EXPECT_TRUE(first.has_value());
                   io_->dns_query("a.tern.example", DnsType::a, Duration::seconds(5),
                                  [&](IoResult<DnsAnswer> r) { second = std::move(r); });
                 });
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  ASSERT_TRUE(*second);
  EXPECT_EQ((*second)->rdata.size(), 2u);
}

TEST_F(AsioDnsTest, NoCallbackAfterDestruction) {
  bool called = false;
  io_->dns_query("silent.tern.example", DnsType::mx, Duration::milliseconds(100),
                 [&](IoResult<DnsAnswer>) { called = true; });
  io_->dns_query("mx.tern.example", DnsType::mx, Duration::seconds(5),
                 [&](IoResult<DnsAnswer>) { called = true; });
  io_->dns_query("", DnsType::mx, Duration::seconds(5),
                 [&](IoResult<DnsAnswer>) { called = true; });  // a posted failure
  io_.reset();
  run_until([] { return false; }, 400ms);
  EXPECT_FALSE(called);
}

TEST_F(AsioDnsTest, IdleResolverLetsRunReturn) {
  ASSERT_TRUE(query("a.tern.example", DnsType::a));
  ASSERT_FALSE(query("silent.tern.example", DnsType::a, Duration::milliseconds(100)));
  context_.restart();
  const auto start = std::chrono::steady_clock::now();
  server_.reset();  // the fake server's pending receive is the only other work
  context_.run_for(2s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(AsioDnsTest, CustomWithoutForwardersFails) {
  io_ = make_io({});
  const auto answer = query("mx.tern.example", DnsType::mx);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
  EXPECT_EQ(answer.error().detail, "resolver: custom resolver without forwarders");
}

TEST_F(AsioDnsTest, MissingResolvConfFails) {
  AsioIoOptions options{"/nonexistent/spool", "/nonexistent/mail"};
  options.resolver.resolv_conf = "/nonexistent/resolv.conf";
  io_ = std::make_unique<AsioIo>(context_, std::move(options));
  const auto answer = query("mx.tern.example", DnsType::mx);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
  EXPECT_EQ(answer.error().detail.rfind("resolver: resolv.conf /nonexistent/resolv.conf: ", 0), 0u)
      << answer.error().detail;
}

TEST_F(AsioDnsTest, MissingTrustAnchorFails) {
  AsioIoOptions options{"/nonexistent/spool", "/nonexistent/mail"};
  options.resolver.mode = ResolverOptions::Mode::custom;
  options.resolver.forwarders = {Endpoint{"127.0.0.1", server_->port()}};
  options.resolver.trust_anchor_file = "/nonexistent/root.key";
  io_ = std::make_unique<AsioIo>(context_, std::move(options));
  const auto answer = query("mx.tern.example", DnsType::mx);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
  EXPECT_EQ(answer.error().detail.rfind("MX mx.tern.example: ", 0), 0u) << answer.error().detail;
  EXPECT_EQ(server_->queries_seen("mx.tern.example"), 0);
}

TEST_F(AsioDnsTest, BadForwarderFails) {
  io_ = make_io({Endpoint{"not-an-address", 53}});
  const auto answer = query("mx.tern.example", DnsType::mx);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, IoErrc::dns_failed);
  EXPECT_EQ(answer.error().detail.rfind("resolver: forwarder not-an-address:53: ", 0), 0u)
      << answer.error().detail;
}

}  // namespace
