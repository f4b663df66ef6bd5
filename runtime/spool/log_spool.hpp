// runtime/spool/log_spool.hpp — the spool as a log of records (docs/spool.md), written
// against FileOps (file_ops.hpp) so that production (POSIX files) and the simulation (a disk
// that forgets unsynced writes at a crash) run the same code. It implements the spool half of
// runtime::Io (io.hpp states the contract); AsioIo and SimIo forward their spool calls here.
//
// - Records are written in call order on the engine's thread; a callback reports success
//   once a sync of the record's segment begun after its write has finished: one sync at a
//   time per segment covers every record written before it began (group commit). Removals
//   are lazy: they ride on the next sync, started by a commit, by a batch of removals, or by
//   a timer shortly after.
// - load() (spool_list, or the first other call) reads the log back through recover()
//   (recovery.hpp), deletes what no commit finished, then starts a new segment: nothing is
//   ever appended after a possibly torn tail.
// - Dead segments are deleted oldest first (a remove record must never outlive the commit it
//   cancels); the live messages of the oldest segment are copied forward when the log holds
//   more segments than its live data needs.
// - Callbacks run through io.post or after FileOps completions, never inside the call, and
//   never after the LogSpool is destroyed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/io.hpp"
#include "runtime/spool/file_ops.hpp"

namespace tern::runtime::spool_log {
enum class RecordKind : std::uint8_t;
}

namespace tern::runtime::spool {

struct LogSpoolOptions {
  std::string dir;                                        // holds log/, body/ and tmp/
  std::uint64_t file_bytes_max = std::uint64_t{1} << 30;  // one body or envelope
  // A body up to this size is held in memory while it arrives and written into the log
  // with its commit record; a larger one goes to tmp/ and then to body/<id>.
  std::uint64_t inline_body_max = 128 * 1024;
  std::uint64_t segment_bytes = 64 * 1024 * 1024;  // a new segment once one holds this much
  SpoolWriterId first_writer_id = 1;               // writer ids count up from here
};

// Where a live message's body is, for a delivery that copies it: a range of a segment or
// the whole file body/<id>.
struct BodyPlace {
  std::string path;
  File file = -1;  // the open segment (-1: open `path`, the external body)
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;  // all of it for an external body
};

// ---- The log's state (log_spool.cpp).

// One file of log/. Pool work holds a shared_ptr so that `file` stays open while it runs.
struct Segment {
  std::shared_ptr<FileOps> files;  // outlives the open file
  std::uint64_t number = 0;
  std::string path;
  File file = -1;
  std::uint64_t written = 0;   // end of the last record written
  std::uint64_t prepared = 0;  // the file's size: zeros from `written` up to here
  std::uint64_t synced = 0;    // end of what a sync has made durable
  bool sync_running = false;
  // Nothing more is appended: the log moved on to a newer segment, it is an earlier run's,
  // or a write or a sync failed in it.
  bool sealed = false;
  // A sync failed: nothing past `synced` is trusted; `rolled_back`: it is cut off, durably.
  bool failed = false;
  bool rolled_back = false;
  std::size_t refs = 0;          // locations of live messages (body, envelope) in this file
  std::uint64_t live_bytes = 0;  // their sizes
  struct Waiter {
    std::uint64_t end = 0;  // the record's end: durable once synced reaches it
    Io::StatusHandler on_done;
    bool urgent = true;  // starts a sync now; a lazy one rides on the next
  };
  std::vector<Waiter> waiters;
  ~Segment();
};

// Where some bytes of a live message are in the log.
struct Located {
  std::shared_ptr<Segment> segment;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

// A location a newer record replaced, still counted in its segment's refs until a newer
// record that supersedes it is durable: the segment holding the older copy must outlive it.
struct Pin {
  enum class Part { envelope, body, origin };
  Located at;
  Part part = Part::envelope;
};

struct LiveMessage {
  Located envelope;
  Located body;  // segment null: the body is the file body/<id>
  // The commit record itself (bytes 0): recovery knows the message only while it exists,
  // even when the envelope and the body are elsewhere (a newer envelope record, body/<id>).
  Located origin;
  std::vector<Pin> pinned;
  bool removing = false;  // a remove record is written, not yet durable
  bool relocating = false;
};

// A message being received: its body in memory, or in tmp/<id>.body.tmp once it outgrew
// inline_body_max (then `file` is that file).
struct Writer {
  std::shared_ptr<FileOps> files;  // outlives the open file
  std::string id;
  std::string body;
  File file = -1;
  std::uint64_t bytes = 0;
  ~Writer();
};

// What a record write returned: where its parts are.
struct Appended {
  std::shared_ptr<Segment> segment;
  std::uint64_t offset = 0;  // of the record's header
  std::uint64_t envelope_offset = 0;
  std::uint64_t body_offset = 0;
  std::uint64_t end = 0;
};

class LogSpool {
 public:
  LogSpool(Io& io, std::shared_ptr<FileOps> files, LogSpoolOptions options);
  ~LogSpool();
  LogSpool(const LogSpool&) = delete;
  LogSpool& operator=(const LogSpool&) = delete;

