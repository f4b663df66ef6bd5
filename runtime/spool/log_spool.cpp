// The spool log (docs/spool.md) over FileOps. Record writes are synchronous on the engine's
// thread (the page cache absorbs them, and the log's order is the order of the calls);
// syncs go through FileOps::sync_async, the other fsyncing work through background().
#include "runtime/spool/log_spool.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "runtime/buggify.hpp"
#include "runtime/spool/recovery.hpp"
#include "runtime/spool/spool_log.hpp"

namespace tern::runtime::spool {

namespace {

// Small records are written over zeros the file already holds: on ext4 a sync after a
// write that grows the file also writes the inode (a second disk write before the cache
// flush), one over allocated bytes does not. Measured here (virtio disk, ext4, 1.2 KB
// records): fdatasync 0.17-0.20 ms after an append, 0.11 ms after an overwrite. So the
// current segment is extended by kZeroAheadBytes of zeros at a time (for 1 KB records,
// about 1 KB more written per record), and a record larger than kZeroAheadRecordMax
// simply extends the file: zeroing ahead of it would write its bytes twice for a saving it
// does not need. The zeros are harmless to a reader: a header of zeros is not a record, so
// reading stops there as at the end of the log.
constexpr std::uint64_t kZeroAheadBytes = 1024 * 1024;
constexpr std::uint64_t kZeroAheadRecordMax = 64 * 1024;
// A few lazy records are enough to start a sync: a queue draining without new mail (every
// delivery ends in a removal, and a finished message keeps its delivery slot until its
// removal is durable) must not be paced by the timer.
constexpr std::size_t kLazyBatch = 4;
constexpr Duration kLazyDelay = Duration::milliseconds(20);
// Relocation: bytes copied per event-loop turn, and segments beyond what the live data needs.
constexpr std::uint64_t kRelocateBudgetBytes = 4 * 1024 * 1024;
constexpr std::size_t kSlackSegments = 3;

IoStatus failure_of(const IoError& error) {
  return IoStatus::failure(error.code, error.detail);
}

// A missing file here is a broken spool, not a missing message.
IoStatus as_disk_error(IoStatus status) {
  if (!status.ok() && status.error->code == IoErrc::not_found)
    status.error->code = IoErrc::io_error;
  return status;
}

IoStatus write_zeros(FileOps& files, File file, std::uint64_t from, std::uint64_t to) {
  static const std::string zeros(64 * 1024, '\0');
  while (from < to) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(to - from, zeros.size()));
    const IoStatus status = files.write_at(file, from, {std::string_view(zeros.data(), n)});
    if (!status.ok()) return status;
    from += n;
  }
  return IoStatus::success();
}

void ref(const Located& where) {
  if (!where.segment) return;
  ++where.segment->refs;
  where.segment->live_bytes += where.bytes;
}

void unref(const Located& where) {
  if (!where.segment) return;
  --where.segment->refs;
  where.segment->live_bytes -= where.bytes;
}

bool older(const Located& a, const Located& b) {
  return a.segment->number < b.segment->number || (a.segment == b.segment && a.offset < b.offset);
}

void pin(LiveMessage& message, const Located& where, Pin::Part part) {
  if (where.segment) message.pinned.push_back(Pin{where, part});
}

// `newer` is durable: the pinned locations it supersedes are released. An envelope record
// supersedes older envelopes; a commit (a relocated copy) supersedes everything older.
void supersede(LiveMessage& message, const Located& newer, bool commit) {
  auto& pins = message.pinned;
  for (auto it = pins.begin(); it != pins.end();) {
    if ((commit || it->part == Pin::Part::envelope) && older(it->at, newer)) {
      unref(it->at);
      it = pins.erase(it);
    } else {
      ++it;
    }
  }
}

void release_all(LiveMessage& message) {
  unref(message.envelope);
  unref(message.body);
  unref(message.origin);
  for (const auto& p : message.pinned) unref(p.at);
  message.pinned.clear();
}

bool holds(const LiveMessage& message, const std::shared_ptr<Segment>& segment) {
  return message.envelope.segment == segment || message.body.segment == segment ||
         message.origin.segment == segment ||
         std::any_of(message.pinned.begin(), message.pinned.end(),
                     [&](const Pin& p) { return p.at.segment == segment; });
}

bool envelope_fits(const std::string& envelope, std::uint64_t file_bytes_max) {
  return envelope.size() <= file_bytes_max &&
         envelope.size() <= std::numeric_limits<std::uint32_t>::max();
}

}  // namespace

