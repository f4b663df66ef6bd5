#include "runtime/directory/memory_directory.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/directory/outcome.hpp"

namespace tern::runtime::directory {
namespace {

// openssl passwd -6 -salt saltsalt 'correct horse'
constexpr const char* kAnnHash =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/"
    "uamSo5z0";
// openssl passwd -1 -salt saltsalt 'correct horse'
constexpr const char* kMd5Hash = "$1$saltsalt$NuzA7WTAelpl95xgBGWN60";

MemoryDirectoryInput sample() {
  MemoryDirectoryInput in;
  in.principals.push_back(
      {"ann", std::string(kAnnHash), {"Ann@Example.ORG", "postmaster@example.org"}});
  in.principals.push_back({"bob", std::string("{PLAIN}bobpass"), {"bob@other.example"}});
  in.principals.push_back({"list", std::nullopt, {"list@example.org"}});
  in.lookup_domains = {"Lookup.Example"};
  return in;
}

MemoryDirectory make() {
  MemoryDirectoryBuild b = MemoryDirectory::build(sample());
  EXPECT_TRUE(b.errors.empty());
  return *b.directory;
}

std::vector<std::string> messages(const std::vector<DirectoryIssue>& issues) {
  std::vector<std::string> out;
  for (const auto& i : issues) out.push_back(i.message);
  return out;
}

// An unknown login costs a hash of the directory's own scheme and cost, like a wrong password
// (issue 16: a wrong password took ~1.8 ms longer than an unknown user). The dummy secret is
// the first hashed one with its hash changed: same scheme, same cost, matching nothing. (The
// time itself is measured against the real ternd in conformance/blackbox/test_hardening.py:
// runtime/ has no clock.)
TEST(MemoryDirectoryAuthTest, TheDummySecretCostsWhatTheRealOnesCost) {
  const std::string real =
      "$6$rounds=200000$saltsalt$KIxokzdpd7LKAYpcFF2gzdBmn/H5QW5uzrQTMGe5wOOY04iJwz7bq6VsrGlmj"
      "40xZRvV///sdvBQWCaURFvL61";  // crypt('secret', '$6$rounds=200000$saltsalt$')
  MemoryDirectoryInput in;
  in.principals.push_back({"bob", std::string("{PLAIN}bobpass"), {"bob@example.org"}});
  in.principals.push_back({"ann", real, {"ann@example.org"}});
  auto dir = *MemoryDirectory::build(in).directory;
  const auto dummy = dir.dummy_secret();
  ASSERT_TRUE(dummy.has_value()) << "plain-text secrets are skipped, the hash is taken";
  EXPECT_EQ(dummy->size(), real.size());
  EXPECT_EQ(dummy->substr(0, 26), real.substr(0, 26)) << "same scheme, rounds and salt";
  EXPECT_NE(*dummy, real);
  const auto info = inspect_secret(*dummy, {});
  EXPECT_TRUE(info.usable) << info.reason;
  EXPECT_EQ(verify("secret", *dummy, {}).verdict, Verdict::mismatch);
  EXPECT_EQ(dir.authenticate("nobody", "secret").status, AuthStatus::rejected);
  // Only plain text: nothing to imitate (and nothing costly to hide).
  MemoryDirectoryInput plain;
  plain.principals.push_back({"bob", std::string("{PLAIN}bobpass"), {"bob@example.org"}});
  EXPECT_FALSE(MemoryDirectory::build(plain).directory->dummy_secret().has_value());
}

TEST(MemoryDirectoryBuildTest, WarnsAboutPlainText) {
  MemoryDirectoryBuild b = MemoryDirectory::build(sample());
  ASSERT_TRUE(b.directory.has_value());
  EXPECT_EQ(b.directory->size(), 3U);
  ASSERT_EQ(b.warnings.size(), 1U);
  EXPECT_EQ(b.warnings[0],
            (DirectoryIssue{
                1, "principal 'bob': the secret is plain text; store a $6$ or argon2id hash"}));
}

TEST(MemoryDirectoryBuildTest, ReportsEveryErrorWithoutTheSecret) {
  MemoryDirectoryInput in;
  in.principals.push_back(
      {"ann", std::string(kMd5Hash), {"ann@x.org", "ANN@x.org", "a@b@c", "@x.org", "ann@"}});
  in.principals.push_back(
      {"ann", std::string("$6$broken"), {"ann@X.org", "z@.x", "z@x..y", "z y@x", "z@x."}});
  in.principals.push_back({"", std::nullopt, {}});
  in.principals.push_back({"ann@x.org", std::nullopt, {}});
  in.lookup_domains = {"ok.example", "bad..example"};
  MemoryDirectoryBuild b = MemoryDirectory::build(in);
  EXPECT_FALSE(b.directory.has_value());
  EXPECT_EQ(messages(b.errors),
            (std::vector<std::string>{
                "principal 'ann': 'ann@x.org' is listed twice",
                "principal 'ann': 'a@b@c': it is not local-part@domain",
                "principal 'ann': '@x.org': the local part is empty",
                "principal 'ann': 'ann@': the domain is empty",
                "principal 'ann': unsupported scheme '1': md5-crypt is too weak: rehash with $6$ "
                "or argon2id",
                "principal 'ann': the name is used by an earlier principal",
                "principal 'ann': 'ann@x.org' is listed by principal 'ann'",
                "principal 'ann': 'z@.x': the domain has an empty label",
                "principal 'ann': 'z@x..y': the domain has an empty label",
                "principal 'ann': 'z y@x': the local part holds a character not allowed in it",
                "principal 'ann': 'z@x.': the domain has an empty label",
                "principal 'ann': malformed secret '6': bad salt",
                "principal #3: the name is empty",
                "principal 'ann@x.org': the name is an address of principal 'ann'",
                "lookup domain 'bad..example': the domain has an empty label",
            }));
  EXPECT_EQ(b.errors[0].principal_index, 0U);
  EXPECT_EQ(b.errors[5].principal_index, 1U);
  EXPECT_EQ(b.errors.back().principal_index, DirectoryIssue::kNoPrincipal);
}

TEST(MemoryDirectoryBuildTest, NameThatIsItsOwnAddressIsFine) {
  MemoryDirectoryInput in;
  in.principals.push_back({"ann@x.org", std::string("pw"), {"ann@x.org"}});
  MemoryDirectoryBuild b = MemoryDirectory::build(in);
  EXPECT_TRUE(b.errors.empty());
  EXPECT_EQ(b.directory->authenticate("ANN@x.org", "pw").status, AuthStatus::authenticated);
}

TEST(MemoryDirectoryBuildTest, CountLimitsAtNAndNPlusOne) {
  DirectoryLimits limits;
  limits.principals_max = 2;
  limits.emails_per_principal_max = 2;
  limits.lookup_domains_max = 1;
  MemoryDirectoryInput in;
  in.principals.push_back({"a", std::nullopt, {"a@x", "a2@x"}});
  in.principals.push_back({"b", std::nullopt, {"b@x"}});
  in.lookup_domains = {"y"};
  EXPECT_TRUE(MemoryDirectory::build(in, limits).errors.empty());
  MemoryDirectoryInput more_emails = in;
  more_emails.principals[1].emails = {"b@x", "b2@x", "b3@x"};
  EXPECT_EQ(messages(MemoryDirectory::build(more_emails, limits).errors),
            (std::vector<std::string>{"principal 'b': more addresses than the limit"}));
  MemoryDirectoryInput more_principals = in;
  more_principals.principals.push_back({"c", std::nullopt, {}});
  EXPECT_EQ(messages(MemoryDirectory::build(more_principals, limits).errors),
            (std::vector<std::string>{"more principals than the limit"}));
  MemoryDirectoryInput more_domains = in;
  more_domains.lookup_domains.push_back("z");
  EXPECT_EQ(messages(MemoryDirectory::build(more_domains, limits).errors),
            (std::vector<std::string>{"more lookup domains than the limit"}));
}

TEST(MemoryDirectoryBuildTest, LengthLimitsAtNAndNPlusOne) {
  const std::string local64(64, 'l');
  const std::string label63(63, 'd');
  const std::string domain255 = label63 + "." + label63 + "." + label63 + "." + label63;
  ASSERT_EQ(domain255.size(), 255U);
  MemoryDirectoryInput ok;
  ok.principals.push_back({std::string(255, 'n'), std::nullopt, {local64 + "@" + domain255}});
  ok.principals.push_back({"b", std::nullopt, {"b@" + label63}});
  EXPECT_TRUE(MemoryDirectory::build(ok).errors.empty());
  MemoryDirectoryInput bad;
  bad.principals.push_back(
      {std::string(256, 'n'), std::nullopt, {local64 + "l@x", "a@" + domain255 + "d"}});
  bad.principals.push_back({"b", std::nullopt, {"b@" + label63 + "d"}});
  EXPECT_EQ(messages(MemoryDirectory::build(bad).errors),
            (std::vector<std::string>{
                "principal #1: the name is longer than the limit",
                "principal '" + std::string(256, 'n') + "': '" + local64 +
                    "l@x': the local part is longer than the limit",
                "principal '" + std::string(256, 'n') + "': 'a@" + domain255 +
                    "d': the domain is longer than the limit",
                "principal 'b': 'b@" + label63 + "d': the domain has a label longer than 63 bytes",
            }));
}

TEST(MemoryDirectoryAuth, ByNameOrByAddress) {
  MemoryDirectory dir = make();
  AuthOutcome by_name = dir.authenticate("ann", "correct horse");
  EXPECT_EQ(by_name.status, AuthStatus::authenticated);
  EXPECT_EQ(by_name.principal, "ann");
  EXPECT_EQ(by_name.addresses,
            (std::vector<std::string>{"ann@example.org", "postmaster@example.org"}));
  EXPECT_EQ(dir.authenticate("ANN@EXAMPLE.org", "correct horse").principal, "ann");
  EXPECT_EQ(dir.authenticate("postmaster@example.org", "correct horse").principal, "ann");
  EXPECT_EQ(dir.authenticate("bob", "bobpass").status, AuthStatus::authenticated);
}

TEST(MemoryDirectoryAuth, Rejections) {
  MemoryDirectory dir = make();
  AuthOutcome wrong = dir.authenticate("ann", "correct horsE");
  EXPECT_EQ(wrong.status, AuthStatus::rejected);
  EXPECT_EQ(wrong.reason, "wrong password");
  EXPECT_TRUE(wrong.principal.empty());
  EXPECT_TRUE(wrong.addresses.empty());
  EXPECT_EQ(dir.authenticate("Ann", "correct horse").reason, "unknown user");  // names are exact
  EXPECT_EQ(dir.authenticate("carol", "x").reason, "unknown user");
  EXPECT_EQ(dir.authenticate("", "x").reason, "unknown user");
  EXPECT_EQ(dir.authenticate("list", "").reason, "the principal has no secret");
  EXPECT_EQ(dir.authenticate("list@example.org", "x").status, AuthStatus::rejected);
  EXPECT_EQ(dir.authenticate("bob", "").reason, "empty password");
  EXPECT_EQ(dir.authenticate("bob", "bobpass").reason, "password matches");
}

TEST(MemoryDirectoryAuth, UserLengthLimit) {
  DirectoryLimits limits;
  limits.name_bytes_max = 10;
  limits.local_part_bytes_max = 3;
  limits.domain_bytes_max = 5;  // logins up to max(10, 3+1+5) = 10 bytes
  MemoryDirectoryInput in;
  in.principals.push_back({std::string(10, 'n'), std::string("pw"), {}});
  MemoryDirectoryBuild b = MemoryDirectory::build(in, limits);
  ASSERT_TRUE(b.directory.has_value());
  EXPECT_EQ(b.directory->authenticate(std::string(10, 'n'), "pw").status,
            AuthStatus::authenticated);
  EXPECT_EQ(b.directory->authenticate(std::string(11, 'n'), "pw").status, AuthStatus::rejected);
}

TEST(MemoryDirectoryLookups, LocalDomains) {
  MemoryDirectory dir = make();
  EXPECT_TRUE(dir.is_local_domain("example.org"));
  EXPECT_TRUE(dir.is_local_domain("EXAMPLE.Org"));
  EXPECT_TRUE(dir.is_local_domain("other.example"));
  EXPECT_TRUE(dir.is_local_domain("lookup.example"));
  EXPECT_TRUE(dir.is_local_domain("LOOKUP.EXAMPLE"));
  EXPECT_FALSE(dir.is_local_domain("sub.example.org"));
  EXPECT_FALSE(dir.is_local_domain("example.org."));
  EXPECT_FALSE(dir.is_local_domain(""));
}

TEST(MemoryDirectoryLookups, LocalAddressesIgnoreCase) {
  MemoryDirectory dir = make();
  RecipientOutcome r = dir.is_local_address("ann@example.org");
  EXPECT_EQ(r.status, RecipientStatus::local);
  EXPECT_EQ(r.principal, "ann");
  EXPECT_EQ(dir.is_local_address("ANN@EXAMPLE.ORG").principal, "ann");
  EXPECT_EQ(dir.is_local_address("PostMaster@example.org").principal, "ann");
  EXPECT_EQ(dir.is_local_address("list@Example.org").principal, "list");
  EXPECT_EQ(dir.is_local_address("carol@example.org").status, RecipientStatus::unknown);
  EXPECT_EQ(dir.is_local_address("anyone@lookup.example").status, RecipientStatus::unknown);
  EXPECT_EQ(dir.is_local_address("ann").status, RecipientStatus::unknown);
  EXPECT_TRUE(dir.is_local_address("carol@example.org").principal.empty());
}

TEST(MemoryDirectoryLookups, AddressesOfAndSendAs) {
  MemoryDirectory dir = make();
  auto ann = dir.addresses_of("ann");
  ASSERT_TRUE(ann.has_value());
  EXPECT_EQ(std::vector<std::string>(ann->begin(), ann->end()),
            (std::vector<std::string>{"ann@example.org", "postmaster@example.org"}));
  EXPECT_FALSE(dir.addresses_of("carol").has_value());
  EXPECT_FALSE(dir.addresses_of("ANN").has_value());
  EXPECT_EQ(dir.may_send_as("ann", "Postmaster@Example.org").status, SenderStatus::allowed);
  EXPECT_EQ(dir.may_send_as("ann", "bob@other.example").status, SenderStatus::not_owned);
  EXPECT_EQ(dir.may_send_as("bob", "ann@example.org").status, SenderStatus::not_owned);
  EXPECT_EQ(dir.may_send_as("ann", "").status, SenderStatus::not_owned);
  EXPECT_EQ(dir.may_send_as("carol", "carol@example.org").status, SenderStatus::not_owned);
}

TEST(DirectoryOutcome, SmtpReplies) {
  EXPECT_EQ(smtp_reply(AuthOutcome{AuthStatus::authenticated, "ann", {}, ""}),
            (SmtpReply{235, "2.7.0", "Authentication successful"}));
  EXPECT_EQ(smtp_reply(AuthOutcome{AuthStatus::rejected, "", {}, "unknown user"}),
            (SmtpReply{535, "5.7.8", "Authentication credentials invalid"}));
  EXPECT_EQ(smtp_reply(AuthOutcome{AuthStatus::unavailable, "", {}, ""}),
            (SmtpReply{454, "4.7.0", "Temporary authentication failure"}));
  EXPECT_EQ(smtp_reply(RecipientOutcome{RecipientStatus::local, "ann"}),
            (SmtpReply{250, "2.1.5", "Recipient OK"}));
  EXPECT_EQ(smtp_reply(RecipientOutcome{RecipientStatus::unknown, ""}),
            (SmtpReply{550, "5.1.1", "Mailbox does not exist"}));
  EXPECT_EQ(smtp_reply(RecipientOutcome{RecipientStatus::unavailable, ""}),
            (SmtpReply{451, "4.4.3", "Directory unavailable, try again later"}));
  EXPECT_EQ(smtp_reply(SenderOutcome{SenderStatus::allowed}),
            (SmtpReply{250, "2.1.0", "Sender OK"}));
  EXPECT_EQ(smtp_reply(SenderOutcome{SenderStatus::not_owned}),
            (SmtpReply{553, "5.7.1", "Sender address not owned by the authenticated user"}));
  EXPECT_EQ(smtp_reply(SenderOutcome{SenderStatus::unavailable}).code, 451);
}

}  // namespace
}  // namespace tern::runtime::directory
