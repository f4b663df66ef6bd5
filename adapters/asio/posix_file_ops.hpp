// adapters/asio/posix_file_ops.hpp — runtime::spool::FileOps on POSIX files (the production
// spool), and the POSIX helpers the Maildir store shares with it.
//
// - File is the file descriptor (O_CLOEXEC); sync is fdatasync, sync_dir an fsync of the
//   folder. errno maps to IoErrc: ENOSPC and EDQUOT no_space, ENOENT not_found, the rest
//   io_error; details read "<call> <path>: <strerror>".
// - sync_async runs the fdatasync on the pool, or on the calling thread when the caller
//   says it may block and the disk is fast and idle: none ended within twice the recent
//   fdatasync time, and that time (a moving average) is under `inline_sync_max`. Handing
//   an fdatasync to a pool thread and its result back costs two thread wake-ups, which are
//   pure latency when one client sends one message at a time; under load the syncs stay on
//   the pool so that the engine goes on meanwhile. Measured at one session: the
//   end-of-DATA -> 250 median fell from 0.37-0.40 ms to 0.29-0.35 ms; always inline cost a
//   third of the throughput at 10 and 50 sessions.
// - background and the completions of pooled syncs go through `pool` (AsioIo::on_pool:
//   work on its threads, done posted back, dropped once the AsioIo is gone).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/spool/file_ops.hpp"

namespace tern::adapters::asio {

namespace posix {
runtime::IoStatus errno_status(std::string_view what, const std::string& path, int error);
runtime::IoStatus fsync_path(const std::string& path, bool directory);
runtime::IoStatus write_all(int fd, std::span<const char> bytes, const std::string& path);
// Creates each folder in order (each one the parent of the next ones or a sibling under
// the first), fsyncing `parent` when one was made so the layout survives a crash.
runtime::IoStatus make_dirs(const std::string& parent, const std::vector<std::string>& children);
}  // namespace posix

class PosixFileOps final : public runtime::spool::FileOps {
 public:
  using Pool = std::function<void(std::function<void()> work, std::function<void()> done)>;
  using Post = std::function<void(std::function<void()>)>;
  PosixFileOps(Pool pool, Post post, std::chrono::microseconds inline_sync_max);

  runtime::IoStatus make_dir(const std::string& path, bool& created) override;
  runtime::IoStatus sync_dir(const std::string& path) override;
  runtime::IoResult<std::vector<std::string>> list_dir(const std::string& path) override;
  runtime::IoStatus remove(const std::string& path) override;
  runtime::IoStatus rename(const std::string& from, const std::string& to) override;
  runtime::IoResult<runtime::spool::File> open_file(const std::string& path,
                                                    runtime::spool::OpenMode mode) override;
  void close(runtime::spool::File file) override;
  runtime::IoResult<std::uint64_t> size(runtime::spool::File file) override;
  runtime::IoStatus write_at(runtime::spool::File file, std::uint64_t offset,
                             std::initializer_list<std::string_view> parts) override;
  runtime::IoResult<std::string> read_at(runtime::spool::File file, std::uint64_t offset,
                                         std::uint64_t bytes) override;
  runtime::IoStatus truncate(runtime::spool::File file, std::uint64_t size) override;
  runtime::IoStatus sync(runtime::spool::File file) override;
  void sync_async(runtime::spool::File file, bool may_block,
                  std::function<void(runtime::IoStatus)> done) override;
  void background(std::function<void()> work, std::function<void()> done) override;

  // How many fdatasyncs of sync_async ran on the calling thread and how many on the pool.
  struct SyncCounts {
    std::uint64_t on_engine = 0;
    std::uint64_t on_pool = 0;
  };
  SyncCounts sync_counts() const { return counts_; }

 private:
  std::string path_of(runtime::spool::File file) const;  // for error details
  void note_sync(std::chrono::nanoseconds took);

  Pool pool_;
  Post post_;
  std::chrono::microseconds inline_sync_max_;
  mutable std::mutex paths_mutex_;  // background work on the pool reads paths_ too
  std::unordered_map<runtime::spool::File, std::string> paths_;
  // Unmeasured at first: as slow as the default inline_sync_max allows, so that the first
  // fdatasyncs go to the pool.
  std::chrono::nanoseconds sync_estimate_ = std::chrono::milliseconds(1);
  std::chrono::steady_clock::time_point last_sync_end_{};
  SyncCounts counts_;
};

}  // namespace tern::adapters::asio