Segment::~Segment() {
  if (file >= 0) files->close(file);
}

Writer::~Writer() {
  if (file >= 0) files->close(file);
}

LogSpool::LogSpool(Io& io, std::shared_ptr<FileOps> files, LogSpoolOptions options)
    : io_(io),
      files_(std::move(files)),
      options_(std::move(options)),
      next_writer_(options_.first_writer_id) {}

LogSpool::~LogSpool() {
  if (lazy_sync_) io_.cancel_timer(*lazy_sync_);
  // A waiter can hold a location in its own segment (an envelope update pins the record it
  // replaces): their callbacks never run now, and dropping them breaks that cycle.
  for (const auto& [number, segment] : segments_) segment->waiters.clear();
}

std::string LogSpool::path(std::string_view folder, std::string_view name) const {
  std::string out = options_.dir;
  out += '/';
  out += folder;
  if (!name.empty()) {
    out += '/';
    out += name;
  }
  return out;
}

void LogSpool::after(std::function<void()> task) {
  io_.post([alive = std::weak_ptr<int>(alive_), task = std::move(task)] {
    if (!alive.expired()) task();
  });
}

void LogSpool::post_status(Io::StatusHandler on_done, IoStatus status) {
  after([on_done = std::move(on_done), status = std::move(status)] { on_done(status); });
}

// ---- Loading: recovery's decisions applied.

IoStatus LogSpool::ensure_loaded() {
  if (loaded_) return IoStatus::success();
  auto loaded = load();
  return loaded ? IoStatus::success() : failure_of(loaded.error());
}

IoResult<std::vector<SpoolEntry>> LogSpool::load() {
  bool created = false;
  for (const auto& folder : {options_.dir, path("tmp", ""), path("log", ""), path("body", "")}) {
    const IoStatus made = files_->make_dir(folder, created);
    if (!made.ok()) return io_failure(made.error->code, made.error->detail);
  }
  if (created) {
    const IoStatus synced = files_->sync_dir(options_.dir);
    if (!synced.ok()) return io_failure(synced.error->code, synced.error->detail);
  }
  std::set<std::string> receiving;  // spilled bodies of writers still open
  for (const auto& [writer_id, writer] : writers_)
    if (writer->file >= 0) receiving.insert(writer->id + ".body.tmp");
  auto tmp_names = files_->list_dir(path("tmp", ""));
  if (!tmp_names) return io_failure(tmp_names.error().code, tmp_names.error().detail);
  for (const auto& name : *tmp_names)
    if (receiving.count(name) == 0) (void)files_->remove(path("tmp", name));
  auto log_names = files_->list_dir(path("log", ""));
  if (!log_names) return io_failure(log_names.error().code, log_names.error().detail);
  std::map<std::uint64_t, std::shared_ptr<Segment>> segments;
  for (const auto& name : *log_names) {
    std::uint64_t number = 0;
    if (!parse_segment_name(name, number)) continue;
    if (const auto known = segments_.find(number); known != segments_.end()) {
      segments[number] = known->second;
      continue;
    }
    auto segment = std::make_shared<Segment>();
    segment->files = files_;
    segment->number = number;
    segment->path = path("log", name);
    auto file = files_->open_file(segment->path, OpenMode::existing);
    if (!file) return io_failure(IoErrc::io_error, file.error().detail);
    segment->file = *file;
    segment->sealed = true;  // an earlier run's: read, never appended to
    segments[number] = std::move(segment);
  }
  std::map<std::uint64_t, std::string> contents;
  RecoveryInput input;
  for (const auto& [number, segment] : segments) {
    auto bytes = files_->size(segment->file);
    auto content =
        bytes ? files_->read_at(segment->file, 0, *bytes)
              : IoResult<std::string>(io_failure(bytes.error().code, bytes.error().detail));
    if (!content) return io_failure(IoErrc::io_error, content.error().detail);
    input.segments[number] = (contents[number] = std::move(*content));
  }
  auto body_names = files_->list_dir(path("body", ""));
  if (!body_names) return io_failure(body_names.error().code, body_names.error().detail);
  input.bodies.insert(body_names->begin(), body_names->end());
  const Recovery recovered = recover(input);
  for (const auto& name : recovered.orphan_bodies)
    if (committing_.count(name) == 0) (void)files_->remove(path("body", name));
  for (auto& [number, segment] : segments) {
    if (segment->sealed && segment != current_)
      segment->written = segment->synced = recovered.valid_bytes.at(number);
    segment->refs = 0;
    segment->live_bytes = 0;
  }
  live_.clear();
  std::vector<SpoolEntry> entries;
  entries.reserve(recovered.live.size());
  for (const auto& [id, found] : recovered.live) {
    LiveMessage message;
    const auto& at = found.envelope_place;
    message.envelope = Located{segments.at(at.segment), at.offset, at.bytes};
    message.origin = Located{segments.at(found.commit_place.segment), found.commit_place.offset, 0};
    if (!found.external_body) {
      const auto& body = found.body_place;
      message.body = Located{segments.at(body.segment), body.offset, body.bytes};
    }
    ref(message.envelope);
    ref(message.body);
    ref(message.origin);
    live_.emplace(id, std::move(message));
    entries.push_back(SpoolEntry{id, found.envelope});
  }
  segments_ = std::move(segments);
  loaded_ = true;
  const IoStatus started = start_segment();  // never append after a possibly torn tail
  if (!started.ok()) return io_failure(started.error->code, started.error->detail);
  collect_segments();
  return entries;
}

