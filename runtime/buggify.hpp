// runtime/buggify.hpp — named fault sites: places where the engine can be told to misbehave
// on purpose, so that the simulation and the fuzzers prove their invariants catch a broken
// engine (FoundationDB's BUGGIFY). A site is a branch on a flag that is off unless a test
// switched it on.
//
// Contract:
// - on(site) is false for every site unless enable(site) succeeded in this process.
// - enable() succeeds only in builds configured with TERN_BUGGIFY=ON (the asan preset: its
//   tests, fuzz targets and simulation); in every other build it returns false and nothing
//   changes, so no production ternd can be switched into a broken mode.
// - enable_from_list("a,b") enables each named site; it returns the first unknown name (or
//   a refusal) as an error message, "" on success. The names are those of name(site).
// - The flags are process-wide and not synchronized: set them before the engine runs.
#pragma once

#include <string>
#include <string_view>

namespace tern::runtime::buggify {

enum class Site : unsigned {
  // InboundSession says "250 queued" before the spool commit is durable (SMTP only).
  early_250,
  // Queue reports a local delivery as done without writing the Maildir file.
  skip_maildir_write,
  // Queue takes every DSN (failure, delay, success) as spooled without spooling it.
  skip_dsn,
  // The spool log calls its records durable without syncing them.
  spool_skip_sync,
};
inline constexpr unsigned kSiteCount = 4;

std::string_view name(Site site);
bool on(Site site);
bool enable(Site site);
void disable_all();
std::string enable_from_list(std::string_view names);

}  // namespace tern::runtime::buggify
