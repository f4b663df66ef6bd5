#include "adapters/asio/posix_file_ops.hpp"

#include <cerrno>
#include <memory>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "adapters/asio/asio_internal.hpp"

namespace tern::adapters::asio {

using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;
using runtime::spool::File;
using runtime::spool::OpenMode;

namespace posix {

IoStatus errno_status(std::string_view what, const std::string& path, int error) {
  const IoErrc code = (error == ENOSPC || error == EDQUOT) ? IoErrc::no_space
                      : error == ENOENT                    ? IoErrc::not_found
                                                           : IoErrc::io_error;
  return IoStatus::failure(code, errno_detail(std::string(what) + " " + path, error));
}

IoStatus fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return rc == 0 ? IoStatus::success() : errno_status("fsync", path, error);
}

IoStatus write_all(int fd, std::span<const char> bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return IoStatus::success();
}

namespace {
// mkdir that accepts an existing folder; `created` tells the caller to fsync the parent.
IoStatus make_dir(const std::string& path, bool& created) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    created = true;
    return IoStatus::success();
  }
  if (errno == EEXIST) return IoStatus::success();
  return errno_status("mkdir", path, errno);
}
}  // namespace

IoStatus make_dirs(const std::string& parent, const std::vector<std::string>& children) {
  bool created = false;
  for (const auto& child : children) {
    const IoStatus status = make_dir(child, created);
    if (!status.ok()) return status;
  }
  return created ? fsync_path(parent, true) : IoStatus::success();
}

}  // namespace posix

PosixFileOps::PosixFileOps(Pool pool, Post post, std::chrono::microseconds inline_sync_max)
    : pool_(std::move(pool)), post_(std::move(post)), inline_sync_max_(inline_sync_max) {}

std::string PosixFileOps::path_of(File file) const {
  const std::lock_guard<std::mutex> lock(paths_mutex_);
  const auto it = paths_.find(file);
  return it == paths_.end() ? "fd " + std::to_string(file) : it->second;
}

IoStatus PosixFileOps::make_dir(const std::string& path, bool& created) {
  return posix::make_dir(path, created);
}

IoStatus PosixFileOps::sync_dir(const std::string& path) {
  return posix::fsync_path(path, true);
}

IoResult<std::vector<std::string>> PosixFileOps::list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return io_failure(IoErrc::io_error, errno_detail("opendir " + path, errno));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

IoStatus PosixFileOps::remove(const std::string& path) {
  return ::unlink(path.c_str()) == 0 ? IoStatus::success()
                                     : posix::errno_status("unlink", path, errno);
}

IoStatus PosixFileOps::rename(const std::string& from, const std::string& to) {
  return ::rename(from.c_str(), to.c_str()) == 0 ? IoStatus::success()
                                                 : posix::errno_status("rename", from, errno);
}

IoResult<File> PosixFileOps::open_file(const std::string& path, OpenMode mode) {
  const int flags = mode == OpenMode::existing     ? O_RDWR
                    : mode == OpenMode::create_new ? O_RDWR | O_CREAT | O_EXCL
                                                   : O_WRONLY | O_CREAT | O_TRUNC;
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) {
    const IoStatus failed =
        posix::errno_status(mode == OpenMode::existing ? "open" : "create", path, errno);
    return io_failure(failed.error->code, failed.error->detail);
  }
  const std::lock_guard<std::mutex> lock(paths_mutex_);
  paths_[fd] = path;
  return File{fd};
}

void PosixFileOps::close(File file) {
  {
    const std::lock_guard<std::mutex> lock(paths_mutex_);
    paths_.erase(file);
  }
  ::close(static_cast<int>(file));
}

IoResult<std::uint64_t> PosixFileOps::size(File file) {
  struct stat st {};
  if (::fstat(static_cast<int>(file), &st) != 0)
    return io_failure(IoErrc::io_error, errno_detail("stat " + path_of(file), errno));
  return static_cast<std::uint64_t>(st.st_size);
}

// pwritev, retried on short writes and EINTR.
IoStatus PosixFileOps::write_at(File file, std::uint64_t offset,
                                std::initializer_list<std::string_view> parts) {
  std::vector<iovec> iov;
  for (const std::string_view part : parts) {
    if (!part.empty()) iov.push_back({const_cast<char*>(part.data()), part.size()});
  }
  std::size_t first = 0;
  while (first < iov.size()) {
    const ssize_t n = ::pwritev(static_cast<int>(file), iov.data() + first,
                                static_cast<int>(iov.size() - first), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return posix::errno_status("write", path_of(file), errno);
    if (n == 0)
      return IoStatus::failure(IoErrc::io_error, "write " + path_of(file) + ": wrote nothing");
    offset += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (left > 0 && first < iov.size()) {
      const std::size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return IoStatus::success();
}

IoResult<std::string> PosixFileOps::read_at(File file, std::uint64_t offset, std::uint64_t bytes) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(static_cast<int>(file), out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_failure(IoErrc::io_error, errno_detail("read " + path_of(file), errno));
    if (n == 0) return io_failure(IoErrc::io_error, "read " + path_of(file) + ": ends early");
    done += static_cast<std::size_t>(n);
  }
  return out;
}

IoStatus PosixFileOps::truncate(File file, std::uint64_t size) {
  return ::ftruncate(static_cast<int>(file), static_cast<off_t>(size)) == 0
             ? IoStatus::success()
             : posix::errno_status("truncate", path_of(file), errno);
}

IoStatus PosixFileOps::sync(File file) {
  return ::fdatasync(static_cast<int>(file)) == 0
             ? IoStatus::success()
             : posix::errno_status("fdatasync", path_of(file), errno);
}

void PosixFileOps::note_sync(std::chrono::nanoseconds took) {
  last_sync_end_ = std::chrono::steady_clock::now();
  sync_estimate_ = (sync_estimate_ * 7 + took) / 8;
}

void PosixFileOps::sync_async(File file, bool may_block, std::function<void(IoStatus)> done) {
  using Clock = std::chrono::steady_clock;
  auto run = [file, path = path_of(file)] {
    const auto start = Clock::now();
    const IoStatus status = ::fdatasync(static_cast<int>(file)) == 0
                                ? IoStatus::success()
                                : posix::errno_status("fdatasync", path, errno);
    return std::make_pair(status, std::chrono::nanoseconds(Clock::now() - start));
  };
  const bool idle = may_block && Clock::now() - last_sync_end_ > 2 * sync_estimate_;
  if (idle && sync_estimate_ < inline_sync_max_) {
    ++counts_.on_engine;
    auto [status, took] = run();
    post_([this, done = std::move(done), status = std::move(status), took = took] {
      note_sync(took);
      done(status);
    });
    return;
  }
  ++counts_.on_pool;
  auto result = std::make_shared<std::pair<IoStatus, std::chrono::nanoseconds>>();
  pool_([result, run = std::move(run)] { *result = run(); },
        [this, result, done = std::move(done)] {
          note_sync(result->second);
          done(result->first);
        });
}

void PosixFileOps::background(std::function<void()> work, std::function<void()> done) {
  pool_(std::move(work), std::move(done));
}

}  // namespace tern::adapters::asio