// ---- Appending.

IoStatus LogSpool::start_segment() {
  const std::uint64_t number = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  auto segment = std::make_shared<Segment>();
  segment->files = files_;
  segment->number = number;
  segment->path = path("log", segment_name(number));
  auto file = files_->open_file(segment->path, OpenMode::create_new);
  if (!file) return as_disk_error(failure_of(file.error()));
  segment->file = *file;
  // The new name must be durable before any record in it is acknowledged.
  const IoStatus synced = files_->sync_dir(path("log", ""));
  if (!synced.ok()) {
    (void)files_->remove(segment->path);
    return as_disk_error(synced);
  }
  if (current_) current_->sealed = true;  // finished: only read from now on
  segments_[number] = segment;
  current_ = std::move(segment);
  return IoStatus::success();
}

IoResult<Appended> LogSpool::append_record(spool_log::RecordKind kind, std::uint8_t flags,
                                           std::string_view id, std::string_view envelope,
                                           std::string_view body) {
  bool rotated = false;
  if (!current_ || current_->sealed || current_->written >= options_.segment_bytes) {
    const IoStatus started = start_segment();
    const bool full_but_sound = current_ && !current_->sealed;
    if (!started.ok() && !full_but_sound)
      return io_failure(started.error->code, started.error->detail);
    // A disk too full for a new file may still take a record in the current one.
    rotated = started.ok();
  }
  std::shared_ptr<Segment> segment = current_;
  const auto header = spool_log::encode_header(kind, flags, id, envelope, body);
  const std::uint64_t record_bytes = header.size() + id.size() + envelope.size() + body.size();
  const std::uint64_t record_end = segment->written + record_bytes;
  if (record_end > segment->prepared && record_bytes <= kZeroAheadRecordMax) {
    // Up to the rotation size only (the last records before it are appended).
    const std::uint64_t target = std::min(record_end + kZeroAheadBytes, options_.segment_bytes);
    // A failure here is not the record's: it is written as an append below, and zeros
    // that did get written are past every record, where the log ends anyway.
    if (target > record_end && write_zeros(*files_, segment->file, segment->prepared, target).ok())
      segment->prepared = target;
  }
  const IoStatus written = files_->write_at(segment->file, segment->written,
                                            {{header.data(), header.size()}, id, envelope, body});
  if (!written.ok()) {
    segment->sealed = true;  // the next record starts a new segment, after no torn one
    (void)files_->truncate(segment->file, segment->written);
    return io_failure(as_disk_error(written).error->code, written.error->detail);
  }
  Appended appended;
  appended.segment = segment;
  appended.offset = segment->written;
  appended.envelope_offset = segment->written + header.size() + id.size();
  appended.body_offset = appended.envelope_offset + envelope.size();
  appended.end = appended.body_offset + body.size();
  segment->written = appended.end;
  segment->prepared = std::max(segment->prepared, appended.end);
  if (rotated) {
    after([this] {
      relocate_oldest();
      collect_segments();
    });
  }
  return appended;
}

// ---- Group commit.

void LogSpool::when_durable(const std::shared_ptr<Segment>& segment, std::uint64_t end,
                            Io::StatusHandler on_done, bool urgent) {
  if (segment->synced >= end) {
    post_status(std::move(on_done), IoStatus::success());
    return;
  }
  segment->waiters.push_back(Segment::Waiter{end, std::move(on_done), urgent});
  if (urgent || segment->waiters.size() >= kLazyBatch) {
    sync_segment(segment);
  } else {
    arm_lazy_sync();
  }
}

