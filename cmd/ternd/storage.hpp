// cmd/ternd/storage.hpp — the folders ternd owns (storage.spool, storage.maildir, the
// self-signed identity under <spool>/tls): checked before the start and by `ternd --check`,
// then created with explicit modes whatever the umask.
//
// Contract:
// - check_storage returns one config diagnostic per problem the start would trip on,
//   positioned at the key (or at the default's file when the key is unset): a folder path
//   that is not a folder; a missing folder whose nearest existing ancestor is not a folder
//   ternd may write into; an existing folder writable by group or others (anyone could swap
//   a queued message or the TLS key); a self-signed key file with any group or other bit.
// - prepare_storage creates every missing folder of both paths, each 0700 (chmod'ed after
//   mkdir, so neither a lax nor a strict umask changes it); an error names the path.
// - ternd sets umask 077 before anything creates a file, so the spool's files, Maildir
//   copies and the control socket are private even where a call gives no explicit mode.
#pragma once

#include <string>
#include <vector>

#include "config/engine_settings.hpp"
#include "config/loader.hpp"

namespace tern::cmd {

std::vector<config::Diagnostic> check_storage(const config::Config& config,
                                              const config::EngineConfig& engine);

// Empty on success, else what failed.
std::string prepare_storage(const config::EngineConfig& engine);

// mkdir of every missing component of `path`, each then chmod'ed to 0700.
std::string make_private_folders(const std::string& path);

}  // namespace tern::cmd