  IoResult<SpoolWriterId> create(std::string_view id);
  IoStatus append(SpoolWriterId writer, std::span<const char> bytes);
  void commit(SpoolWriterId writer, std::string envelope, Io::StatusHandler on_done);
  void discard(SpoolWriterId writer);
  void update_envelope(std::string_view id, std::string envelope, Io::StatusHandler on_done);
  IoResult<std::vector<SpoolEntry>> list();
  IoResult<std::string> read_body(std::string_view id);
  IoResult<std::string> read_envelope(std::string_view id);  // the newest one written
  void remove(std::string_view id, Io::StatusHandler on_done);

  IoResult<BodyPlace> body_place(std::string_view id);
  // At a graceful stop, after the last callback: syncs what was written since the last
  // sync (removals wait for a lazy one) and drops the waiters, whose callbacks are gone
  // with the engine (a waiter can hold a location in its own segment: dropping it breaks
  // that cycle).
  void flush_at_exit();
  std::size_t open_writers() const { return writers_.size(); }
  std::string path(std::string_view folder, std::string_view name) const;

 private:
  IoStatus ensure_loaded();
  IoResult<std::vector<SpoolEntry>> load();
  IoStatus start_segment();
  IoResult<Appended> append_record(spool_log::RecordKind kind, std::uint8_t flags,
                                   std::string_view id, std::string_view envelope,
                                   std::string_view body);
  void commit_record(const std::string& id, const std::string& envelope, const std::string& body,
                     bool external, Io::StatusHandler on_done);
  void repair(LiveMessage& message);
  void roll_back(const std::shared_ptr<Segment>& segment, IoStatus failure, int attempt);
  void cancel(const std::string& id, IoStatus failure, Io::StatusHandler on_done, int attempt);
  void commit_external(std::unique_ptr<Writer> writer, std::string envelope,
                       Io::StatusHandler on_done);
  void when_durable(const std::shared_ptr<Segment>& segment, std::uint64_t end,
                    Io::StatusHandler on_done, bool urgent = true);
  void arm_lazy_sync();
  void sync_segment(const std::shared_ptr<Segment>& segment);
  void finish_sync(const std::shared_ptr<Segment>& segment, std::uint64_t target,
                   const IoStatus& status);
  void relocate_oldest();
  bool relocate(const std::string& id, LiveMessage& message);
  void collect_segments();
  void post_status(Io::StatusHandler on_done, IoStatus status);
  void after(std::function<void()> task);  // io.post, dropped once this LogSpool is gone

  Io& io_;
  std::shared_ptr<FileOps> files_;
  LogSpoolOptions options_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::map<SpoolWriterId, std::unique_ptr<Writer>> writers_;
  SpoolWriterId next_writer_;
  bool loaded_ = false;
  std::optional<TimerId> lazy_sync_;  // armed: records that nothing waits on urgently
  std::map<std::uint64_t, std::shared_ptr<Segment>> segments_;  // every file of log/
  std::shared_ptr<Segment> current_;                            // appends go here
  std::unordered_map<std::string, LiveMessage> live_;
  std::set<std::string> committing_;    // external bodies renamed into body/, record pending
  bool collecting_ = false;             // a job deleting dead segments runs
  std::size_t last_sync_answered_ = 0;  // urgent records the last sync made durable
};

}  // namespace tern::runtime::spool
