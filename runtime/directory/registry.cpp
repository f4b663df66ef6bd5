#include "runtime/directory/registry.hpp"

#include "runtime/directory/imap_directory.hpp"
#include "runtime/directory/memory_adapter.hpp"
#include "runtime/directory/smtp_directory.hpp"

namespace tern::runtime::directory {

namespace {

std::string build_memory(const DirectorySpec& spec, Io& io, std::shared_ptr<Directory>& out) {
  auto built = MemoryDirectory::build(spec.memory);
  // Its warnings (plain-text secrets) were printed with the file and line at load.
  if (!built.directory) {
    std::string message = "directory '" + spec.name + "':";
    for (const auto& e : built.errors) message += " " + e.message + ";";
    return message;
  }
  out = std::make_shared<MemoryDirectoryAsync>(std::move(*built.directory), io);
  return "";
}

DirectoryRegistry make_builtin() {
  DirectoryRegistry registry;
  registry.add("memory", build_memory);
  registry.add("imap", [](const DirectorySpec& spec, Io& io, std::shared_ptr<Directory>& out) {
    out = std::make_shared<ImapDirectory>(io, spec.remote);
    return std::string();
  });
  registry.add("smtp", [](const DirectorySpec& spec, Io& io, std::shared_ptr<Directory>& out) {
    out = std::make_shared<SmtpDirectory>(io, spec.remote, SmtpDirectoryMode::smtp);
    return std::string();
  });
  registry.add("lmtp", [](const DirectorySpec& spec, Io& io, std::shared_ptr<Directory>& out) {
    out = std::make_shared<SmtpDirectory>(io, spec.remote, SmtpDirectoryMode::lmtp);
    return std::string();
  });
  return registry;
}

}  // namespace

const DirectoryRegistry& DirectoryRegistry::builtin() {
  static const DirectoryRegistry registry = make_builtin();
  return registry;
}

void DirectoryRegistry::add(std::string kind, Factory factory) {
  factories_[std::move(kind)] = std::move(factory);
}

std::string DirectoryRegistry::build(const DirectorySpec& spec, Io& io,
                                     std::shared_ptr<Directory>& out) const {
  const auto it = factories_.find(spec.kind);
  if (it == factories_.end())
    return "directory '" + spec.name + "': no directory kind '" + spec.kind + "'";
  return it->second(spec, io, out);
}

}  // namespace tern::runtime::directory