void LogSpool::arm_lazy_sync() {
  if (lazy_sync_) return;
  lazy_sync_ = io_.start_timer(io_.now() + kLazyDelay, [this] {
    lazy_sync_.reset();
    std::vector<std::shared_ptr<Segment>> pending;
    for (const auto& [number, segment] : segments_)
      if (!segment->waiters.empty()) pending.push_back(segment);
    for (const auto& segment : pending) sync_segment(segment);
  });
}

// One sync at a time per segment covers every record written before it began; the records
// that arrive meanwhile wait for the next one. Whether it may block the engine's thread
// (cheaper when nothing else is going on: no thread hand-off) is for FileOps to decide from
// the disk's speed; the log says when nothing else is going on: an urgent record waits,
// no other segment's sync runs, and the last sync answered at most one commit (under load
// syncs follow each other and each answers several).
void LogSpool::sync_segment(const std::shared_ptr<Segment>& segment) {
  if (segment->sync_running || segment->waiters.empty()) return;
  segment->sync_running = true;
  const std::uint64_t target = segment->written;
  const bool urgent = std::any_of(segment->waiters.begin(), segment->waiters.end(),
                                  [](const Segment::Waiter& w) { return w.urgent; });
  const bool other_running = std::any_of(segments_.begin(), segments_.end(), [&](const auto& n) {
    return n.second != segment && n.second->sync_running;
  });
  const bool may_block = urgent && !other_running && last_sync_answered_ <= 1;
  auto done = [this, alive = std::weak_ptr<int>(alive_), segment, target](IoStatus status) {
    if (!alive.expired()) finish_sync(segment, target, status);
  };
  // A deliberately broken spool (runtime/buggify.hpp): the records are called durable
  // without their sync.
  if (buggify::on(buggify::Site::spool_skip_sync)) {
    after([done = std::move(done)]() mutable { done(IoStatus::success()); });
    return;
  }
  files_->sync_async(segment->file, may_block, std::move(done));
}

