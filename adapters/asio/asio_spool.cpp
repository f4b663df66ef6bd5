// AsioIo: the spool (runtime/spool/log_spool.hpp over PosixFileOps: its calls are forwarded)
// and the Maildir store. Work that fsyncs runs on the pool, and pool work never touches
// AsioIo's members (it runs beside the engine): it gets values and shared_ptrs.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <fcntl.h>
#include <unistd.h>

#include "adapters/asio/asio_internal.hpp"
#include "adapters/asio/posix_file_ops.hpp"
#include "runtime/spool/log_spool.hpp"

namespace tern::adapters::asio {

namespace net = boost::asio;
using posix::errno_status;
using posix::fsync_path;
using posix::make_dirs;
using posix::write_all;
using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;

namespace {

constexpr std::size_t kAccountMax = 255;
constexpr std::size_t kCopyChunkBytes = 64 * 1024;

bool valid_account(std::string_view account) {
  return !account.empty() && account.size() <= kAccountMax && account.front() != '.' &&
         account.find('/') == std::string_view::npos &&
         account.find('\0') == std::string_view::npos;
}

// After a failure the errno of a cleanup must not replace the one being reported.
void unlink_quietly(const std::string& path) {
  const int saved = errno;
  ::unlink(path.c_str());
  errno = saved;
}

void close_quietly(int fd) {
  const int saved = errno;
  ::close(fd);
  errno = saved;
}

// Copies `bytes` (to the end of the file when max) from `from` at `offset` to `to`.
IoStatus copy_range(int from, std::uint64_t offset, std::uint64_t bytes, int to,
                    const std::string& path) {
  auto in = static_cast<off_t>(offset);
  while (bytes > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes, kCopyChunkBytes));
    const ssize_t n = ::copy_file_range(from, &in, to, nullptr, want, 0);
    if (n == 0) return IoStatus::success();
    if (n > 0) {
      bytes -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
    return errno_status("copy", path, errno);
  }
  std::vector<char> chunk(kCopyChunkBytes);
  while (bytes > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, chunk.size()));
    const ssize_t n = ::pread(from, chunk.data(), want, in);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("read", path, errno);
    if (n == 0) return IoStatus::success();
    const IoStatus status = write_all(to, {chunk.data(), static_cast<std::size_t>(n)}, path);
    if (!status.ok()) return status;
    in += n;
    bytes -= static_cast<std::uint64_t>(n);
  }
  return IoStatus::success();
}

// The body of a spooled message, for maildir_deliver: an fd of its own (closed by the
// copy), where it starts and how long it is.
struct BodySource {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

struct MaildirPaths {
  std::string root, account, tmp_dir, new_dir, cur_dir, tmp_file, new_file;
};

IoStatus deliver_file(const MaildirPaths& p, const std::string& prefix, BodySource body) {
  IoStatus status = make_dirs(p.root, {p.root, p.account});
  if (status.ok()) status = make_dirs(p.account, {p.tmp_dir, p.new_dir, p.cur_dir});
  if (!status.ok()) {
    close_quietly(body.fd);
    return status;
  }
  const int fd = ::open(p.tmp_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    status = errno_status("open", p.tmp_file, errno);
    close_quietly(body.fd);
    return status;
  }
  status = write_all(fd, prefix, p.tmp_file);
  if (status.ok()) status = copy_range(body.fd, body.offset, body.bytes, fd, p.tmp_file);
  close_quietly(body.fd);
  if (status.ok() && ::fsync(fd) != 0) status = errno_status("fsync", p.tmp_file, errno);
  if (::close(fd) != 0 && status.ok()) status = errno_status("close", p.tmp_file, errno);
  if (status.ok() && ::rename(p.tmp_file.c_str(), p.new_file.c_str()) != 0) {
    status = errno_status("rename", p.tmp_file, errno);
  }
  if (!status.ok()) {
    unlink_quietly(p.tmp_file);
    return status;
  }
  return fsync_path(p.new_dir, true);
}

// A missing body here is a broken spool, not a missing message.
IoStatus as_disk_error(IoStatus status) {
  if (!status.ok() && status.error->code == IoErrc::not_found)
    status.error->code = IoErrc::io_error;
  return status;
}

}  // namespace

template <class R, class Work, class Done>
void AsioIo::on_pool(Work work, Done on_done) {
  auto guard = net::make_work_guard(context_);  // run() must not return meanwhile
  std::weak_ptr<int> alive = alive_;
  net::post(pool_, [work = std::move(work), on_done = std::move(on_done), guard = std::move(guard),
                    alive, &context = context_]() mutable {
    R result = work();
    net::post(context, [alive, on_done = std::move(on_done), result = std::move(result)]() mutable {
      if (!alive.expired()) on_done(std::move(result));
    });
    guard.reset();
  });
}

