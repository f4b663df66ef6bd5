// AsioIo: the spool (a log of records, docs/spool.md) and the Maildir store. Record writes
// are synchronous on the engine thread (the page cache absorbs them, and the log's order is
// the order of the calls); everything that fsyncs runs on the pool, and pool work never
// touches AsioIo's members (it runs beside the engine): it gets values and shared_ptrs.
#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "adapters/asio/asio_internal.hpp"
#include "adapters/asio/spool_log.hpp"

namespace tern::adapters::asio {

namespace net = boost::asio;
using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;

namespace {

constexpr std::size_t spool_id_max = 64;
constexpr std::size_t account_max = 255;
constexpr std::size_t copy_chunk_bytes = 64 * 1024;

bool valid_spool_id(std::string_view id) {
  if (id.empty() || id.size() > spool_id_max) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

bool valid_account(std::string_view account) {
  return !account.empty() && account.size() <= account_max && account.front() != '.' &&
         account.find('/') == std::string_view::npos &&
         account.find('\0') == std::string_view::npos;
}

IoStatus errno_status(std::string_view what, const std::string& path, int error) {
  const IoErrc code = (error == ENOSPC || error == EDQUOT) ? IoErrc::no_space
                      : error == ENOENT                    ? IoErrc::not_found
                                                           : IoErrc::io_error;
  return IoStatus::failure(code, errno_detail(std::string(what) + " " + path, error));
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

IoStatus fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return rc == 0 ? IoStatus::success() : errno_status("fsync", path, error);
}

IoResult<std::string> read_file(const std::string& path, std::uint64_t bytes_max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return IoResult<std::string>(io_failure(errno == ENOENT ? IoErrc::not_found : IoErrc::io_error,
                                            errno_detail("open " + path, errno)));
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) <= bytes_max) {
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  char chunk[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return io_failure(IoErrc::io_error, errno_detail("read " + path, error));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > bytes_max) {
      ::close(fd);
      return io_failure(IoErrc::io_error, "read " + path + ": larger than the limit");
    }
    out.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// mkdir that accepts an existing folder; `created` tells the caller to fsync the parent.
IoStatus make_dir(const std::string& path, bool& created) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    created = true;
    return IoStatus::success();
  }
  if (errno == EEXIST) return IoStatus::success();
  return errno_status("mkdir", path, errno);
}

// Creates each folder in order (each one the parent of the next ones or a sibling under
// the first), fsyncing a parent whose entries changed so the layout survives a crash.
IoStatus make_dirs(const std::string& parent, const std::vector<std::string>& children) {
  bool created = false;
  for (const auto& child : children) {
    const IoStatus status = make_dir(child, created);
    if (!status.ok()) return status;
  }
  return created ? fsync_path(parent, true) : IoStatus::success();
}

// Writes every part at `offset` (pwritev, retried on short writes and EINTR).
IoStatus pwrite_all(int fd, std::initializer_list<std::string_view> parts, std::uint64_t offset,
                    const std::string& path) {
  std::vector<iovec> iov;
  for (const std::string_view part : parts) {
    if (!part.empty()) iov.push_back({const_cast<char*>(part.data()), part.size()});
  }
  std::size_t first = 0;
  while (first < iov.size()) {
    const ssize_t n = ::pwritev(fd, iov.data() + first, static_cast<int>(iov.size() - first),
                                static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("write", path, errno);
    if (n == 0) return IoStatus::failure(IoErrc::io_error, "write " + path + ": wrote nothing");
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

IoResult<std::string> pread_exact(int fd, std::uint64_t offset, std::uint64_t bytes,
                                  const std::string& path) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_failure(IoErrc::io_error, errno_detail("read " + path, errno));
    if (n == 0) return io_failure(IoErrc::io_error, "read " + path + ": ends early");
    done += static_cast<std::size_t>(n);
  }
  return out;
}

// Small records are written over zeros the file already holds: on ext4 an fdatasync after
// a write that grows the file also writes the inode (a second disk write before the cache
// flush), one over allocated bytes does not. Measured here (virtio disk, ext4, 1.2 KB
// records): fdatasync 0.17-0.20 ms after an append, 0.11 ms after an overwrite. So the
// current segment is extended by zero_ahead_bytes of zeros at a time (for 1 KB records,
// about 1 KB more written per record), and a record larger than zero_ahead_record_max
// simply extends the file: zeroing ahead of it would write its bytes twice for a saving it
// does not need. The zeros are harmless to a reader: a header of zeros is not a record, so
// reading stops there as at the end of the log.
constexpr std::uint64_t zero_ahead_bytes = 1024 * 1024;
constexpr std::uint64_t zero_ahead_record_max = 64 * 1024;

// Writes zeros over [from, to) of the file.
IoStatus write_zeros(int fd, std::uint64_t from, std::uint64_t to, const std::string& path) {
  static char zeros[64 * 1024];  // .bss: read-only use maps the kernel's zero page
  while (from < to) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(to - from, sizeof zeros));
    const IoStatus status = pwrite_all(fd, {std::string_view(zeros, n)}, from, path);
    if (!status.ok()) return status;
    from += n;
  }
  return IoStatus::success();
}