void LogSpool::finish_sync(const std::shared_ptr<Segment>& segment, std::uint64_t target,
                           const IoStatus& status) {
  segment->sync_running = false;
  if (status.ok()) {
    segment->synced = std::max(segment->synced, target);
  } else if (!segment->failed) {
    segment->sealed = true;  // after a failed sync nothing in it is trusted
    segment->failed = true;
    for (auto& [id, message] : live_) repair(message);
    roll_back(segment, status, 1);
    return;
  }
  std::vector<Io::StatusHandler> done;
  bool urgent_left = false;
  last_sync_answered_ = 0;
  auto& waiters = segment->waiters;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (!status.ok() || it->end <= target) {
      last_sync_answered_ += it->urgent ? 1 : 0;
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

// After a failed sync, a live message whose newest envelope, body or commit is past the
// segment's `synced` (an update or a relocation that failed) goes back to its newest copy
// that is durable: it is pinned until a newer durable record supersedes it.
void LogSpool::repair(LiveMessage& message) {
  const auto trusted = [](const Located& at) {
    return !at.segment || !at.segment->failed || at.offset < at.segment->synced;
  };
  auto& pins = message.pinned;
  const auto restore = [&](Located& current, Pin::Part part) {
    if (trusted(current)) return;
    auto best = pins.end();
    for (auto it = pins.begin(); it != pins.end(); ++it) {
      if (it->part == part && trusted(it->at) && (best == pins.end() || older(best->at, it->at)))
        best = it;
    }
    assert(best != pins.end() && "a failed record with no durable copy pinned");
    if (best == pins.end()) return;
    unref(current);
    current = best->at;  // its reference moves with it
    pins.erase(best);
  };
  restore(message.envelope, Pin::Part::envelope);
  restore(message.body, Pin::Part::body);
  restore(message.origin, Pin::Part::origin);
  for (auto it = pins.begin(); it != pins.end();) {
    if (trusted(it->at)) {
      ++it;
    } else {
      unref(it->at);
      it = pins.erase(it);
    }
  }
}

// After a failed sync every record past `synced` is reported failed, but some may reach the
// disk anyway, and a restart would then act on them (deliver a message its client saw
// refused). So before the failures are reported the segment is cut back to `synced` and
// that is synced: needing no space, it works on a full disk. If it cannot be done, a
// failed commit is cancelled by a remove record instead (cancel()).
void LogSpool::roll_back(const std::shared_ptr<Segment>& segment, IoStatus failure, int attempt) {
  constexpr int kRollBackAttempts = 5;
  const IoStatus cut = files_->truncate(segment->file, segment->synced);
  if (!cut.ok()) {
    finish_sync(segment, segment->synced, failure);
    return;
  }
  segment->sync_running = true;
  auto done = [this, alive = std::weak_ptr<int>(alive_), segment, failure,
               attempt](IoStatus synced) {
    if (alive.expired()) return;
    segment->sync_running = false;
    if (synced.ok()) {
      segment->rolled_back = true;
      segment->written = segment->prepared = segment->synced;
    } else if (attempt < kRollBackAttempts) {
      roll_back(segment, failure, attempt + 1);
      return;
    }
    finish_sync(segment, segment->synced, failure);
  };
  files_->sync_async(segment->file, false, std::move(done));
}

void LogSpool::commit_record(const std::string& id, const std::string& envelope,
                             const std::string& body, bool external, Io::StatusHandler on_done) {
  const std::uint8_t flags = external ? spool_log::kFlagExternalBody : 0;
  auto appended = append_record(spool_log::RecordKind::commit, flags, id, envelope, body);
  if (!appended) {
    post_status(std::move(on_done), failure_of(appended.error()));
    return;
  }
  const Located where_envelope{appended->segment, appended->envelope_offset, envelope.size()};
  const Located where_body =
      external ? Located{} : Located{appended->segment, appended->body_offset, body.size()};
  const Located origin{appended->segment, appended->offset, 0};
  when_durable(appended->segment, appended->end,
               [this, id, where_envelope, where_body, origin,
                on_done = std::move(on_done)](IoStatus status) mutable {
                 if (status.ok()) {
                   LiveMessage message;
                   message.envelope = where_envelope;
                   message.body = where_body;
                   message.origin = origin;
                   ref(message.envelope);
                   ref(message.body);
                   ref(message.origin);
                   live_[id] = std::move(message);
                   on_done(status);
                 } else if (where_envelope.segment->rolled_back) {
                   on_done(status);  // the record is gone from the disk
                 } else {
                   cancel(id, status, std::move(on_done), 1);
                 }
               });
}

// A commit whose sync failed may still reach the disk, and a restart would then deliver a
// message its client saw refused: a remove record says it is gone, and the failure is
// reported only once that record is durable (or after kCancelAttempts failed tries, when
// the disk is beyond help).
void LogSpool::cancel(const std::string& id, IoStatus failure, Io::StatusHandler on_done,
                      int attempt) {
  constexpr int kCancelAttempts = 5;
  auto appended = append_record(spool_log::RecordKind::remove, 0, id, "", "");
  if (!appended) {
    on_done(failure);
    return;
  }
  when_durable(appended->segment, appended->end,
               [this, id, failure, attempt, on_done = std::move(on_done)](IoStatus status) mutable {
                 if (status.ok() || attempt >= kCancelAttempts) {
                   on_done(failure);
                 } else {
                   cancel(id, failure, std::move(on_done), attempt + 1);
                 }
               });
}

// The spilled body: synced, closed, renamed to body/<id> and body/ synced (in the
// background), then the commit record; a failed commit deletes the body again.
void LogSpool::commit_external(std::unique_ptr<Writer> writer, std::string envelope,
                               Io::StatusHandler on_done) {
  const std::string id = writer->id;
  committing_.insert(id);
  auto status = std::make_shared<IoStatus>();
  const File file = std::exchange(writer->file, -1);
  auto work = [files = files_, status, file, tmp = path("tmp", id + ".body.tmp"),
               final_path = path("body", id), dir = path("body", "")] {
    IoStatus result = files->sync(file);
    files->close(file);
    if (result.ok()) result = files->rename(tmp, final_path);
    if (!result.ok()) {
      (void)files->remove(tmp);
    } else if (result = files->sync_dir(dir); !result.ok()) {
      (void)files->remove(final_path);
    }
    *status = as_disk_error(result);
  };
  auto done = [this, alive = std::weak_ptr<int>(alive_), id, status, envelope = std::move(envelope),
               on_done = std::move(on_done)]() mutable {
    if (alive.expired()) return;
    committing_.erase(id);
    if (!status->ok()) {
      on_done(*status);
      return;
    }
    commit_record(id, envelope, "", true,
                  [this, id, on_done = std::move(on_done)](IoStatus committed) {
                    if (!committed.ok()) (void)files_->remove(path("body", id));
                    on_done(committed);
                  });
  };
  files_->background(std::move(work), std::move(done));
}

// ---- Space: relocation and deletion.

// A message deferred for days keeps the segment holding it, and the deletion of segments
// goes oldest first (a remove record must outlive the commit it cancels), so one old
// message would keep every later segment. When the log holds more segments than its live
// data needs (plus slack), the live messages of the oldest one are written again at the
// end, a bounded amount per call, and the oldest one becomes dead.
void LogSpool::relocate_oldest() {
  if (segments_.size() < kSlackSegments) return;
  std::uint64_t live_bytes = 0;
  for (const auto& [number, segment] : segments_) live_bytes += segment->live_bytes;
  if (segments_.size() <= kSlackSegments + live_bytes / options_.segment_bytes) return;
  const std::shared_ptr<Segment> oldest = segments_.begin()->second;
  if (oldest == current_ || oldest->refs == 0) return;
  std::uint64_t copied = 0;
  for (auto& [id, message] : live_) {
    if (message.removing || message.relocating) continue;
    if (!holds(message, oldest)) continue;
    if (copied >= kRelocateBudgetBytes) {
      after([this] { relocate_oldest(); });
      return;
    }
    const std::uint64_t before = message.envelope.bytes + message.body.bytes;
    if (!relocate(id, message)) return;
    copied += before;
  }
}

// Writes one live message again at the end of the log; its old copies stay pinned until
// the new one is durable.
bool LogSpool::relocate(const std::string& id, LiveMessage& message) {
  auto envelope = files_->read_at(message.envelope.segment->file, message.envelope.offset,
                                  message.envelope.bytes);
  if (!envelope) return false;
  std::string body;
  if (message.body.segment) {
    auto read =
        files_->read_at(message.body.segment->file, message.body.offset, message.body.bytes);
    if (!read) return false;
    body = std::move(*read);
  }
  const std::uint8_t flags = message.body.segment ? 0 : spool_log::kFlagExternalBody;
  auto appended = append_record(spool_log::RecordKind::commit, flags, id, *envelope, body);
  if (!appended) return false;
  pin(message, message.envelope, Pin::Part::envelope);
  pin(message, message.body, Pin::Part::body);
  pin(message, message.origin, Pin::Part::origin);
  const bool inline_body = message.body.segment != nullptr;
  message.envelope = Located{appended->segment, appended->envelope_offset, envelope->size()};
  message.body =
      inline_body ? Located{appended->segment, appended->body_offset, body.size()} : Located{};
  message.origin = Located{appended->segment, appended->offset, 0};
  ref(message.envelope);
  ref(message.body);
  ref(message.origin);
  message.relocating = true;
  when_durable(appended->segment, appended->end,
               [this, id, copy = message.origin](IoStatus status) {
                 const auto it = live_.find(id);
                 if (it == live_.end()) return;
                 it->second.relocating = false;
                 if (!status.ok()) return;  // the old copies stay pinned
                 supersede(it->second, copy, /*commit=*/true);
                 collect_segments();
               });
  return true;
}

// Deletes dead segments, oldest first and one folder sync each, so that a crash can never
// bring back an older segment whose records a deleted newer one cancelled.
void LogSpool::collect_segments() {
  if (collecting_) return;
  std::vector<std::shared_ptr<Segment>> dead;
  for (const auto& [number, segment] : segments_) {
    if (segment == current_ || segment->refs > 0 || !segment->waiters.empty() ||
        segment->sync_running) {
      break;
    }
    dead.push_back(segment);
  }
  if (dead.empty()) return;
  collecting_ = true;
  auto deleted = std::make_shared<std::size_t>(0);
  auto work = [files = files_, dead, deleted, dir = path("log", "")] {
    for (const auto& segment : dead) {
      const IoStatus removed = files->remove(segment->path);
      if (!removed.ok() && removed.error->code != IoErrc::not_found) break;
      if (!files->sync_dir(dir).ok()) break;
      ++*deleted;
    }
  };
  files_->background(std::move(work), [this, alive = std::weak_ptr<int>(alive_), dead, deleted] {
    if (alive.expired()) return;
    collecting_ = false;
    for (std::size_t i = 0; i < *deleted; ++i) segments_.erase(dead[i]->number);
    if (*deleted == dead.size()) collect_segments();
  });
}

// ---- The spool operations of runtime::Io.

IoResult<SpoolWriterId> LogSpool::create(std::string_view id) {
  if (!valid_spool_id(id)) return io_failure(IoErrc::invalid, "spool_create: bad id");
  const IoStatus opened = ensure_loaded();
  if (!opened.ok()) return io_failure(opened.error->code, opened.error->detail);
  const bool open_writer = std::any_of(writers_.begin(), writers_.end(),
                                       [&](const auto& w) { return w.second->id == id; });
  if (open_writer || live_.count(std::string(id)) != 0 || committing_.count(std::string(id)) != 0)
    return io_failure(IoErrc::invalid, "spool_create: id " + std::string(id) + " exists");
  auto writer = std::make_unique<Writer>();
  writer->files = files_;
  writer->id = std::string(id);
  const SpoolWriterId writer_id = next_writer_++;
  writers_.emplace(writer_id, std::move(writer));
  return writer_id;
}

IoStatus LogSpool::append(SpoolWriterId id, std::span<const char> bytes) {
  const auto it = writers_.find(id);
  if (it == writers_.end())
    return IoStatus::failure(IoErrc::invalid, "spool_append: unknown writer");
  Writer& writer = *it->second;
  if (writer.bytes + bytes.size() > options_.file_bytes_max)
    return IoStatus::failure(IoErrc::no_space, "spool_append: message larger than the spool limit");
  if (writer.file < 0 && writer.body.size() + bytes.size() <= options_.inline_body_max) {
    writer.body.append(bytes.data(), bytes.size());  // the common case: no file at all
    writer.bytes += bytes.size();
    return IoStatus::success();
  }
  if (writer.file < 0) {
    auto file = files_->open_file(path("tmp", writer.id + ".body.tmp"), OpenMode::create_truncate);
    if (!file) return as_disk_error(failure_of(file.error()));
    writer.file = *file;
    const IoStatus spilled = files_->write_at(writer.file, 0, {writer.body});
    if (!spilled.ok()) return as_disk_error(spilled);
    std::string().swap(writer.body);
  }
  const IoStatus status =
      files_->write_at(writer.file, writer.bytes, {std::string_view(bytes.data(), bytes.size())});
  if (!status.ok()) return as_disk_error(status);
  writer.bytes += bytes.size();
  return IoStatus::success();
}

void LogSpool::commit(SpoolWriterId id, std::string envelope, Io::StatusHandler on_done) {
  const auto it = writers_.find(id);
  if (it == writers_.end() || !envelope_fits(envelope, options_.file_bytes_max)) {
    const bool unknown = it == writers_.end();
    if (!unknown) discard(id);
    post_status(std::move(on_done),
                unknown ? IoStatus::failure(IoErrc::invalid, "spool_commit: unknown writer")
                        : IoStatus::failure(IoErrc::no_space, "spool_commit: envelope too large"));
    return;
  }
  std::unique_ptr<Writer> writer = std::move(it->second);
  writers_.erase(it);
  if (writer->file < 0) {
    commit_record(writer->id, envelope, writer->body, false, std::move(on_done));
  } else {
    commit_external(std::move(writer), std::move(envelope), std::move(on_done));
  }
}

void LogSpool::discard(SpoolWriterId id) {
  const auto it = writers_.find(id);
  if (it == writers_.end()) return;
  if (it->second->file >= 0) (void)files_->remove(path("tmp", it->second->id + ".body.tmp"));
  writers_.erase(it);  // closes the file
}

void LogSpool::update_envelope(std::string_view id, std::string envelope,
                               Io::StatusHandler on_done) {
  if (!valid_spool_id(id) || !envelope_fits(envelope, options_.file_bytes_max)) {
    post_status(std::move(on_done),
                IoStatus::failure(IoErrc::invalid, "spool_update_envelope: bad id or size"));
    return;
  }
  const IoStatus opened = ensure_loaded();
  const std::string mid(id);
  const auto it = opened.ok() ? live_.find(mid) : live_.end();
  if (it == live_.end()) {
    post_status(std::move(on_done),
                opened.ok() ? IoStatus::failure(IoErrc::not_found,
                                                "spool_update_envelope: no message " + mid)
                            : opened);
    return;
  }
  auto appended = append_record(spool_log::RecordKind::envelope, 0, mid, envelope, "");
  if (!appended) {
    post_status(std::move(on_done), failure_of(appended.error()));
    return;
  }
  LiveMessage& message = it->second;
  pin(message, message.envelope, Pin::Part::envelope);  // until a newer one is durable
  message.envelope = Located{appended->segment, appended->envelope_offset, envelope.size()};
  ref(message.envelope);
  when_durable(
      appended->segment, appended->end,
      [this, mid, written = message.envelope, on_done = std::move(on_done)](IoStatus status) {
        const auto found = live_.find(mid);
        if (status.ok() && found != live_.end())
          supersede(found->second, written, /*commit=*/false);
        on_done(status);
        collect_segments();
      });
}

IoResult<std::vector<SpoolEntry>> LogSpool::list() {
  return load();
}

void LogSpool::flush_at_exit() {
  for (const auto& [number, segment] : segments_) {
    if (segment->written > segment->synced) (void)files_->sync(segment->file);
    segment->waiters.clear();
  }
}

IoResult<BodyPlace> LogSpool::body_place(std::string_view id) {
  if (!valid_spool_id(id)) return io_failure(IoErrc::invalid, "spool: bad id");
  const IoStatus opened = ensure_loaded();
  if (!opened.ok()) return io_failure(opened.error->code, opened.error->detail);
  const auto it = live_.find(std::string(id));
  if (it == live_.end())
    return io_failure(IoErrc::not_found, "spool: no message " + std::string(id));
  const Located& body = it->second.body;
  if (!body.segment) {
    return BodyPlace{path("body", id), -1, 0, std::numeric_limits<std::uint64_t>::max()};
  }
  return BodyPlace{body.segment->path, body.segment->file, body.offset, body.bytes};
}

IoResult<std::string> LogSpool::read_body(std::string_view id) {
  auto place = body_place(id);
  if (!place) return io_failure(place.error().code, place.error().detail);
  if (place->file >= 0) return files_->read_at(place->file, place->offset, place->bytes);
  auto file = files_->open_file(place->path, OpenMode::existing);
  if (!file) return io_failure(IoErrc::io_error, file.error().detail);
  auto size = files_->size(*file);
  auto body = size ? files_->read_at(*file, 0, *size)
                   : IoResult<std::string>(io_failure(IoErrc::io_error, size.error().detail));
  files_->close(*file);
  if (body && body->size() > options_.file_bytes_max)
    return io_failure(IoErrc::io_error, "read " + place->path + ": larger than the limit");
  return body;
}

IoResult<std::string> LogSpool::read_envelope(std::string_view id) {
  const IoStatus opened = ensure_loaded();
  if (!opened.ok()) return io_failure(opened.error->code, opened.error->detail);
  const auto it = live_.find(std::string(id));
  if (it == live_.end())
    return io_failure(IoErrc::not_found, "spool: no message " + std::string(id));
  const Located& at = it->second.envelope;
  return files_->read_at(at.segment->file, at.offset, at.bytes);
}

void LogSpool::remove(std::string_view id, Io::StatusHandler on_done) {
  if (!valid_spool_id(id)) {
    post_status(std::move(on_done), IoStatus::failure(IoErrc::invalid, "spool_remove: bad id"));
    return;
  }
  const IoStatus opened = ensure_loaded();
  const std::string mid(id);
  const auto it = opened.ok() ? live_.find(mid) : live_.end();
  if (it == live_.end() || it->second.removing) {
    post_status(std::move(on_done),
                opened.ok()
                    ? IoStatus::failure(IoErrc::not_found, "spool_remove: no message " + mid)
                    : opened);
    return;
  }
  auto appended = append_record(spool_log::RecordKind::remove, 0, mid, "", "");
  if (!appended) {
    post_status(std::move(on_done), failure_of(appended.error()));
    return;
  }
  it->second.removing = true;
  auto removed = [this, mid, on_done = std::move(on_done)](IoStatus status) {
    const auto found = live_.find(mid);
    if (found != live_.end()) {
      if (status.ok()) {
        const bool external = !found->second.body.segment;
        release_all(found->second);
        live_.erase(found);
        if (external)
          files_->background(
              [files = files_, body = path("body", mid)] { (void)files->remove(body); }, [] {});
      } else {
        found->second.removing = false;
      }
    }
    on_done(status);
    collect_segments();
  };
  // Nobody waits for a removal: it rides on the next sync.
  when_durable(appended->segment, appended->end, std::move(removed), /*urgent=*/false);
}

}  // namespace tern::runtime::spool
