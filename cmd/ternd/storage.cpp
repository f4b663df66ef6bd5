#include "cmd/ternd/storage.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

namespace tern::cmd {
namespace {

namespace fs = std::filesystem;

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Problems with one folder ternd owns, `what` naming it in messages.
void check_folder(const std::string& path, const std::string& what,
                  std::vector<std::string>& problems) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      problems.push_back(what + " '" + path + "' is not a folder");
    } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      problems.push_back(what + " '" + path + "' is writable by group or others (mode " +
                         octal(st.st_mode) + "): anyone could replace what ternd keeps there; " +
                         "chmod 700 it");
    }
    return;
  }
  if (errno != ENOENT && errno != ENOTDIR) {
    problems.push_back(what + " '" + path + "': " + std::strerror(errno));
    return;
  }
  // Missing: the start creates it under its nearest existing ancestor.
  fs::path ancestor = fs::path(path).parent_path();
  while (!ancestor.empty() && ::lstat(ancestor.c_str(), &st) != 0) {
    if (ancestor == ancestor.parent_path()) break;
    ancestor = ancestor.parent_path();
  }
  if (ancestor.empty()) ancestor = ".";
  if (::stat(ancestor.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    problems.push_back(what + " '" + path + "' cannot be created: '" + ancestor.string() +
                       "' is not a folder");
  } else if (::access(ancestor.c_str(), W_OK | X_OK) != 0) {
    problems.push_back(what + " '" + path + "' cannot be created: '" + ancestor.string() +
                       "' is not writable by this user");
  }
}

config::SourcePos position_of(const config::Config& config, const std::string& key) {
  if (const auto* entry = config.find(key)) return entry->pos;
  return config::SourcePos{"<default>", 0, 0};
}

}  // namespace

std::vector<config::Diagnostic> check_storage(const config::Config& config,
                                              const config::EngineConfig& engine) {
  std::vector<config::Diagnostic> out;
  auto report = [&](const std::string& key, const std::vector<std::string>& problems) {
    for (const auto& p : problems) {
      out.push_back(config::Diagnostic{config::Diagnostic::Severity::error,
                                       position_of(config, key), "'" + key + "': " + p});
    }
  };
  std::vector<std::string> spool;
  check_folder(engine.spool_dir, "the spool folder", spool);
  const std::string tls = engine.spool_dir + "/tls";
  struct stat st {};
  if (::stat(tls.c_str(), &st) == 0) check_folder(tls, "the self-signed identity's folder", spool);
  const std::string key = tls + "/self-signed.key";
  if (::stat(key.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spool.push_back("the self-signed private key '" + key + "' is open to group or others (mode " +
                    octal(st.st_mode) + "); chmod 600 it, or remove it to make a new one");
  }
  report("storage.spool", spool);
  std::vector<std::string> maildir;
  check_folder(engine.maildir_dir, "the Maildir folder", maildir);
  report("storage.maildir", maildir);
  return out;
}

std::string make_private_folders(const std::string& path) {
  std::vector<fs::path> missing;
  struct stat st {};
  for (fs::path p = path; !p.empty() && ::stat(p.c_str(), &st) != 0; p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create '" + it->string() + "': " + std::strerror(errno);
    if (::chmod(it->c_str(), 0700) != 0)
      return "cannot chmod '" + it->string() + "': " + std::strerror(errno);
  }
  return "";
}

std::string prepare_storage(const config::EngineConfig& engine) {
  for (const auto& path : {engine.spool_dir, engine.maildir_dir}) {
    if (auto error = make_private_folders(path); !error.empty()) return error;
  }
  return "";
}

}  // namespace tern::cmd
