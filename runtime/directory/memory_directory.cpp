#include "runtime/directory/memory_directory.hpp"

#include <algorithm>
#include <utility>

namespace tern::runtime::directory {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Why `domain` is not a usable domain, or "" when it is: dot-separated labels of 1..63
// bytes, no space or control character, at most `bytes_max` bytes.
std::string_view domain_problem(std::string_view domain, std::size_t bytes_max) {
  if (domain.empty()) return "the domain is empty";
  if (domain.size() > bytes_max) return "the domain is longer than the limit";
  std::size_t label = 0;
  for (char c : domain) {
    if (is_control(c) || c == ' ' || c == '@' ||
        std::string_view("<>()[],;:\\\"").find(c) != std::string_view::npos) {
      return "the domain holds a character not allowed in it";
    }
    if (c == '.') {
      if (label == 0) return "the domain has an empty label";
      label = 0;
    } else if (++label > 63) {
      return "the domain has a label longer than 63 bytes";
    }
  }
  if (label == 0) return "the domain has an empty label";
  return {};
}

std::string_view address_problem(std::string_view address, const DirectoryLimits& limits) {
  const std::size_t at = address.find('@');
  if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
    return "it is not local-part@domain";
  }
  const std::string_view local = address.substr(0, at);
  if (local.empty()) return "the local part is empty";
  if (local.size() > limits.local_part_bytes_max) return "the local part is longer than the limit";
  for (char c : local) {
    if (is_control(c) || c == ' ' ||
        std::string_view("<>()[],;:\\\"").find(c) != std::string_view::npos) {
      return "the local part holds a character not allowed in it";
    }
  }
  return domain_problem(address.substr(at + 1), limits.domain_bytes_max);
}

std::string_view name_problem(std::string_view name, const DirectoryLimits& limits) {
  if (name.empty()) return "the name is empty";
  if (name.size() > limits.name_bytes_max) return "the name is longer than the limit";
  for (char c : name) {
    if (is_control(c) || c == ' ') return "the name holds a space or control character";
  }
  return {};
}

std::string domain_of(std::string_view address) {
  return std::string(address.substr(address.find('@') + 1));
}

}  // namespace

// Collects every error of an input instead of stopping at the first, so an operator fixes
// the configuration in one pass.
class DirectoryBuilder {
 public:
  DirectoryBuilder(MemoryDirectory& dir, MemoryDirectoryBuild& out) : dir_(dir), out_(out) {}

  void add_principal(const PrincipalInput& in, std::size_t index) {
    const std::string who = "principal '" + in.name + "'";
    if (auto why = name_problem(in.name, dir_.limits_); !why.empty()) {
      error(index, "principal #" + std::to_string(index + 1) + ": " + std::string(why));
    } else if (!dir_.by_name_.emplace(in.name, index).second) {
      error(index, who + ": the name is used by an earlier principal");
    }
    if (in.emails.size() > dir_.limits_.emails_per_principal_max) {
      error(index, who + ": more addresses than the limit");
    }
    MemoryDirectory::Stored stored{in.name, in.secret, {}};
    for (const std::string& email : in.emails) add_address(stored, email, index, who);
    if (in.secret) check_secret(*in.secret, index, who);
    dir_.principals_.push_back(std::move(stored));
  }

  void add_lookup_domain(const std::string& domain) {
    const std::string d = lower(domain);
    if (auto why = domain_problem(d, dir_.limits_.domain_bytes_max); !why.empty()) {
      error(DirectoryIssue::kNoPrincipal, "lookup domain '" + domain + "': " + std::string(why));
      return;
    }
    dir_.domains_.insert(d);
  }

  // Runs after every principal is known: a name like "ann@x.org" must not be a login that
  // could mean two principals.
  void check_names_against_addresses() {
    for (std::size_t i = 0; i < dir_.principals_.size(); ++i) {
      const std::string& name = dir_.principals_[i].name;
      if (name.find('@') == std::string::npos) continue;
      auto hit = dir_.by_address_.find(lower(name));
      if (hit != dir_.by_address_.end() && hit->second != i) {
        error(i, "principal '" + name + "': the name is an address of principal '" +
                     dir_.principals_[hit->second].name + "'");
      }
    }
  }

  void error(std::size_t index, std::string message) {
    out_.errors.push_back({index, std::move(message)});
  }

 private:
  void add_address(MemoryDirectory::Stored& stored, const std::string& email, std::size_t index,
                   const std::string& who) {
    const std::string address = lower(email);
    if (auto why = address_problem(address, dir_.limits_); !why.empty()) {
      error(index, who + ": '" + email + "': " + std::string(why));
      return;
    }
    auto [it, fresh] = dir_.by_address_.emplace(address, index);
    if (!fresh) {
      const bool same = it->second == index;
      error(index, who + ": '" + address + "' is listed " +
                       (same ? std::string("twice")
                             : "by principal '" + dir_.principals_[it->second].name + "'"));
      return;
    }
    stored.addresses.push_back(address);
    dir_.domains_.insert(domain_of(address));
  }

