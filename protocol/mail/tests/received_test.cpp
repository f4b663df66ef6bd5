#include "protocol/mail/received.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::mail {
namespace {

TEST(Rfc5322Date, KnownInstants) {
  EXPECT_EQ(format_rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(1795262645), "Sat, 21 Nov 2026 12:04:05 +0000");
  EXPECT_EQ(format_rfc5322_date(253402300799), "Fri, 31 Dec 9999 23:59:59 +0000");
  EXPECT_EQ(format_rfc5322_date(253402300800), "Fri, 31 Dec 9999 23:59:59 +0000");
  EXPECT_EQ(format_rfc5322_date(-5), "Thu, 1 Jan 1970 00:00:00 +0000");
}

ReceivedFacts facts() {
  ReceivedFacts f;
  f.helo = "client.example";
  f.remote_ip = "192.0.2.7";
  f.hostname = "mx.example.org";
  f.id = "Q1";
  f.unix_seconds = 0;
  return f;
}

TEST(ReceivedHeader, PlainEsmtpWithOneRecipient) {
  auto f = facts();
  f.single_recipient = "ann@example.org";
  EXPECT_EQ(received_header(f),
            "Received: from client.example ([192.0.2.7])\r\n"
            "\tby mx.example.org (Tern) with ESMTP id Q1\r\n"
            "\tfor <ann@example.org>; Thu, 1 Jan 1970 00:00:00 +0000\r\n");
}

TEST(ReceivedHeader, TlsAndAuthAndSeveralRecipients) {
  auto f = facts();
  f.tls = true;
  f.authenticated = true;
  f.tls_version = "TLSv1.3";
  f.tls_cipher = "TLS_AES_256_GCM_SHA384";
  f.tls_cipher_bits = 256;
  EXPECT_EQ(received_header(f),
            "Received: from client.example ([192.0.2.7])\r\n"
            "\tby mx.example.org (Tern) with ESMTPSA id Q1\r\n"
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits));\r\n"
            "\tThu, 1 Jan 1970 00:00:00 +0000\r\n")
      << "RFC 5322 3.6.7: ';' before the date even without a 'for' clause";
}

TEST(ReceivedHeader, Utf8ProtocolNames) {
  // RFC 6531 3.7.3 registers UTF8SMTP, UTF8SMTPA, UTF8SMTPS, UTF8SMTPSA and the LMTP forms.
  auto f = facts();
  f.utf8 = true;
  EXPECT_NE(received_header(f).find(" with UTF8SMTP id "), std::string::npos);
  f.tls = f.authenticated = true;
  EXPECT_NE(received_header(f).find(" with UTF8SMTPSA id "), std::string::npos);
  f.lmtp = true;
  f.authenticated = false;
  EXPECT_NE(received_header(f).find(" with UTF8LMTPS id "), std::string::npos);
}

TEST(ReceivedHeader, ProtocolNames) {
  auto f = facts();
  f.esmtp = false;
  EXPECT_NE(received_header(f).find("with SMTP id"), std::string::npos);
  f.lmtp = true;
  f.authenticated = true;
  EXPECT_NE(received_header(f).find("with LMTPA id"), std::string::npos);
}

TEST(ReceivedHeader, ClientTextCannotBreakTheHeader) {
  auto f = facts();
  f.helo = "evil\r\nBcc: x@y (z) [w];";
  const auto header = received_header(f);
  EXPECT_EQ(header.substr(0, 45), "Received: from evil??Bcc:?x@y??z??[w]? ([192.");
  EXPECT_EQ(header.find("\r\nBcc"), std::string::npos);
  f.helo = std::string(300, 'a');
  EXPECT_NE(received_header(f).find(std::string(255, 'a') + " ("), std::string::npos);
  EXPECT_EQ(received_header(f).find(std::string(256, 'a')), std::string::npos);
}

TEST(ReceivedHeader, AddressLiteralHeloKeepsItsBrackets) {
  auto f = facts();
  f.helo = "[192.0.2.7]";
  EXPECT_EQ(received_header(f).substr(0, 41), "Received: from [192.0.2.7] ([192.0.2.7])\r");
}

TEST(ReceivedHeader, NoHelo) {
  auto f = facts();
  f.helo.clear();
  EXPECT_EQ(received_header(f).substr(0, 24), "Received: from unknown (");
}

}  // namespace
}  // namespace tern::protocol::mail
