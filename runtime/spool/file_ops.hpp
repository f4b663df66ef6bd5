// runtime/spool/file_ops.hpp — the file operations the spool log (log_spool.hpp) is written
// against: POSIX files in production (adapters/asio/posix_file_ops), an in-memory disk that
// loses what was not synced at a crash in the simulation (adapters/sim/sim_disk). So the
// one spool implementation runs under every seed, and its durability argument is tested
// by crashes rather than believed.
//
// Contract (both implementations):
// - Paths are absolute, '/'-separated; folders are made by make_dir. Every call but
//   sync_async and background is synchronous and runs on the engine's thread.
// - Durability: a write or truncate is durable once a sync of its file begun after it has
//   succeeded; a folder's entries (create, remove, rename) once a sync_dir of that folder
//   begun after them has succeeded. Anything else may, after a crash, be there, be gone, or
//   (a write) be there in part. A failed sync makes nothing durable.
// - Errors: no_space (the disk is full), not_found (no such file or folder), io_error.
// - sync_async runs the file's sync and calls `done` on the engine's thread, never inside
//   the call; `may_block` says the caller has nothing else to do meanwhile (then the
//   implementation may run the sync on the calling thread). The caller keeps the file open
//   until `done` runs.
// - background runs `work` off the engine's critical path (a pool thread in production,
//   after the disk's latency in the simulation), then `done` on the engine's thread. `work`
//   may call only the synchronous methods of this interface, and touches only what it
//   captured; `done` is never called inside background().
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io.hpp"

namespace tern::runtime::spool {

using File = std::int64_t;

enum class OpenMode {
  existing,         // read and write a file that exists
  create_new,       // read and write a new file; fails when the name exists
  create_truncate,  // write, created or emptied
};

class FileOps {
 public:
  virtual ~FileOps() = default;

  // Folders. make_dir accepts a folder that exists; `created` turns true when it made one.
  virtual IoStatus make_dir(const std::string& path, bool& created) = 0;
  virtual IoStatus sync_dir(const std::string& path) = 0;
  virtual IoResult<std::vector<std::string>> list_dir(const std::string& path) = 0;
  virtual IoStatus remove(const std::string& path) = 0;
  virtual IoStatus rename(const std::string& from, const std::string& to) = 0;

  // Files.
  virtual IoResult<File> open_file(const std::string& path, OpenMode mode) = 0;
  virtual void close(File file) = 0;
  virtual IoResult<std::uint64_t> size(File file) = 0;
  // Writes the parts one after the other from `offset`: all of them, or an error.
  virtual IoStatus write_at(File file, std::uint64_t offset,
                            std::initializer_list<std::string_view> parts) = 0;
  // Exactly `bytes` from `offset` (io_error when the file ends first).
  virtual IoResult<std::string> read_at(File file, std::uint64_t offset, std::uint64_t bytes) = 0;
  virtual IoStatus truncate(File file, std::uint64_t size) = 0;
  virtual IoStatus sync(File file) = 0;  // fdatasync
  virtual void sync_async(File file, bool may_block, std::function<void(IoStatus)> done) = 0;

  virtual void background(std::function<void()> work, std::function<void()> done) = 0;
};

}  // namespace tern::runtime::spool
