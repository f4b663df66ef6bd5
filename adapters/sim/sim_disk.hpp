// adapters/sim/sim_disk.hpp — the simulation's disk: an in-memory file system that, like a
// real one, keeps in a crash only what was synced (FoundationDB's AsyncFileNonDurable).
// The spool log runs on it through SimIo (runtime/spool/file_ops.hpp states the contract
// it keeps); the simulation's invariants read its durable image.
//
// - A file's bytes are what was written (reads see them at once); its durable bytes are
//   what the last sync covered. A write or truncate becomes durable when a sync of its file
//   applies it: sync_mark() notes the changes made so far and sync_apply(mark) makes exactly
//   those durable, as an fdatasync covers what was written before it began.
// - A folder's entries (files created, removed, renamed) become durable at sync_dir. Folders
//   themselves are durable once made (the spool fsyncs a folder's parent when it makes one).
// - crash(prng): open files are forgotten (a File from before never matches again), and
//   every change not yet durable independently survives, vanishes or (a write) survives as
//   a prefix; every folder entry not yet durable independently keeps its new or its old
//   state. What survives is then durable. Every draw comes from `prng`.
// - The capacity bounds the bytes of all files (what is written, durable or not): a write
//   that would grow the total past it fails with no_space, one over existing bytes does not.
// - Errors: not_found (no such file or folder), io_error (a name that exists on create_new,
//   a read past the end).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sim/sim_io.hpp"
#include "runtime/spool/file_ops.hpp"

namespace tern::adapters::sim {

class SimDisk {
 public:
  using File = runtime::spool::File;

  runtime::IoStatus make_dir(const std::string& path, bool& created);
  runtime::IoStatus sync_dir(const std::string& path);
  runtime::IoResult<std::vector<std::string>> list_dir(const std::string& path) const;
  runtime::IoStatus remove(const std::string& path);
  runtime::IoStatus rename(const std::string& from, const std::string& to);
  runtime::IoResult<File> open(const std::string& path, runtime::spool::OpenMode mode);
  void close(File file);  // a File unknown (or from before a crash) is ignored
  runtime::IoResult<std::uint64_t> size(File file) const;
  runtime::IoStatus write_at(File file, std::uint64_t offset,
                             std::initializer_list<std::string_view> parts);
  runtime::IoResult<std::string> read_at(File file, std::uint64_t offset,
                                         std::uint64_t bytes) const;
  runtime::IoStatus truncate(File file, std::uint64_t size);
  std::uint64_t sync_mark() const { return change_seq_; }
  runtime::IoStatus sync_apply(File file, std::uint64_t mark);
  void crash(Prng& prng);

  // The durable image: what a crash that loses every change not yet durable leaves.
  std::optional<std::string_view> durable_file(const std::string& path) const;
  std::vector<std::string> durable_names(const std::string& folder) const;
  std::uint64_t durable_generation() const { return generation_; }

  void set_capacity(std::uint64_t bytes) { capacity_ = bytes; }
  std::uint64_t used() const;

 private:
  struct Change {
    std::uint64_t seq = 0;
    bool truncate = false;
    std::uint64_t offset = 0;  // write: where; truncate: the new size
    std::string bytes;
  };
  struct Inode {
    std::string data;
    std::string durable;
    std::vector<Change> pending;
  };
  struct Folder {
    std::map<std::string, std::uint64_t> now;  // name -> inode
    std::map<std::string, std::uint64_t> durable;
  };
  Inode* inode_of(File file);
  const Inode* inode_of(File file) const;
  Folder* folder_of(const std::string& path, std::string& name);
  const Folder* folder_of(const std::string& path, std::string& name) const;
  void change(Inode& inode, Change c);
  void collect();  // drops inodes no folder entry and no open file refers to

  std::map<std::string, Folder> folders_;
  std::map<std::uint64_t, Inode> inodes_;
  std::map<File, std::uint64_t> open_;
  std::uint64_t next_inode_ = 1;
  File next_file_ = 3;
  std::uint64_t change_seq_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t capacity_ = std::numeric_limits<std::uint64_t>::max();
};

}  // namespace tern::adapters::sim
