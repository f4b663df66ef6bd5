// AsioIo: the file-system spool and the Maildir store. Appends are synchronous (the page
// cache absorbs them); everything that fsyncs runs on the pool so that several fsyncs are
// in flight, and never touches AsioIo's members (the pool threads run beside the engine).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <set>

#include "adapters/asio/asio_internal.hpp"

namespace tern::adapters::asio {

namespace net = boost::asio;
using runtime::IoErrc;
using runtime::io_failure;
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
                      : error == ENOENT                   ? IoErrc::not_found
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

// Writes `data` to a new file at `path` and fsyncs it; on failure nothing is left there.
IoStatus write_file_synced(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("open", path, errno);
  IoStatus status = write_all(fd, data, path);
  if (status.ok() && ::fsync(fd) != 0) status = errno_status("fsync", path, errno);
  if (::close(fd) != 0 && status.ok()) status = errno_status("close", path, errno);
  if (!status.ok()) unlink_quietly(path);
  return status;
}

IoResult<std::string> read_file(const std::string& path, std::uint64_t bytes_max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoResult<std::string>(io_failure(
      errno == ENOENT ? IoErrc::not_found : IoErrc::io_error, errno_detail("open " + path, errno)));
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

IoStatus copy_fd(int from, int to, const std::string& path) {
  for (;;) {
    const ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, copy_chunk_bytes, 0);
    if (n == 0) return IoStatus::success();
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
    return errno_status("copy", path, errno);
  }
  std::vector<char> chunk(copy_chunk_bytes);
  for (;;) {
    const ssize_t n = ::read(from, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("read", path, errno);
    if (n == 0) return IoStatus::success();
    const IoStatus status = write_all(to, {chunk.data(), static_cast<std::size_t>(n)}, path);
    if (!status.ok()) return status;
  }
}

struct CommitPaths {
  std::string body_tmp, env_tmp, body_msg, env_msg, msg_dir;
};

// fsync body, write+fsync envelope, rename body then envelope into msg/, fsync msg/.
IoStatus commit_files(int fd, const CommitPaths& p, const std::string& envelope) {
  IoStatus status = ::fsync(fd) == 0 ? IoStatus::success() : errno_status("fsync", p.body_tmp, errno);
  if (::close(fd) != 0 && status.ok()) status = errno_status("close", p.body_tmp, errno);
  if (status.ok()) status = write_file_synced(p.env_tmp, envelope);
  if (!status.ok()) {
    unlink_quietly(p.body_tmp);
    return status;
  }
  if (::rename(p.body_tmp.c_str(), p.body_msg.c_str()) != 0) {
    status = errno_status("rename", p.body_tmp, errno);
    unlink_quietly(p.body_tmp);
    unlink_quietly(p.env_tmp);
    return status;
  }
  if (::rename(p.env_tmp.c_str(), p.env_msg.c_str()) != 0) {
    status = errno_status("rename", p.env_tmp, errno);
    unlink_quietly(p.env_tmp);
    unlink_quietly(p.body_msg);
    return status;
  }
  status = fsync_path(p.msg_dir, true);
  if (!status.ok()) {  // not known durable: take it back so the client retries
    unlink_quietly(p.env_msg);
    unlink_quietly(p.body_msg);
  }
  return status;
}

IoStatus replace_envelope(const std::string& tmp, const std::string& env,
                          const std::string& dir, const std::string& envelope) {
  if (::access(env.c_str(), F_OK) != 0) return errno_status("update", env, errno);
  IoStatus status = write_file_synced(tmp, envelope);
  if (!status.ok()) return status;
  if (::rename(tmp.c_str(), env.c_str()) != 0) {
    status = errno_status("rename", tmp, errno);
    unlink_quietly(tmp);
    return status;
  }
  return fsync_path(dir, true);
}

IoStatus remove_message(const std::string& env, const std::string& body, const std::string& dir) {
  std::optional<IoStatus> missing;
  if (::unlink(env.c_str()) != 0) {
    if (errno != ENOENT) return errno_status("unlink", env, errno);
    missing = errno_status("remove", env, errno);
  }
  if (::unlink(body.c_str()) != 0 && errno != ENOENT) return errno_status("unlink", body, errno);
  const IoStatus synced = fsync_path(dir, true);
  return missing ? *missing : synced;
}

struct MaildirPaths {
  std::string root, account, tmp_dir, new_dir, cur_dir, tmp_file, new_file, body;
};

IoStatus deliver_file(const MaildirPaths& p, const std::string& prefix) {
  IoStatus status = make_dirs(p.root, {p.root, p.account});
  if (status.ok()) status = make_dirs(p.account, {p.tmp_dir, p.new_dir, p.cur_dir});
  if (!status.ok()) return status;
  const int body = ::open(p.body.c_str(), O_RDONLY | O_CLOEXEC);
  if (body < 0) return errno_status("open", p.body, errno);
  const int fd = ::open(p.tmp_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    status = errno_status("open", p.tmp_file, errno);
    close_quietly(body);
    return status;
  }
  status = write_all(fd, prefix, p.tmp_file);
  if (status.ok()) status = copy_fd(body, fd, p.tmp_file);
  close_quietly(body);
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
  if (!status.ok() && status.error->code == IoErrc::not_found) status.error->code = IoErrc::io_error;
  return status;
}

}  // namespace

AsioIo::Writer::~Writer() {
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

IoResult<runtime::SpoolWriterId> AsioIo::spool_create(std::string_view id) {
  if (!valid_spool_id(id)) return io_failure(IoErrc::invalid, "spool_create: bad id");
  const std::string path = spool_path("tmp", std::string(id) + ".body.tmp");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    const IoStatus made =
        make_dirs(options_.spool_dir, {options_.spool_dir, spool_path("tmp", ""), spool_path("msg", "")});
    if (!made.ok()) return io_failure(made.error->code, made.error->detail);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    const IoStatus status = as_disk_error(errno_status("open", path, errno));
    return io_failure(status.error->code, status.error->detail);
  }
  auto writer = std::make_unique<Writer>();
  writer->id = std::string(id);
  writer->fd = fd;
  const runtime::SpoolWriterId writer_id = next_id_++;
  writers_.emplace(writer_id, std::move(writer));
  return writer_id;
}

IoStatus AsioIo::spool_append(runtime::SpoolWriterId id, std::span<const char> bytes) {
  const auto it = writers_.find(id);
  if (it == writers_.end()) return IoStatus::failure(IoErrc::invalid, "spool_append: unknown writer");
  Writer& writer = *it->second;
  if (writer.bytes + bytes.size() > options_.spool_file_bytes_max) {
    return IoStatus::failure(IoErrc::no_space, "spool_append: message larger than the spool limit");
  }
  const IoStatus status = write_all(writer.fd, bytes, spool_path("tmp", writer.id + ".body.tmp"));
  if (status.ok()) writer.bytes += bytes.size();
  return as_disk_error(status);
}

void AsioIo::spool_commit(runtime::SpoolWriterId id, std::string envelope, StatusHandler on_done) {
  const auto it = writers_.find(id);
  if (it == writers_.end() || envelope.size() > options_.spool_file_bytes_max) {
    const bool unknown = it == writers_.end();
    if (!unknown) spool_discard(id);
    net::post(context_, [on_done = std::move(on_done), unknown] {
      on_done(unknown ? IoStatus::failure(IoErrc::invalid, "spool_commit: unknown writer")
                      : IoStatus::failure(IoErrc::no_space, "spool_commit: envelope too large"));
    });
    return;
  }
  std::unique_ptr<Writer> writer = std::move(it->second);
  writers_.erase(it);
  const std::string& mid = writer->id;
  CommitPaths paths{spool_path("tmp", mid + ".body.tmp"),
                    spool_path("tmp", mid + ".env." + std::to_string(++temp_counter_) + ".tmp"),
                    spool_path("msg", mid + ".body"), spool_path("msg", mid + ".env"),
                    spool_path("msg", "")};
  const int fd = std::exchange(writer->fd, -1);
  on_pool<IoStatus>(
      [fd, paths = std::move(paths), envelope = std::move(envelope)] {
        return as_disk_error(commit_files(fd, paths, envelope));
      },
      std::move(on_done));
}

void AsioIo::spool_discard(runtime::SpoolWriterId id) {
  const auto it = writers_.find(id);
  if (it == writers_.end()) return;
  ::unlink(spool_path("tmp", it->second->id + ".body.tmp").c_str());
  writers_.erase(it);  // closes the file
}

void AsioIo::spool_update_envelope(std::string_view id, std::string envelope,
                                   StatusHandler on_done) {
  if (!valid_spool_id(id) || envelope.size() > options_.spool_file_bytes_max) {
    net::post(context_, [on_done = std::move(on_done)] {
      on_done(IoStatus::failure(IoErrc::invalid, "spool_update_envelope: bad id or size"));
    });
    return;
  }
  const std::string mid(id);
  on_pool<IoStatus>(
      [tmp = spool_path("tmp", mid + ".env." + std::to_string(++temp_counter_) + ".tmp"),
       env = spool_path("msg", mid + ".env"), dir = spool_path("msg", ""),
       envelope = std::move(envelope)] { return replace_envelope(tmp, env, dir, envelope); },
      std::move(on_done));
}

namespace {

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

// "<id>.env" -> id, "<id>.body" -> id (with is_env telling which); nullopt otherwise.
std::optional<std::string> message_id(std::string_view name, bool& is_env) {
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view id = name.substr(0, dot);
  const std::string_view kind = name.substr(dot + 1);
  if (!valid_spool_id(id) || (kind != "env" && kind != "body")) return std::nullopt;
  is_env = kind == "env";
  return std::string(id);
}

}  // namespace

IoResult<std::vector<runtime::SpoolEntry>> AsioIo::spool_list() {
  const IoStatus made =
      make_dirs(options_.spool_dir, {options_.spool_dir, spool_path("tmp", ""), spool_path("msg", "")});
  if (!made.ok()) return io_failure(made.error->code, made.error->detail);
  auto tmp_names = list_dir(spool_path("tmp", ""));
  if (!tmp_names) return io_failure(tmp_names.error().code, tmp_names.error().detail);
  for (const auto& name : *tmp_names) ::unlink(spool_path("tmp", name).c_str());
  auto msg_names = list_dir(spool_path("msg", ""));
  if (!msg_names) return io_failure(msg_names.error().code, msg_names.error().detail);
  std::set<std::string> envs;
  std::set<std::string> bodies;
  for (const auto& name : *msg_names) {
    bool is_env = false;
    if (auto id = message_id(name, is_env)) (is_env ? envs : bodies).insert(std::move(*id));
  }
  for (const auto& id : bodies) {
    if (envs.count(id) == 0) ::unlink(spool_path("msg", id + ".body").c_str());  // no commit
  }
  std::vector<runtime::SpoolEntry> entries;
  entries.reserve(envs.size());
  for (const auto& id : envs) {  // std::set: sorted by id
    auto envelope = read_file(spool_path("msg", id + ".env"), options_.spool_file_bytes_max);
    if (!envelope) return io_failure(IoErrc::io_error, envelope.error().detail);
    entries.push_back(runtime::SpoolEntry{id, std::move(*envelope)});
  }
  return entries;
}

IoResult<std::string> AsioIo::spool_read_body(std::string_view id) {
  if (!valid_spool_id(id)) return io_failure(IoErrc::invalid, "spool_read_body: bad id");
  if (::access(spool_path("msg", std::string(id) + ".env").c_str(), F_OK) != 0) {
    return io_failure(IoErrc::not_found, "spool_read_body: no message " + std::string(id));
  }
  return read_file(spool_path("msg", std::string(id) + ".body"), options_.spool_file_bytes_max);
}

void AsioIo::spool_remove(std::string_view id, StatusHandler on_done) {
  if (!valid_spool_id(id)) {
    net::post(context_, [on_done = std::move(on_done)] {
      on_done(IoStatus::failure(IoErrc::invalid, "spool_remove: bad id"));
    });
    return;
  }
  const std::string mid(id);
  on_pool<IoStatus>([env = spool_path("msg", mid + ".env"), body = spool_path("msg", mid + ".body"),
                     dir = spool_path("msg", "")] { return remove_message(env, body, dir); },
                    std::move(on_done));
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
  p.body = spool_path("msg", std::string(spool_id) + ".body");
  on_pool<IoResult<std::string>>(
      [p = std::move(p), prefix = std::move(prefix), name]() -> IoResult<std::string> {
        const IoStatus status = deliver_file(p, prefix);
        if (!status.ok()) return io_failure(status.error->code, status.error->detail);
        return name;
      },
      std::move(on_done));
}

}  // namespace tern::adapters::asio
