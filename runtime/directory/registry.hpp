// runtime/directory/registry.hpp — which directory kinds the engine can build, and how: a
// kind's name ("memory", "imap", "smtp", "lmtp") maps to a factory. The configuration only
// describes a directory (DirectorySpec); building it is the runtime's, so a new kind (SQL,
// LDAP) is one factory registered here and one schema entry, with nothing to change in
// config/.
//
// Contract:
// - builtin() knows memory (from `memory`), imap, smtp and lmtp (from `remote`).
// - build(spec, io, out) returns "" and sets `out`, or says why it cannot be built: an
//   unknown kind, a memory directory whose principals are invalid. It never throws.
// - add(kind, factory) registers or replaces a kind.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "runtime/directory/directory.hpp"
#include "runtime/directory/memory_directory.hpp"
#include "runtime/directory/remote_directory.hpp"
#include "runtime/io.hpp"

namespace tern::runtime::directory {

struct DirectorySpec {
  std::string name;  // for messages: "directory 'main'"
  std::string kind;
  MemoryDirectoryInput memory;     // kind memory
  RemoteDirectorySettings remote;  // the remote kinds
};

class DirectoryRegistry {
 public:
  // "" and `out` set, or why not.
  using Factory =
      std::function<std::string(const DirectorySpec&, Io&, std::shared_ptr<Directory>&)>;

  static const DirectoryRegistry& builtin();
  void add(std::string kind, Factory factory);
  bool knows(const std::string& kind) const { return factories_.count(kind) != 0; }
  std::string build(const DirectorySpec& spec, Io& io, std::shared_ptr<Directory>& out) const;

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace tern::runtime::directory