runtime::spool::LogSpool& AsioIo::spool() {
  if (!spool_) {
    std::weak_ptr<int> alive = alive_;
    auto pool = [this](std::function<void()> work, std::function<void()> done) {
      on_pool<int>(
          [work = std::move(work)] {
            work();
            return 0;
          },
          [done = std::move(done)](int) { done(); });
    };
    auto post = [this, alive](std::function<void()> task) {
      net::post(context_, [alive, task = std::move(task)] {
        if (!alive.expired()) task();
      });
    };
    files_ = std::make_shared<PosixFileOps>(std::move(pool), std::move(post),
                                            options_.spool_inline_sync_max);
    runtime::spool::LogSpoolOptions spool_options;
    spool_options.dir = options_.spool_dir;
    spool_options.file_bytes_max = options_.spool_file_bytes_max;
    spool_options.inline_body_max = options_.spool_inline_body_max;
    spool_options.segment_bytes = options_.spool_segment_bytes;
    spool_options.first_writer_id = std::uint64_t{1} << 48;  // apart from next_id_'s ids
    spool_ = std::make_unique<runtime::spool::LogSpool>(*this, files_, std::move(spool_options));
  }
  return *spool_;
}

AsioIo::SpoolSyncCounts AsioIo::spool_sync_counts() const {
  if (!files_) return {};
  const auto counts = files_->sync_counts();
  return {counts.on_engine, counts.on_pool};
}

// ---- The spool operations of runtime::Io.

IoResult<runtime::SpoolWriterId> AsioIo::spool_create(std::string_view id) {
  return spool().create(id);
}

IoStatus AsioIo::spool_append(runtime::SpoolWriterId id, std::span<const char> bytes) {
  return spool().append(id, bytes);
}

void AsioIo::spool_commit(runtime::SpoolWriterId id, std::string envelope, StatusHandler on_done) {
  spool().commit(id, std::move(envelope), std::move(on_done));
}

void AsioIo::spool_discard(runtime::SpoolWriterId id) {
  spool().discard(id);
}

void AsioIo::spool_update_envelope(std::string_view id, std::string envelope,
                                   StatusHandler on_done) {
  spool().update_envelope(id, std::move(envelope), std::move(on_done));
}

IoResult<std::vector<runtime::SpoolEntry>> AsioIo::spool_list() {
  return spool().list();
}

IoResult<std::string> AsioIo::spool_read_body(std::string_view id) {
  return spool().read_body(id);
}

void AsioIo::spool_remove(std::string_view id, StatusHandler on_done) {
  spool().remove(id, std::move(on_done));
}

void AsioIo::maildir_deliver(std::string_view account, std::string prefix,
                             std::string_view spool_id, DeliverHandler on_done) {
  if (!valid_account(account) || !runtime::valid_spool_id(spool_id)) {
    net::post(context_, [on_done = std::move(on_done)] {
      on_done(io_failure(IoErrc::invalid, "maildir_deliver: bad account or spool id"));
    });
    return;
  }
  const auto since = std::chrono::system_clock::now().time_since_epoch();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since).count();
  const std::string name = std::to_string(micros / 1'000'000) + ".M" +
                           std::to_string(micros % 1'000'000) + "P" + std::to_string(::getpid()) +
                           "Q" + std::to_string(++temp_counter_) + "." + host_name_;
  MaildirPaths p;
  p.root = options_.maildir_dir;
  p.account = p.root + "/" + std::string(account);
  p.tmp_dir = p.account + "/tmp";
  p.new_dir = p.account + "/new";
  p.cur_dir = p.account + "/cur";
  p.tmp_file = p.tmp_dir + "/" + name;
  p.new_file = p.new_dir + "/" + name;
  auto place = spool().body_place(spool_id);
  if (!place) {
    net::post(context_, [on_done = std::move(on_done), failed = place.error()] {
      on_done(io_failure(failed.code, "maildir_deliver: " + failed.detail));
    });
    return;
  }
  // An fd of the job's own: a relocation may delete the segment while the copy runs.
  BodySource body;
  const bool in_log = place->file >= 0;
  body.fd = in_log ? ::fcntl(static_cast<int>(place->file), F_DUPFD_CLOEXEC, 0)
                   : ::open(place->path.c_str(), O_RDONLY | O_CLOEXEC);
  body.offset = place->offset;
  body.bytes = place->bytes;
  const std::string& path = place->path;
  if (body.fd < 0) {
    const IoStatus failed = as_disk_error(errno_status("open", path, errno));
    net::post(context_, [on_done = std::move(on_done), failed] {
      on_done(io_failure(failed.error->code, failed.error->detail));
    });
    return;
  }
  on_pool<IoResult<std::string>>(
      [p = std::move(p), prefix = std::move(prefix), name, body]() -> IoResult<std::string> {
        const IoStatus status = deliver_file(p, prefix, body);
        if (!status.ok()) return io_failure(status.error->code, status.error->detail);
        return name;
      },
      std::move(on_done));
}

}  // namespace tern::adapters::asio
