#include "adapters/sim/sim_disk.hpp"

#include <algorithm>
#include <set>

namespace tern::adapters::sim {

using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoResult;
using runtime::IoStatus;
using runtime::spool::OpenMode;

namespace {

void apply(std::string& to, const std::string& bytes, std::uint64_t offset, bool truncate) {
  if (truncate) {
    to.resize(static_cast<std::size_t>(offset));
    return;
  }
  const auto end = static_cast<std::size_t>(offset) + bytes.size();
  if (to.size() < end) to.resize(end);
  std::copy(bytes.begin(), bytes.end(), to.begin() + static_cast<std::ptrdiff_t>(offset));
}

IoStatus missing(const std::string& what, const std::string& path) {
  return IoStatus::failure(IoErrc::not_found, what + " " + path + ": No such file or directory");
}

}  // namespace

SimDisk::Folder* SimDisk::folder_of(const std::string& path, std::string& name) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return nullptr;
  name = path.substr(slash + 1);
  const auto it = folders_.find(path.substr(0, slash));
  return it == folders_.end() ? nullptr : &it->second;
}

const SimDisk::Folder* SimDisk::folder_of(const std::string& path, std::string& name) const {
  return const_cast<SimDisk*>(this)->folder_of(path, name);
}

SimDisk::Inode* SimDisk::inode_of(File file) {
  const auto it = open_.find(file);
  return it == open_.end() ? nullptr : &inodes_.at(it->second);
}

const SimDisk::Inode* SimDisk::inode_of(File file) const {
  return const_cast<SimDisk*>(this)->inode_of(file);
}

void SimDisk::collect() {
  std::set<std::uint64_t> used;
  for (const auto& [path, folder] : folders_) {
    for (const auto& [name, ino] : folder.now) used.insert(ino);
    for (const auto& [name, ino] : folder.durable) used.insert(ino);
  }
  for (const auto& [file, ino] : open_) used.insert(ino);
  for (auto it = inodes_.begin(); it != inodes_.end();)
    it = used.count(it->first) != 0 ? std::next(it) : inodes_.erase(it);
}

std::uint64_t SimDisk::used() const {
  std::uint64_t total = 0;
  for (const auto& [ino, inode] : inodes_) total += inode.data.size();
  return total;
}

IoStatus SimDisk::make_dir(const std::string& path, bool& created) {
  if (folders_.count(path) != 0) return IoStatus::success();
  const auto slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
  if (!parent.empty() && folders_.count(parent) == 0) return missing("mkdir", path);
  folders_[path];
  created = true;
  return IoStatus::success();
}

IoStatus SimDisk::sync_dir(const std::string& path) {
  const auto it = folders_.find(path);
  if (it == folders_.end()) return missing("fsync", path);
  if (it->second.durable != it->second.now) {
    it->second.durable = it->second.now;
    ++generation_;
    collect();
  }
  return IoStatus::success();
}

IoResult<std::vector<std::string>> SimDisk::list_dir(const std::string& path) const {
  const auto it = folders_.find(path);
  if (it == folders_.end()) return io_failure(IoErrc::io_error, "opendir " + path + ": missing");
  std::vector<std::string> names;
  for (const auto& [name, ino] : it->second.now) names.push_back(name);
  return names;
}

IoStatus SimDisk::remove(const std::string& path) {
  std::string name;
  Folder* folder = folder_of(path, name);
  if (folder == nullptr || folder->now.erase(name) == 0) return missing("unlink", path);
  collect();
  return IoStatus::success();
}

IoStatus SimDisk::rename(const std::string& from, const std::string& to) {
  std::string from_name;
  std::string to_name;
  Folder* source = folder_of(from, from_name);
  Folder* target = folder_of(to, to_name);
  const auto it = source == nullptr ? std::map<std::string, std::uint64_t>::iterator{}
                                    : source->now.find(from_name);
  if (source == nullptr || target == nullptr || it == source->now.end())
    return missing("rename", from);
  const std::uint64_t ino = it->second;
  source->now.erase(it);
  target->now[to_name] = ino;
  collect();
  return IoStatus::success();
}

IoResult<SimDisk::File> SimDisk::open(const std::string& path, OpenMode mode) {
  std::string name;
  Folder* folder = folder_of(path, name);
  if (folder == nullptr) return io_failure(IoErrc::not_found, "open " + path + ": no folder");
  auto it = folder->now.find(name);
  if (mode == OpenMode::existing && it == folder->now.end())
    return io_failure(IoErrc::not_found, "open " + path + ": No such file or directory");
  if (mode == OpenMode::create_new && it != folder->now.end())
    return io_failure(IoErrc::io_error, "create " + path + ": File exists");
  std::uint64_t ino = 0;
  if (it == folder->now.end()) {
    ino = next_inode_++;
    inodes_[ino];
    folder->now[name] = ino;
  } else {
    ino = it->second;
    if (mode == OpenMode::create_truncate) change(inodes_.at(ino), Change{0, true, 0, {}});
  }
  const File file = next_file_++;
  open_[file] = ino;
  return file;
}