// "0000000000000001.log" -> 1; nullopt for any other name.
std::optional<std::uint64_t> segment_number(std::string_view name) {
  constexpr std::string_view suffix = ".log";
  if (name.size() != 16 + suffix.size() || name.substr(16) != suffix) return std::nullopt;
  std::uint64_t number = 0;
  for (const char c : name.substr(0, 16)) {
    const int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    number = number * 16 + static_cast<std::uint64_t>(digit);
  }
  return number;
}

std::string segment_name(std::uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.log", static_cast<unsigned long long>(number));
  return name;
}

// The names in a folder; fails when it cannot be read.
IoResult<std::vector<std::string>> list_dir(const std::string& path) {
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

// fsync the spilled body, close it, rename it to body/<id>, fsync body/.
IoStatus settle_external_body(int fd, const std::string& tmp, const std::string& final_path,
                              const std::string& dir) {
  IoStatus status = ::fsync(fd) == 0 ? IoStatus::success() : errno_status("fsync", tmp, errno);
  if (::close(fd) != 0 && status.ok()) status = errno_status("close", tmp, errno);
  if (status.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    status = errno_status("rename", tmp, errno);
  }
  if (!status.ok()) {
    unlink_quietly(tmp);
    return status;
  }
  status = fsync_path(dir, true);
  if (!status.ok()) unlink_quietly(final_path);
  return status;
}

void ref(const AsioIo::Located& where) {
  if (!where.segment) return;
  ++where.segment->refs;
  where.segment->live_bytes += where.bytes;
}

void unref(const AsioIo::Located& where) {
  if (!where.segment) return;
  --where.segment->refs;
  where.segment->live_bytes -= where.bytes;
}

bool same_place(const AsioIo::Located& a, const AsioIo::Located& b) {
  return a.segment == b.segment && a.offset == b.offset;
}

// Drops one pinned location equal to `where` (see LiveMessage::pinned).
void unpin(AsioIo::LiveMessage& message, const AsioIo::Located& where) {
  if (!where.segment) return;
  for (auto it = message.pinned.begin(); it != message.pinned.end(); ++it) {
    if (same_place(*it, where)) {
      unref(*it);
      message.pinned.erase(it);
      return;
    }
  }
}

void release_all(AsioIo::LiveMessage& message) {
  unref(message.envelope);
  unref(message.body);
  for (const auto& where : message.pinned) unref(where);
  message.pinned.clear();
}

// Replays the records of one segment into `live` (and the envelopes' bytes into
// `envelopes`): commit creates or replaces, envelope replaces a live one's, remove ends it.
void replay(const spool_log::Scan& scan, const std::shared_ptr<AsioIo::Segment>& segment,
            std::map<std::string, AsioIo::LiveMessage>& live,
            std::map<std::string, std::string>& envelopes) {
  using spool_log::RecordKind;
  for (const auto& record : scan.records) {
    const std::string id(record.id);
    const AsioIo::Located envelope{segment, record.envelope_offset, record.envelope.size()};
    switch (record.kind) {
      case RecordKind::commit: {
        AsioIo::LiveMessage message;
        message.envelope = envelope;
        if ((record.flags & spool_log::flag_external_body) == 0) {
          message.body = AsioIo::Located{segment, record.body_offset, record.body_bytes};
        }
        live[id] = std::move(message);
        envelopes[id] = std::string(record.envelope);
        break;
      }
      case RecordKind::envelope:
        if (auto it = live.find(id); it != live.end()) {
          it->second.envelope = envelope;
          envelopes[id] = std::string(record.envelope);
        }
        break;
      case RecordKind::remove:
        live.erase(id);
        envelopes.erase(id);
        break;
    }
  }
}

// Copies `bytes` (to the end of the file when max) from `from` at `offset` to `to`.
IoStatus copy_range(int from, std::uint64_t offset, std::uint64_t bytes, int to,
                    const std::string& path) {
  auto in = static_cast<off_t>(offset);
  while (bytes > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes, copy_chunk_bytes));
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
  std::vector<char> chunk(copy_chunk_bytes);
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

IoResult<std::string> as_disk_result(IoResult<std::string> result) {
  if (!result && result.error().code == IoErrc::not_found) {
    return io_failure(IoErrc::io_error, result.error().detail);
  }
  return result;
}
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

AsioIo::Writer::~Writer() {
  if (fd >= 0) ::close(fd);
}

AsioIo::Segment::~Segment() {
  if (fd >= 0) ::close(fd);
}

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

void AsioIo::post_status(StatusHandler on_done, IoStatus status) {
  net::post(context_,
            [on_done = std::move(on_done), status = std::move(status)] { on_done(status); });
}

std::string AsioIo::spool_path(std::string_view folder, std::string_view name) const {
  std::string path = options_.spool_dir;
  path += '/';
  path += folder;
  if (!name.empty()) {
    path += '/';
    path += name;
  }
  return path;
}

// ---- The log: loading, appending, group commit, relocation, deletion.

IoStatus AsioIo::spool_open() {
  if (!spool_ || !spool_->loaded) {
    auto loaded = spool_load();
    return loaded ? IoStatus::success()
                  : IoStatus::failure(loaded.error().code, loaded.error().detail);
  }
  return IoStatus::success();
}

IoResult<std::vector<runtime::SpoolEntry>> AsioIo::spool_load() {
  if (!spool_) spool_ = std::make_shared<Spool>(context_);
  Spool& s = *spool_;
  const IoStatus made = make_dirs(
      options_.spool_dir,
      {options_.spool_dir, spool_path("tmp", ""), spool_path("log", ""), spool_path("body", "")});
  if (!made.ok()) return io_failure(made.error->code, made.error->detail);
  std::set<std::string> receiving;  // spilled bodies of writers still open
  for (const auto& [writer_id, writer] : writers_) {
    if (writer->fd >= 0) receiving.insert(writer->id + ".body.tmp");
  }
  auto tmp_names = list_dir(spool_path("tmp", ""));
  if (!tmp_names) return io_failure(tmp_names.error().code, tmp_names.error().detail);
  for (const auto& name : *tmp_names) {
    if (receiving.count(name) == 0) ::unlink(spool_path("tmp", name).c_str());
  }
  auto log_names = list_dir(spool_path("log", ""));
  if (!log_names) return io_failure(log_names.error().code, log_names.error().detail);
  std::map<std::uint64_t, std::shared_ptr<Segment>> segments;
  for (const auto& name : *log_names) {
    const auto number = segment_number(name);
    if (!number) continue;
    if (const auto known = s.segments.find(*number); known != s.segments.end()) {
      segments[*number] = known->second;
      continue;
    }
    auto segment = std::make_shared<Segment>();
    segment->number = *number;
    segment->path = spool_path("log", name);
    segment->fd = ::open(segment->path.c_str(), O_RDWR | O_CLOEXEC);
    if (segment->fd < 0)
      return io_failure(IoErrc::io_error, errno_detail("open " + segment->path, errno));
    segment->sealed = true;  // an earlier run's: read, never appended to
    segments[*number] = std::move(segment);
  }
  std::map<std::string, LiveMessage> live;
  std::map<std::string, std::string> envelopes;
  for (const auto& [number, segment] : segments) {
    struct stat st {};
    if (::fstat(segment->fd, &st) != 0) {
      return io_failure(IoErrc::io_error, errno_detail("stat " + segment->path, errno));
    }
    auto bytes = pread_exact(segment->fd, 0, static_cast<std::uint64_t>(st.st_size), segment->path);
    if (!bytes) return io_failure(bytes.error().code, bytes.error().detail);
    const spool_log::Scan scan = spool_log::scan_segment(*bytes);
    if (segment->sealed) segment->written = segment->synced = scan.valid_bytes;
    replay(scan, segment, live, envelopes);
  }
  auto body_names = list_dir(spool_path("body", ""));
  if (!body_names) return io_failure(body_names.error().code, body_names.error().detail);
  const std::set<std::string> bodies(body_names->begin(), body_names->end());
  for (auto it = live.begin(); it != live.end();) {
    // An external body's rename was made durable before its commit record was written, so
    // a missing one means the record survived a failed commit (no 250 was sent for it).
    const bool lost = !it->second.body.segment && bodies.count(it->first) == 0;
    if (lost) envelopes.erase(it->first);
    it = lost ? live.erase(it) : std::next(it);
  }
  for (const auto& name : bodies) {
    const auto it = live.find(name);
    const bool owned =
        (it != live.end() && !it->second.body.segment) || s.committing.count(name) > 0;
    if (!owned) ::unlink(spool_path("body", name).c_str());
  }
  for (auto& [number, segment] : segments) {
    segment->refs = 0;
    segment->live_bytes = 0;
  }
  s.live.clear();
  for (auto& [id, message] : live) {
    ref(message.envelope);
    ref(message.body);
    s.live.emplace(id, std::move(message));
  }
  s.segments = std::move(segments);
  s.loaded = true;
  const IoStatus started = start_segment();  // never append after a possibly torn tail
  if (!started.ok()) return io_failure(started.error->code, started.error->detail);
  collect_segments();
  std::vector<runtime::SpoolEntry> entries;
  entries.reserve(envelopes.size());
  for (auto& [id, envelope] : envelopes)
    entries.push_back(runtime::SpoolEntry{id, std::move(envelope)});
  return entries;
}

IoStatus AsioIo::start_segment() {
  Spool& s = *spool_;
  const std::uint64_t number = s.segments.empty() ? 1 : s.segments.rbegin()->first + 1;
  auto segment = std::make_shared<Segment>();
  segment->number = number;
  segment->path = spool_path("log", segment_name(number));
  segment->fd = ::open(segment->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (segment->fd < 0) return as_disk_error(errno_status("create", segment->path, errno));
  // The new name must be durable before any record in it is acknowledged.
  const IoStatus synced = fsync_path(spool_path("log", ""), true);
  if (!synced.ok()) {
    unlink_quietly(segment->path);
    return as_disk_error(synced);
  }
  if (s.current) s.current->sealed = true;  // finished: only read from now on
  s.segments[number] = segment;
  s.current = std::move(segment);
  return IoStatus::success();
}

IoResult<AsioIo::Appended> AsioIo::append_record(spool_log::RecordKind kind, std::uint8_t flags,
                                                 std::string_view id, std::string_view envelope,
                                                 std::string_view body) {
  Spool& s = *spool_;
  bool rotated = false;
  if (!s.current || s.current->sealed || s.current->written >= options_.spool_segment_bytes) {
    const IoStatus started = start_segment();
    const bool full_but_sound = s.current && !s.current->sealed;
    if (!started.ok() && !full_but_sound) {
      return io_failure(started.error->code, started.error->detail);
    }
    // A disk too full for a new file may still take a record in the current one.
    rotated = started.ok();
  }
  std::shared_ptr<Segment> segment = s.current;
  const auto header = spool_log::encode_header(kind, flags, id, envelope, body);
  const std::uint64_t record_bytes = header.size() + id.size() + envelope.size() + body.size();
  const std::uint64_t record_end = segment->written + record_bytes;
  if (record_end > segment->prepared && record_bytes <= zero_ahead_record_max) {
    // Up to the rotation size only (the last records before it are appended).
    const std::uint64_t target =
        std::min(record_end + zero_ahead_bytes, options_.spool_segment_bytes);
    // A failure here is not the record's: it is written as an append below, and zeros
    // that did get written are past every record, where the log ends anyway.
    if (target > record_end &&
        write_zeros(segment->fd, segment->prepared, target, segment->path).ok()) {
      segment->prepared = target;
    }
  }
  const IoStatus written =
      pwrite_all(segment->fd, {{header.data(), header.size()}, id, envelope, body},
                 segment->written, segment->path);
  if (!written.ok()) {
    segment->sealed = true;  // the next record starts a new segment, after no torn one
    (void)::ftruncate(segment->fd, static_cast<off_t>(segment->written));
    const IoStatus failed = as_disk_error(written);
    return io_failure(failed.error->code, failed.error->detail);
  }
  Appended appended;
  appended.segment = segment;
  appended.envelope_offset = segment->written + header.size() + id.size();
  appended.body_offset = appended.envelope_offset + envelope.size();
  appended.end = appended.body_offset + body.size();
  segment->written = appended.end;
  segment->prepared = std::max(segment->prepared, appended.end);
  if (rotated) {
    std::weak_ptr<int> alive = alive_;
    net::post(context_, [this, alive] {
      if (alive.expired()) return;
      relocate_oldest();
      collect_segments();
    });
  }
  return appended;
}

void AsioIo::when_durable(const std::shared_ptr<Segment>& segment, std::uint64_t end,
                          StatusHandler on_done, bool urgent) {
  if (segment->synced >= end) {
    post_status(std::move(on_done), IoStatus::success());
    return;
  }
  // A few lazy records are enough to start one: a queue draining without new mail (every
  // delivery ends in a removal, and a finished message keeps its delivery slot until its
  // removal is durable) must not be paced by the timer.
  constexpr std::size_t lazy_batch = 4;
  segment->waiters.push_back(Segment::Waiter{end, std::move(on_done), urgent});
  if (urgent || segment->waiters.size() >= lazy_batch) {
    sync_segment(segment);
  } else {
    arm_lazy_sync();
  }
}

void AsioIo::arm_lazy_sync() {
  constexpr auto delay = std::chrono::milliseconds(20);
  Spool& s = *spool_;
  if (s.lazy_sync_armed) return;
  s.lazy_sync_armed = true;
  s.lazy_sync.expires_after(delay);
  std::weak_ptr<int> alive = alive_;
  s.lazy_sync.async_wait([this, alive](const boost::system::error_code& error) {
    if (alive.expired() || error) return;
    spool_->lazy_sync_armed = false;
    std::vector<std::shared_ptr<Segment>> pending;
    for (const auto& [number, segment] : spool_->segments) {
      if (!segment->waiters.empty()) pending.push_back(segment);
    }
    for (const auto& segment : pending) sync_segment(segment);
  });
}

// Group commit: one fdatasync at a time per segment covers every record written before it
// began; the records that arrive meanwhile wait for the next one.
//
// Where it runs: on the pool, so that the engine goes on reading, parsing and writing the
// records that the next fdatasync will cover. But handing it to a pool thread and its
// result back costs two thread wake-ups, and when nothing else is going on (one client
// sending one message at a time: each waits for the 250) those are pure latency. So an
// urgent fdatasync runs on the engine thread itself when the disk is fast (its recent
// fdatasyncs took under spool_inline_sync_max, 1 ms: how long the engine may block) and
// idle (none running, the last one answered at most one commit, and it ended longer ago
// than twice such an fdatasync takes). Under load fdatasyncs follow each other at once and
// each answers several commits, so they stay on the pool.
// Measured at one session: the end-of-DATA -> 250 median fell from 0.37-0.40 ms to
// 0.29-0.35 ms; always inline cost a third of the throughput at 10 and 50 sessions.
void AsioIo::sync_segment(const std::shared_ptr<Segment>& segment) {
  using Clock = std::chrono::steady_clock;
  if (segment->sync_running || segment->waiters.empty()) return;
  Spool& s = *spool_;
  segment->sync_running = true;
  const std::uint64_t target = segment->written;
  auto sync = [segment] {
    const auto start = Clock::now();
    const IoStatus status = ::fdatasync(segment->fd) == 0
                                ? IoStatus::success()
                                : as_disk_error(errno_status("fdatasync", segment->path, errno));
    return std::make_pair(status, Clock::now() - start);
  };
  const bool urgent = std::any_of(segment->waiters.begin(), segment->waiters.end(),
                                  [](const Segment::Waiter& w) { return w.urgent; });
  const bool other_running =
      std::any_of(s.segments.begin(), s.segments.end(), [&](const auto& numbered) {
        return numbered.second != segment && numbered.second->sync_running;
      });
  const bool idle = !other_running && s.last_sync_answered <= 1 &&
                    Clock::now() - s.last_sync_end > 2 * s.sync_estimate;
  if (urgent && idle && s.sync_estimate < options_.spool_inline_sync_max) {
    ++s.syncs_inline;
    std::weak_ptr<int> alive = alive_;
    net::post(context_, [this, alive, segment, target, result = sync()] {
      if (!alive.expired()) finish_sync(segment, target, result.first, result.second);
    });
    return;
  }
  ++s.syncs_pooled;
  on_pool<std::pair<IoStatus, Clock::duration>>(
      std::move(sync), [this, segment, target](std::pair<IoStatus, Clock::duration> result) {
        finish_sync(segment, target, std::move(result.first), result.second);
      });
}

AsioIo::SpoolSyncCounts AsioIo::spool_sync_counts() const {
  if (!spool_) return {};
  return {spool_->syncs_inline, spool_->syncs_pooled};
}

void AsioIo::finish_sync(const std::shared_ptr<Segment>& segment, std::uint64_t target,
                         IoStatus status, std::chrono::nanoseconds took) {
  Spool& s = *spool_;
  s.last_sync_end = std::chrono::steady_clock::now();
  s.sync_estimate = (s.sync_estimate * 7 + took) / 8;
  segment->sync_running = false;
  std::vector<StatusHandler> done;
  auto& waiters = segment->waiters;
  if (status.ok()) {
    segment->synced = std::max(segment->synced, target);
  } else {
    segment->sealed = true;  // after a failed fdatasync nothing in it is trusted
  }
  bool urgent_left = false;
  s.last_sync_answered = 0;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (!status.ok() || it->end <= target) {
      s.last_sync_answered += it->urgent ? 1 : 0;
      done.push_back(std::move(it->on_done));
      it = waiters.erase(it);
    } else {
      urgent_left = urgent_left || it->urgent;
      ++it;
    }
  }
  for (auto& on_done : done) on_done(status);
  if (urgent_left) {
    sync_segment(segment);
  } else if (!segment->waiters.empty()) {
    arm_lazy_sync();
  }
  collect_segments();
}

void AsioIo::commit_record(const std::string& id, const std::string& envelope,
                           const std::string& body, bool external, StatusHandler on_done) {
  const IoStatus opened = spool_open();
  if (!opened.ok()) {
    post_status(std::move(on_done), opened);
    return;
  }
  const std::uint8_t flags = external ? spool_log::flag_external_body : 0;
  auto appended = append_record(spool_log::RecordKind::commit, flags, id, envelope, body);
  if (!appended) {
    post_status(std::move(on_done),
                IoStatus::failure(appended.error().code, appended.error().detail));
    return;
  }
  const Located where_envelope{appended->segment, appended->envelope_offset, envelope.size()};
  const Located where_body =
      external ? Located{} : Located{appended->segment, appended->body_offset, body.size()};
  when_durable(
      appended->segment, appended->end,
      [this, id, where_envelope, where_body, on_done = std::move(on_done)](IoStatus status) {
        if (status.ok()) {
          LiveMessage message;
          message.envelope = where_envelope;
          message.body = where_body;
          ref(message.envelope);
          ref(message.body);
          spool_->live[id] = std::move(message);
        } else {
          // The record may still reach the disk: say it is gone, in case it does.
          (void)append_record(spool_log::RecordKind::remove, 0, id, "", "");
        }
        on_done(status);
      });
}

// Space: a message deferred for days keeps the segment holding it, and the deletion of
// segments goes oldest first (a remove record must outlive the commit it cancels), so one
// old message would keep every later segment. When the log holds more segments than its
// live data needs (plus slack), the live messages of the oldest one are written again at
// the end, a bounded amount per call, and the oldest one becomes dead.
void AsioIo::relocate_oldest() {
  constexpr std::uint64_t budget_bytes = 4 * 1024 * 1024;  // per event-loop turn
  constexpr std::size_t slack_segments = 3;
  Spool& s = *spool_;
  if (s.segments.size() < slack_segments) return;
  std::uint64_t live_bytes = 0;
  for (const auto& [number, segment] : s.segments) live_bytes += segment->live_bytes;
  if (s.segments.size() <= slack_segments + live_bytes / options_.spool_segment_bytes) return;
  const std::shared_ptr<Segment> oldest = s.segments.begin()->second;
  if (oldest == s.current || oldest->refs == 0) return;
  std::uint64_t copied = 0;
  for (auto& [id, message] : s.live) {
    if (message.removing || message.relocating) continue;
    if (message.envelope.segment != oldest && message.body.segment != oldest) continue;
    if (copied >= budget_bytes) {
      std::weak_ptr<int> alive = alive_;
      net::post(context_, [this, alive] {
        if (!alive.expired()) relocate_oldest();
      });
      return;
    }
    auto envelope = pread_exact(message.envelope.segment->fd, message.envelope.offset,
                                message.envelope.bytes, message.envelope.segment->path);
    if (!envelope) return;
    std::string body;
    if (message.body.segment) {
      auto read = pread_exact(message.body.segment->fd, message.body.offset, message.body.bytes,
                              message.body.segment->path);
      if (!read) return;
      body = std::move(*read);
    }
    const std::uint8_t flags = message.body.segment ? 0 : spool_log::flag_external_body;
    auto appended = append_record(spool_log::RecordKind::commit, flags, id, *envelope, body);
    if (!appended) return;
    copied += envelope->size() + body.size();
    const Located old_envelope = message.envelope;
    const Located old_body = message.body;
    message.pinned.push_back(old_envelope);
    if (old_body.segment) message.pinned.push_back(old_body);
    message.envelope = Located{appended->segment, appended->envelope_offset, envelope->size()};
    message.body = old_body.segment ? Located{appended->segment, appended->body_offset, body.size()}
                                    : Located{};
    ref(message.envelope);
    ref(message.body);
    message.relocating = true;
    when_durable(appended->segment, appended->end,
                 [this, id = id, old_envelope, old_body](IoStatus status) {
                   const auto it = spool_->live.find(id);
                   if (it == spool_->live.end()) return;
                   it->second.relocating = false;
                   if (!status.ok()) return;  // the old copies stay pinned
                   unpin(it->second, old_envelope);
                   unpin(it->second, old_body);
                   collect_segments();
                 });
  }
}

// Deletes dead segments, oldest first and one directory fsync each, so that a crash can
// never bring back an older segment whose records a deleted newer one cancelled.
void AsioIo::collect_segments() {
  Spool& s = *spool_;
  if (s.collecting) return;
  std::vector<std::shared_ptr<Segment>> dead;
  for (const auto& [number, segment] : s.segments) {
    if (segment == s.current || segment->refs > 0 || !segment->waiters.empty() ||
        segment->sync_running) {
      break;
    }
    dead.push_back(segment);
  }
  if (dead.empty()) return;
  s.collecting = true;
  on_pool<std::size_t>(
      [dead, dir = spool_path("log", "")] {
        std::size_t deleted = 0;
        for (const auto& segment : dead) {
          if (::unlink(segment->path.c_str()) != 0 && errno != ENOENT) break;
          if (!fsync_path(dir, true).ok()) break;
          ++deleted;
        }
        return deleted;
      },
      [this, dead](std::size_t deleted) {
        spool_->collecting = false;
        for (std::size_t i = 0; i < deleted; ++i) spool_->segments.erase(dead[i]->number);
        if (deleted == dead.size()) collect_segments();
      });
}

// ---- The spool operations of runtime::Io.

IoResult<runtime::SpoolWriterId> AsioIo::spool_create(std::string_view id) {
  if (!valid_spool_id(id)) return io_failure(IoErrc::invalid, "spool_create: bad id");
  const IoStatus opened = spool_open();
  if (!opened.ok()) return io_failure(opened.error->code, opened.error->detail);
  auto writer = std::make_unique<Writer>();
  writer->id = std::string(id);
  const runtime::SpoolWriterId writer_id = next_id_++;
  writers_.emplace(writer_id, std::move(writer));
  return writer_id;
}

IoStatus AsioIo::spool_append(runtime::SpoolWriterId id, std::span<const char> bytes) {
  const auto it = writers_.find(id);
  if (it == writers_.end())
    return IoStatus::failure(IoErrc::invalid, "spool_append: unknown writer");
  Writer& writer = *it->second;
  if (writer.bytes + bytes.size() > options_.spool_file_bytes_max) {
    return IoStatus::failure(IoErrc::no_space, "spool_append: message larger than the spool limit");
  }
  if (writer.fd < 0 && writer.body.size() + bytes.size() <= options_.spool_inline_body_max) {
    writer.body.append(bytes.data(), bytes.size());  // the common case: no file at all
    writer.bytes += bytes.size();
    return IoStatus::success();
  }
  const std::string path = spool_path("tmp", writer.id + ".body.tmp");
  if (writer.fd < 0) {
    writer.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (writer.fd < 0) return as_disk_error(errno_status("open", path, errno));
    const IoStatus spilled = write_all(writer.fd, writer.body, path);
    if (!spilled.ok()) return as_disk_error(spilled);
    std::string().swap(writer.body);
  }
  const IoStatus status = write_all(writer.fd, bytes, path);
  if (!status.ok()) return as_disk_error(status);
  writer.bytes += bytes.size();
  return IoStatus::success();
}

void AsioIo::spool_commit(runtime::SpoolWriterId id, std::string envelope, StatusHandler on_done) {
  const auto it = writers_.find(id);
  if (it == writers_.end() || envelope.size() > options_.spool_file_bytes_max ||
      envelope.size() > std::numeric_limits<std::uint32_t>::max()) {
    const bool unknown = it == writers_.end();
    if (!unknown) spool_discard(id);
    post_status(std::move(on_done),
                unknown ? IoStatus::failure(IoErrc::invalid, "spool_commit: unknown writer")
                        : IoStatus::failure(IoErrc::no_space, "spool_commit: envelope too large"));
    return;
  }
  std::unique_ptr<Writer> writer = std::move(it->second);
  writers_.erase(it);
  if (writer->fd < 0) {
    commit_record(writer->id, envelope, writer->body, false, std::move(on_done));
    return;
  }
  const std::string mid = writer->id;
  spool_->committing.insert(mid);
  on_pool<IoStatus>(
      [fd = std::exchange(writer->fd, -1), tmp = spool_path("tmp", mid + ".body.tmp"),
       final_path = spool_path("body", mid), dir = spool_path("body", "")] {
        return as_disk_error(settle_external_body(fd, tmp, final_path, dir));
      },
      [this, mid, envelope = std::move(envelope),
       on_done = std::move(on_done)](IoStatus status) mutable {
        spool_->committing.erase(mid);
        if (!status.ok()) {
          on_done(status);
          return;
        }
        commit_record(mid, envelope, "", true,
                      [this, mid, on_done = std::move(on_done)](IoStatus committed) {
                        if (!committed.ok()) ::unlink(spool_path("body", mid).c_str());
                        on_done(committed);
                      });
      });
}

void AsioIo::spool_discard(runtime::SpoolWriterId id) {
  const auto it = writers_.find(id);
  if (it == writers_.end()) return;
  if (it->second->fd >= 0) ::unlink(spool_path("tmp", it->second->id + ".body.tmp").c_str());
  writers_.erase(it);  // closes the file
}

void AsioIo::spool_update_envelope(std::string_view id, std::string envelope,
                                   StatusHandler on_done) {
  if (!valid_spool_id(id) || envelope.size() > options_.spool_file_bytes_max ||
      envelope.size() > std::numeric_limits<std::uint32_t>::max()) {
    post_status(std::move(on_done),
                IoStatus::failure(IoErrc::invalid, "spool_update_envelope: bad id or size"));
    return;
  }
  const IoStatus opened = spool_open();
  if (!opened.ok()) {
    post_status(std::move(on_done), opened);
    return;
  }
  const std::string mid(id);
  const auto it = spool_->live.find(mid);
  if (it == spool_->live.end()) {
    post_status(std::move(on_done),
                IoStatus::failure(IoErrc::not_found, "spool_update_envelope: no message " + mid));
    return;
  }
  auto appended = append_record(spool_log::RecordKind::envelope, 0, mid, envelope, "");
  if (!appended) {
    post_status(std::move(on_done),
                IoStatus::failure(appended.error().code, appended.error().detail));
    return;
  }
  LiveMessage& message = it->second;
  const Located replaced = message.envelope;
  message.pinned.push_back(replaced);  // until the new one is durable
  message.envelope = Located{appended->segment, appended->envelope_offset, envelope.size()};
  ref(message.envelope);
  when_durable(appended->segment, appended->end,
               [this, mid, replaced, on_done = std::move(on_done)](IoStatus status) {
                 const auto found = spool_->live.find(mid);
                 if (status.ok() && found != spool_->live.end()) unpin(found->second, replaced);
                 on_done(status);
               });
}

IoResult<std::vector<runtime::SpoolEntry>> AsioIo::spool_list() {
  return spool_load();
}

IoResult<std::string> AsioIo::spool_read_body(std::string_view id) {
  if (!valid_spool_id(id)) return io_failure(IoErrc::invalid, "spool_read_body: bad id");
  const IoStatus opened = spool_open();
  if (!opened.ok()) return io_failure(opened.error->code, opened.error->detail);
  const auto it = spool_->live.find(std::string(id));
  if (it == spool_->live.end()) {
    return io_failure(IoErrc::not_found, "spool_read_body: no message " + std::string(id));
  }
  const Located& body = it->second.body;
  if (!body.segment) {
    return as_disk_result(
        read_file(spool_path("body", std::string(id)), options_.spool_file_bytes_max));
  }
  return pread_exact(body.segment->fd, body.offset, body.bytes, body.segment->path);
}

void AsioIo::spool_remove(std::string_view id, StatusHandler on_done) {
  if (!valid_spool_id(id)) {
    post_status(std::move(on_done), IoStatus::failure(IoErrc::invalid, "spool_remove: bad id"));
    return;
  }
  const IoStatus opened = spool_open();
  if (!opened.ok()) {
    post_status(std::move(on_done), opened);
    return;
  }
  const std::string mid(id);
  const auto it = spool_->live.find(mid);
  if (it == spool_->live.end() || it->second.removing) {
    post_status(std::move(on_done),
                IoStatus::failure(IoErrc::not_found, "spool_remove: no message " + mid));
    return;
  }
  auto appended = append_record(spool_log::RecordKind::remove, 0, mid, "", "");
  if (!appended) {
    post_status(std::move(on_done),
                IoStatus::failure(appended.error().code, appended.error().detail));
    return;
  }
  it->second.removing = true;
  when_durable(
      appended->segment, appended->end,
      [this, mid, on_done = std::move(on_done)](IoStatus status) {
        const auto found = spool_->live.find(mid);
        if (found != spool_->live.end()) {
          if (status.ok()) {
            const bool external = !found->second.body.segment;
            release_all(found->second);
            spool_->live.erase(found);
            if (external) {
              on_pool<int>([path = spool_path("body", mid)] { return ::unlink(path.c_str()); },
                           [](int) {});
            }
          } else {
            found->second.removing = false;
          }
        }
        on_done(status);
        collect_segments();
      },
      /*urgent=*/false);  // nobody waits for a removal: it rides on the next fdatasync
}

void AsioIo::maildir_deliver(std::string_view account, std::string prefix,
                             std::string_view spool_id, DeliverHandler on_done) {
  if (!valid_account(account) || !valid_spool_id(spool_id)) {
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
  BodySource body;
  const IoStatus opened = spool_open();
  const auto it = opened.ok() ? spool_->live.find(std::string(spool_id)) : spool_->live.end();
  if (!opened.ok() || it == spool_->live.end()) {
    const IoStatus failed =
        opened.ok() ? IoStatus::failure(IoErrc::not_found,
                                        "maildir_deliver: no message " + std::string(spool_id))
                    : opened;
    net::post(context_, [on_done = std::move(on_done), failed] {
      on_done(io_failure(failed.error->code, failed.error->detail));
    });
    return;
  }
  // An fd of the job's own: a relocation may delete the segment while the copy runs.
  const Located& where = it->second.body;
  const std::string path =
      where.segment ? where.segment->path : spool_path("body", std::string(spool_id));
  body.fd = where.segment ? ::fcntl(where.segment->fd, F_DUPFD_CLOEXEC, 0)
                          : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  body.offset = where.segment ? where.offset : 0;
  body.bytes = where.segment ? where.bytes : std::numeric_limits<std::uint64_t>::max();
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
