// runtime/directory/memory_directory.hpp — the `memory` directory: principals listed in the
// configuration, answered from memory.
//
// Contract:
// - MemoryDirectoryInput is plain data (config/ fills it from config::DirectoryModel; this
//   layer never includes config/). MemoryDirectory::build(input, limits) never throws: it
//   returns the directory, or no directory and every error found (each naming the principal
//   by index and name, never quoting a secret), plus warnings (a plain-text secret).
//   Errors: an empty, over-long or control-character name; two principals with the same
//   name; an address without exactly one '@', with an empty, over-long (local part > 64,
//   domain > 255 bytes) or badly dotted part, or with a space, control or <>()[],;:\"
//   character; the same address twice (in one principal or across two); a name with '@'
//   that is another principal's address; a secret inspect_secret() finds malformed or
//   unsupported; a malformed lookup domain; more principals, addresses per principal or
//   lookup domains than the limits.
// - Case: domains and local parts are compared ASCII case-insensitively (addresses are
//   stored lowercased). RFC 5321 lets a host treat local parts case-sensitively, but the
//   config layer already lowercases principals' addresses and `tern route` answers
//   is_local_address that way; the engine must give the same answer as the router, and a
//   sender who types Ann@ expects ann@ to get it. Login names are compared exactly.
// - authenticate(user, password): `user` is a principal's name or, when it names none, any
//   of a principal's addresses (any case). Names win because they are what the operator
//   wrote; addresses are accepted because mail clients (and autoconfig) fill the username
//   with the email address. Build refuses the one ambiguity (a name that is another's
//   address). A principal without a secret cannot log in. Unknown users are rejected
//   after verifying the password against a dummy secret of the directory's own scheme and
//   cost (so they take as long as a wrong password); callers still answer every rejection
//   at the same delay (the SMTP session's failure delay) so that no timing tells them apart.
//   Unavailable only when the hash could not be computed (argon2 out of memory).
// - is_local_domain(domain): a domain of some principal's address or of lookup_domains.
//   is_local_address(address): the principal owning it, else unknown (a lookup domain
//   alone does not make an address local: this directory knows all its mailboxes).
// - addresses_of(principal): that principal's addresses, nullopt for an unknown name.
//   may_send_as(principal, address): allowed when the address is one of the principal's.
//   The null reverse-path "<>" is the caller's decision (here it is not_owned).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/directory/outcome.hpp"
#include "runtime/directory/password.hpp"

namespace tern::runtime::directory {

struct PrincipalInput {
  std::string name;
  std::optional<std::string> secret;
  std::vector<std::string> emails;
};

struct MemoryDirectoryInput {
  std::vector<PrincipalInput> principals;
  std::vector<std::string> lookup_domains;
};

struct DirectoryLimits {
  std::size_t principals_max = 100'000;
  std::size_t emails_per_principal_max = 1'000;
  std::size_t lookup_domains_max = 10'000;
  std::size_t name_bytes_max = 255;
  std::size_t local_part_bytes_max = 64;  // RFC 5321 4.5.3.1.1
  std::size_t domain_bytes_max = 255;     // RFC 5321 4.5.3.1.2
  PasswordLimits password;
};

struct DirectoryIssue {
  static constexpr std::size_t kNoPrincipal = static_cast<std::size_t>(-1);
  std::size_t principal_index = kNoPrincipal;  // index in input.principals
  std::string message;                         // "principal 'ann': ..." never a secret

  friend bool operator==(const DirectoryIssue&, const DirectoryIssue&) = default;
};

struct MemoryDirectoryBuild;
class DirectoryBuilder;

class MemoryDirectory {
 public:
  [[nodiscard]] static MemoryDirectoryBuild build(const MemoryDirectoryInput& input,
                                                  const DirectoryLimits& limits = {});

  [[nodiscard]] AuthOutcome authenticate(std::string_view user, std::string_view password) const;
  [[nodiscard]] bool is_local_domain(std::string_view domain) const;
  [[nodiscard]] RecipientOutcome is_local_address(std::string_view address) const;
  [[nodiscard]] std::optional<std::span<const std::string>> addresses_of(
      std::string_view principal) const;
  [[nodiscard]] SenderOutcome may_send_as(std::string_view principal,
                                          std::string_view address) const;
  [[nodiscard]] std::size_t size() const { return principals_.size(); }
  // What an unknown login is verified against (see authenticate); none with only plain text.
  [[nodiscard]] const std::optional<std::string>& dummy_secret() const { return dummy_secret_; }

 private:
  friend class DirectoryBuilder;
  struct Stored {
    std::string name;
    std::optional<std::string> secret;
    std::vector<std::string> addresses;  // lowercased
  };
  MemoryDirectory() = default;
  static std::optional<std::string> dummy_secret_for(const std::vector<Stored>& principals);
  const Stored* find_login(std::string_view user) const;
  const Stored* find_name(std::string_view name) const;

  DirectoryLimits limits_;
  std::vector<Stored> principals_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
  std::map<std::string, std::size_t, std::less<>> by_address_;
  std::set<std::string, std::less<>> domains_;
  std::optional<std::string> dummy_secret_;  // hashed for unknown users (see authenticate)
};

struct MemoryDirectoryBuild {
  std::optional<MemoryDirectory> directory;  // present exactly when errors is empty
  std::vector<DirectoryIssue> errors;
  std::vector<DirectoryIssue> warnings;
};

}  // namespace tern::runtime::directory