  void check_secret(const std::string& secret, std::size_t index, const std::string& who) {
    SecretInfo info = inspect_secret(secret, dir_.limits_.password);
    if (!info.usable) {
      const char* kind =
          info.problem == Verdict::unsupported_scheme ? "unsupported scheme" : "malformed secret";
      std::string scheme = info.scheme_name.empty() ? "" : " '" + info.scheme_name + "'";
      error(index, who + ": " + kind + scheme + ": " + std::string(info.reason));
    } else if (info.scheme == Scheme::plain) {
      out_.warnings.push_back(
          {index, who + ": the secret is plain text; store a $6$ or argon2id hash"});
    }
  }

  MemoryDirectory& dir_;
  MemoryDirectoryBuild& out_;
};

// A secret that costs what the directory's real ones cost and matches no password: the
// first hashed secret with the first character of its last '$' field changed (still a
// valid character of every scheme's alphabet, so the hash runs in full and then differs).
std::optional<std::string> MemoryDirectory::dummy_secret_for(
    const std::vector<Stored>& principals) {
  for (const auto& p : principals) {
    if (!p.secret || is_plain_text(*p.secret)) continue;
    std::string dummy = *p.secret;
    const auto field = dummy.rfind('$');
    if (field == std::string::npos || field + 1 >= dummy.size()) continue;
    char& c = dummy[field + 1];
    c = c == 'A' ? 'B' : 'A';
    return dummy;
  }
  return std::nullopt;
}

MemoryDirectoryBuild MemoryDirectory::build(const MemoryDirectoryInput& input,
                                            const DirectoryLimits& limits) {
  MemoryDirectoryBuild out;
  MemoryDirectory dir;
  dir.limits_ = limits;
  DirectoryBuilder builder(dir, out);
  if (input.principals.size() > limits.principals_max) {
    builder.error(DirectoryIssue::kNoPrincipal, "more principals than the limit");
    return out;
  }
  if (input.lookup_domains.size() > limits.lookup_domains_max) {
    builder.error(DirectoryIssue::kNoPrincipal, "more lookup domains than the limit");
    return out;
  }
  for (std::size_t i = 0; i < input.principals.size(); ++i)
    builder.add_principal(input.principals[i], i);
  builder.check_names_against_addresses();
  for (const std::string& domain : input.lookup_domains) builder.add_lookup_domain(domain);
  dir.dummy_secret_ = dummy_secret_for(dir.principals_);
  if (out.errors.empty()) out.directory = std::move(dir);
  return out;
}

const MemoryDirectory::Stored* MemoryDirectory::find_name(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &principals_[it->second];
}

const MemoryDirectory::Stored* MemoryDirectory::find_login(std::string_view user) const {
  if (const Stored* p = find_name(user)) return p;
  if (user.find('@') == std::string_view::npos) return nullptr;
  auto it = by_address_.find(lower(user));
  return it == by_address_.end() ? nullptr : &principals_[it->second];
}

AuthOutcome MemoryDirectory::authenticate(std::string_view user, std::string_view password) const {
  AuthOutcome out;
  const std::size_t user_bytes_max =
      std::max(limits_.name_bytes_max, limits_.local_part_bytes_max + 1 + limits_.domain_bytes_max);
  const Stored* p = user.size() <= user_bytes_max ? find_login(user) : nullptr;
  if (p == nullptr || !p->secret) {
    // The same work as for a real user with a wrong password, so that the time taken does
    // not tell which login names exist (the engine also answers every failure at a fixed
    // delay after the credentials arrived).
    if (dummy_secret_) (void)verify(password, *dummy_secret_, limits_.password);
    out.reason = p == nullptr ? "unknown user" : "the principal has no secret";
    return out;
  }
  PasswordCheck check = verify(password, *p->secret, limits_.password);
  out.reason = check.reason;
  if (check.verdict == Verdict::failed) out.status = AuthStatus::unavailable;
  if (check.verdict != Verdict::match) return out;
  out.status = AuthStatus::authenticated;
  out.principal = p->name;
  out.addresses = p->addresses;
  return out;
}

bool MemoryDirectory::is_local_domain(std::string_view domain) const {
  if (domain.size() > limits_.domain_bytes_max) return false;
  return domains_.contains(lower(domain));
}

RecipientOutcome MemoryDirectory::is_local_address(std::string_view address) const {
  RecipientOutcome out;
  if (address.size() > limits_.local_part_bytes_max + 1 + limits_.domain_bytes_max) return out;
  auto it = by_address_.find(lower(address));
  if (it == by_address_.end()) return out;
  out.status = RecipientStatus::local;
  out.principal = principals_[it->second].name;
  return out;
}

std::optional<std::span<const std::string>> MemoryDirectory::addresses_of(
    std::string_view principal) const {
  const Stored* p = find_name(principal);
  if (p == nullptr) return std::nullopt;
  return std::span<const std::string>(p->addresses);
}

SenderOutcome MemoryDirectory::may_send_as(std::string_view principal,
                                           std::string_view address) const {
  RecipientOutcome owner = is_local_address(address);
  const bool owned = owner.status == RecipientStatus::local && owner.principal == principal;
  return SenderOutcome{owned ? SenderStatus::allowed : SenderStatus::not_owned};
}

}  // namespace tern::runtime::directory