void SimDisk::close(File file) {
  if (open_.erase(file) != 0) collect();
}

IoResult<std::uint64_t> SimDisk::size(File file) const {
  const Inode* inode = inode_of(file);
  if (inode == nullptr) return io_failure(IoErrc::io_error, "stat: bad file");
  return std::uint64_t{inode->data.size()};
}

void SimDisk::change(Inode& inode, Change c) {
  c.seq = ++change_seq_;
  apply(inode.data, c.bytes, c.offset, c.truncate);
  inode.pending.push_back(std::move(c));
}

IoStatus SimDisk::write_at(File file, std::uint64_t offset,
                           std::initializer_list<std::string_view> parts) {
  Inode* inode = inode_of(file);
  if (inode == nullptr) return IoStatus::failure(IoErrc::io_error, "write: bad file");
  std::string bytes;
  for (const auto part : parts) bytes.append(part);
  const std::uint64_t end = offset + bytes.size();
  const std::uint64_t growth = end > inode->data.size() ? end - inode->data.size() : 0;
  if (growth > 0 && used() + growth > capacity_)
    return IoStatus::failure(IoErrc::no_space, "write: No space left on device (simulated)");
  if (!bytes.empty()) change(*inode, Change{0, false, offset, std::move(bytes)});
  return IoStatus::success();
}

IoResult<std::string> SimDisk::read_at(File file, std::uint64_t offset, std::uint64_t bytes) const {
  const Inode* inode = inode_of(file);
  if (inode == nullptr) return io_failure(IoErrc::io_error, "read: bad file");
  if (offset + bytes > inode->data.size()) return io_failure(IoErrc::io_error, "read: ends early");
  return inode->data.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(bytes));
}

IoStatus SimDisk::truncate(File file, std::uint64_t size) {
  Inode* inode = inode_of(file);
  if (inode == nullptr) return IoStatus::failure(IoErrc::io_error, "truncate: bad file");
  change(*inode, Change{0, true, size, {}});
  return IoStatus::success();
}

IoStatus SimDisk::sync_apply(File file, std::uint64_t mark) {
  Inode* inode = inode_of(file);
  if (inode == nullptr) return IoStatus::failure(IoErrc::io_error, "fdatasync: bad file");
  auto& pending = inode->pending;
  const auto done =
      std::find_if(pending.begin(), pending.end(), [&](const Change& c) { return c.seq > mark; });
  if (done == pending.begin()) return IoStatus::success();
  for (auto it = pending.begin(); it != done; ++it)
    apply(inode->durable, it->bytes, it->offset, it->truncate);
  pending.erase(pending.begin(), done);
  ++generation_;
  return IoStatus::success();
}

void SimDisk::crash(Prng& prng) {
  open_.clear();
  for (auto& [ino, inode] : inodes_) {
    for (const Change& c : inode.pending) {
      const std::uint64_t fate = prng.below(c.truncate || c.bytes.size() < 2 ? 2 : 3);
      if (fate == 1) apply(inode.durable, c.bytes, c.offset, c.truncate);
      if (fate == 2)  // torn: a strict prefix reached the disk
        apply(inode.durable, c.bytes.substr(0, 1 + prng.below(c.bytes.size() - 1)), c.offset,
              false);
    }
    inode.pending.clear();
    inode.data = inode.durable;
  }
  for (auto& [path, folder] : folders_) {
    std::set<std::string> names;
    for (const auto& [name, ino] : folder.now) names.insert(name);
    for (const auto& [name, ino] : folder.durable) names.insert(name);
    std::map<std::string, std::uint64_t> after;
    for (const auto& name : names) {
      const auto now = folder.now.find(name);
      const auto durable = folder.durable.find(name);
      const bool same = (now == folder.now.end()) == (durable == folder.durable.end()) &&
                        (now == folder.now.end() || now->second == durable->second);
      const bool keep_new = !same && prng.below(2) == 1;
      const auto& from = keep_new ? now : durable;
      if (from != (keep_new ? folder.now.end() : folder.durable.end())) after[name] = from->second;
    }
    folder.now = after;
    folder.durable = std::move(after);
  }
  ++generation_;
  collect();
}

std::optional<std::string_view> SimDisk::durable_file(const std::string& path) const {
  std::string name;
  const Folder* folder = folder_of(path, name);
  if (folder == nullptr) return std::nullopt;
  const auto it = folder->durable.find(name);
  if (it == folder->durable.end()) return std::nullopt;
  return std::string_view(inodes_.at(it->second).durable);
}

std::vector<std::string> SimDisk::durable_names(const std::string& folder) const {
  std::vector<std::string> names;
  const auto it = folders_.find(folder);
  if (it == folders_.end()) return names;
  for (const auto& [name, ino] : it->second.durable) names.push_back(name);
  return names;
}

}  // namespace tern::adapters::sim
