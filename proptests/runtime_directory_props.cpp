// Properties of the memory directory over generated principals: every principal logs in
// with its own password (by name and by each address, in any case) and never with another
// principal's; is_local_address and is_local_domain agree with a plain model of the input.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <crypt.h>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "runtime/directory/memory_directory.hpp"

namespace tern::runtime::directory {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

std::string random_case(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z' && *rc::gen::arbitrary<bool>()) c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string text_of(const std::string& alphabet, std::size_t min, std::size_t max) {
  std::size_t n = *rc::gen::inRange(min, max + 1);
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += alphabet[*rc::gen::inRange<std::size_t>(0, alphabet.size())];
  return out;
}

const std::string crypt_alphabet =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// A $5$ hash made here with libxcrypt, 1000 rounds to keep the property fast.
std::string sha256_crypt(const std::string& password) {
  const std::string setting = "$5$rounds=1000$" + text_of(crypt_alphabet, 1, 16);
  auto data = std::make_unique<crypt_data>();
  const char* out =
      crypt_rn(password.c_str(), setting.c_str(), data.get(), static_cast<int>(sizeof(crypt_data)));
  RC_ASSERT(out != nullptr);
  return out;
}

std::string secret_for(const std::string& password) {
  switch (*rc::gen::inRange(0, 3)) {
    case 0: return sha256_crypt(password);
    case 1: return "{PLAIN}" + password;
    default:
      return password.front() == '$' || password.front() == '{' ? "{plain}" + password : password;
  }
}

struct Model {
  MemoryDirectoryInput input;
  std::vector<std::string> passwords;
  std::map<std::string, std::string> owner;  // lowercased address -> principal
  std::set<std::string> domains;
};

Model generate() {
  Model m;
  const std::vector<std::string> domains = {"example.org", "mail.example.net", "x.test",
                                            "lookup.test"};
  const std::size_t n = *rc::gen::inRange<std::size_t>(1, 7);
  for (std::size_t i = 0; i < n; ++i) {
    PrincipalInput p;
    p.name = "u" + std::to_string(i) + text_of("abcdefghijklmnopqrstuvwxyz0123456789._-", 0, 8);
    m.passwords.push_back(text_of("abcdefghijklmnopqrstuvwxyzABC0123456789 !$%{}~\xc3\xa9", 1, 24));
    p.secret = secret_for(m.passwords.back());
    const std::size_t emails = *rc::gen::inRange<std::size_t>(0, 4);
    for (std::size_t j = 0; j < emails; ++j) {
      const std::string domain = domains[*rc::gen::inRange<std::size_t>(0, 3)];
      const std::string address = "p" + std::to_string(i) + "e" + std::to_string(j) +
                                  text_of("abcdefghijklmnopqrstuvwxyz+.", 0, 6) + "@" + domain;
      p.emails.push_back(random_case(address));
      m.owner[address] = p.name;
      m.domains.insert(domain);
    }
    m.input.principals.push_back(std::move(p));
  }
  if (*rc::gen::arbitrary<bool>()) {
    m.input.lookup_domains.push_back("LOOKUP.test");
    m.domains.insert("lookup.test");
  }
  return m;
}

RC_GTEST_PROP(RuntimeDirectoryProps, OwnPasswordOnly, ()) {
  Model m = generate();
  MemoryDirectoryBuild b = MemoryDirectory::build(m.input);
  RC_ASSERT(b.errors.empty());
  const MemoryDirectory& dir = *b.directory;
  for (std::size_t i = 0; i < m.input.principals.size(); ++i) {
    const PrincipalInput& p = m.input.principals[i];
    AuthOutcome own = dir.authenticate(p.name, m.passwords[i]);
    RC_ASSERT(own.status == AuthStatus::authenticated);
    RC_ASSERT(own.principal == p.name);
    for (const std::string& email : p.emails) {
      RC_ASSERT(dir.authenticate(random_case(lower(email)), m.passwords[i]).principal == p.name);
    }
    for (std::size_t k = 0; k < m.passwords.size(); ++k) {
      if (m.passwords[k] == m.passwords[i]) continue;
      RC_ASSERT(dir.authenticate(p.name, m.passwords[k]).status == AuthStatus::rejected);
    }
  }
}

RC_GTEST_PROP(RuntimeDirectoryProps, LookupsAgreeWithTheModel, ()) {
  Model m = generate();
  MemoryDirectoryBuild b = MemoryDirectory::build(m.input);
  RC_ASSERT(b.errors.empty());
  const MemoryDirectory& dir = *b.directory;
  for (const auto& [address, name] : m.owner) {
    RecipientOutcome r = dir.is_local_address(random_case(address));
    RC_ASSERT(r.status == RecipientStatus::local);
    RC_ASSERT(r.principal == name);
    RC_ASSERT(dir.may_send_as(name, address).status == SenderStatus::allowed);
  }
  // Probes: addresses that may or may not exist, over local and foreign domains.
  for (int probe = 0; probe < 8; ++probe) {
    const std::string address =
        "p" + std::to_string(*rc::gen::inRange(0, 7)) + "e" +
        std::to_string(*rc::gen::inRange(0, 4)) + text_of("ab", 0, 1) + "@" +
        *rc::gen::element<std::string>("example.org", "x.test", "lookup.test", "elsewhere.test");
    const bool expected = m.owner.contains(address);
    RC_ASSERT((dir.is_local_address(random_case(address)).status == RecipientStatus::local) ==
              expected);
    const std::string domain = address.substr(address.find('@') + 1);
    RC_ASSERT(dir.is_local_domain(random_case(domain)) == m.domains.contains(domain));
  }
}

}  // namespace
}  // namespace tern::runtime::directory
