// FileJournal: the in-memory index of pending records over journal.log, and
// the order of writes that keeps it crash-safe (see journal_file.hpp).

#include "journal/store/file_journal.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>

#include "journal/store/dead_letter.hpp"

namespace pgdual::journal {

namespace io = file_io;

namespace {

std::uint64_t first_id(const FileJournal::Options& options) {
  if (options.first_id != 0) return options.first_id;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  return micros > 0 ? static_cast<std::uint64_t>(micros) : 1;
}

}  // namespace

FileJournal::MaybeError FileJournal::open(const std::string& directory) {
  std::lock_guard lock(mutex_);
  if (lock_fd_ >= 0) return "journal already open at " + directory_;
  auto error = open_locked(directory);
  if (error) close_locked();
  return error;
}

void FileJournal::close() {
  std::lock_guard lock(mutex_);
  close_locked();
}

FileJournal::MaybeError FileJournal::open_locked(const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return "cannot create journal directory " + directory + ": " + ec.message();
  directory_ = directory;
  const std::string lock_path = directory + "/lock";
  lock_fd_ = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return io::errno_error("open", lock_path);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return io::errno_error("lock", lock_path);
    return "journal directory " + directory + " is in use (its lock file is held)";
  }
  ::unlink((directory + "/journal.tmp").c_str());  // left by an interrupted compaction
  bool state_found = false;
  if (auto error = io::read_state(directory, state_, state_found)) return error;
  const std::string path = io::journal_path(directory);
  journal_fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (journal_fd_ < 0) return io::errno_error("open", path);
  const std::string dead_path = directory + "/dead-letter.log";
  dead_letter_fd_ = ::open(dead_path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
  if (dead_letter_fd_ < 0) return io::errno_error("open", dead_path);
  if (auto error = io::fsync_directory(directory)) return error;

  auto scan = io::scan_journal(journal_fd_, path, options_.max_record_bytes);
  if (scan.error) return scan.error;
  recovery_ = Recovery{};
  end_offset_ = scan.file_size;
  if (scan.torn_tail()) {
    if (auto error = truncate_journal_locked(scan.valid_end)) return error;
    recovery_.torn_tails = 1;
    recovery_.torn_bytes = scan.file_size - scan.valid_end;
    spdlog::warn("journal {}: truncated a torn last record ({} bytes) left by a crash", path,
                 recovery_.torn_bytes);
  }
  if (!state_found && scan.records.empty()) state_.next_id = first_id(options_);
  pending_.clear();
  pending_bytes_ = 0;
  for (const auto& found : scan.records) {
    state_.next_id = std::max(state_.next_id, found.id + 1);
    if (state_.is_done(found.id)) continue;
    pending_[found.id] = Entry{found.offset, found.frame_size, found.created_at, 0, {}, {}};
    pending_bytes_ += found.frame_size;
  }
  recovery_.records_found = scan.records.size();
  recovery_.pending = pending_.size();
  broken_.clear();
  return std::nullopt;
}

void FileJournal::close_locked() {
  for (int* fd : {&journal_fd_, &dead_letter_fd_, &lock_fd_}) {
    if (*fd >= 0) ::close(*fd);  // closing the lock file releases the flock
    *fd = -1;
  }
  pending_.clear();
  pending_bytes_ = 0;
  end_offset_ = 0;
  state_ = io::JournalState{};
}

FileJournal::AppendResult FileJournal::append(JournalRecord& record) {
  std::lock_guard lock(mutex_);
  AppendResult result;
  if (journal_fd_ < 0) {
    result.error = "journal is not open";
    return result;
  }
  if (!broken_.empty()) {
    result.error = broken_;
    return result;
  }
  if (record.created_at == std::chrono::system_clock::time_point{}) {
    record.created_at = std::chrono::system_clock::now();
  }
  record.id = state_.next_id;
  std::string frame = encode(record);
  if (frame.empty() || frame.size() > options_.max_record_bytes ||
      frame.size() > std::numeric_limits<std::uint32_t>::max()) {
    record.id = 0;
    result.error = "record too large for the journal (limit " +
                   std::to_string(options_.max_record_bytes) + " bytes)";
    return result;
  }
  frame.insert(0, io::frame_header(static_cast<std::uint32_t>(frame.size())));
  const std::string path = io::journal_path(directory_);
  if (!io::pwrite_all(journal_fd_, frame, static_cast<off_t>(end_offset_))) {
    result.error = io::errno_error("append to", path);
    record.id = 0;
    // Take the partial frame back out, or a later open would see it as
    // corruption followed by intact records.
    if (truncate_journal_locked(end_offset_)) broken_ = "journal unusable: " + result.error;
    return result;
  }
  if (::fsync(journal_fd_) != 0) {
    // The caller is told the append failed, so the frame must not come back
    // as a pending record at the next open (the caller may journal the
    // transaction again). After a failed fsync the kernel may also have
    // dropped dirty pages: the file's state is unknown until a reopen.
    result.error = io::errno_error("fsync", path);
    record.id = 0;
    truncate_journal_locked(end_offset_);
    broken_ = "journal unusable until reopened: " + result.error;
    return result;
  }
  pending_[record.id] = Entry{end_offset_, frame.size(), record.created_at, 0, {}, {}};
  pending_bytes_ += frame.size();
  end_offset_ += frame.size();
  ++state_.next_id;
  result.id = record.id;
  return result;
}

std::optional<JournalRecord> FileJournal::read_locked(std::uint64_t id, const Entry& entry,
                                                      std::string& error) const {
  std::string frame;
  const std::string path = io::journal_path(directory_);
  if (!io::pread_exact(journal_fd_, frame, entry.frame_size, static_cast<off_t>(entry.offset))) {
    error = io::errno_error("read", path);
    return std::nullopt;
  }
  auto length = io::parse_frame_header(std::string_view(frame).substr(0, io::kFrameHeaderSize));
  auto record =
      length ? decode(std::string_view(frame).substr(io::kFrameHeaderSize)) : std::nullopt;
  if (!record || record->id != id) {
    error = "record " + std::to_string(id) + " in " + path + " is corrupt";
    return std::nullopt;
  }
  if (entry.attempts > 0) {
    record->attempts += entry.attempts;
    record->sqlstate = entry.sqlstate;
    record->last_error = entry.last_error;
  }
  return record;
}

FileJournal::PendingResult FileJournal::pending(std::size_t limit) const {
  std::lock_guard lock(mutex_);
  PendingResult result;
  for (const auto& [id, entry] : pending_) {
    if (result.records.size() >= limit) break;
    auto record = read_locked(id, entry, result.error);
    if (!record) break;
    result.records.push_back(std::move(*record));
  }
  return result;
}

FileJournal::MaybeError FileJournal::note_failure(std::uint64_t id, std::string_view sqlstate,
                                                  std::string_view error) {
  std::lock_guard lock(mutex_);
  auto entry = pending_.find(id);
  if (entry == pending_.end()) return "journal has no pending record " + std::to_string(id);
  ++entry->second.attempts;
  entry->second.sqlstate = std::string(sqlstate);
  entry->second.last_error = std::string(error);
  return std::nullopt;
}

FileJournal::MaybeError FileJournal::mark_applied(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  return mark_done_locked(id);
}

FileJournal::MaybeError FileJournal::mark_dead(std::uint64_t id, std::string_view reason) {
  std::lock_guard lock(mutex_);
  if (journal_fd_ < 0) return "journal is not open";
  if (state_.is_done(id)) return std::nullopt;
  auto entry = pending_.find(id);
  if (entry == pending_.end()) return "journal has no record " + std::to_string(id);
  std::string error;
  auto record = read_locked(id, entry->second, error);
  if (!record) return error;
  const std::string line = format_dead_letter(*record, reason, std::chrono::system_clock::now());
  const std::string path = directory_ + "/dead-letter.log";
  const off_t size_before = ::lseek(dead_letter_fd_, 0, SEEK_END);
  if (size_before < 0) return io::errno_error("seek", path);
  if (!io::write_all(dead_letter_fd_, line) || ::fsync(dead_letter_fd_) != 0) {
    auto failure = io::errno_error("append to", path);
    if (::ftruncate(dead_letter_fd_, size_before) != 0) {
      spdlog::error("{}: a partial dead-letter line could not be removed", path);
    }
    return failure;  // the record stays pending: nothing is lost
  }
  return mark_done_locked(id);
}

FileJournal::MaybeError FileJournal::mark_done_locked(std::uint64_t id) {
  if (journal_fd_ < 0) return "journal is not open";
  if (state_.is_done(id)) return std::nullopt;
  auto entry = pending_.find(id);
  if (entry == pending_.end()) return "journal has no record " + std::to_string(id);
  io::JournalState next = state_;
  next.done_above.insert(id);
  // Every id below the oldest record still pending is done (or never existed).
  auto oldest_other =
      pending_.begin()->first == id ? std::next(pending_.begin()) : pending_.begin();
  next.done_through = oldest_other == pending_.end() ? next.next_id - 1 : oldest_other->first - 1;
  next.done_above.erase(next.done_above.begin(), next.done_above.upper_bound(next.done_through));
  if (auto error = io::write_state(directory_, next)) return error;
  state_ = std::move(next);
  pending_bytes_ -= entry->second.frame_size;
  pending_.erase(entry);

  // The outcome is durable now; reclaiming space is best effort.
  MaybeError reclaim;
  if (pending_.empty()) {
    if (end_offset_ > 0) reclaim = truncate_journal_locked(0);
  } else {
    const std::uint64_t done_prefix = pending_.begin()->second.offset;
    if (done_prefix >= options_.compact_after_bytes && done_prefix >= end_offset_ / 2) {
      reclaim = compact_locked();
    }
  }
  if (reclaim) spdlog::warn("journal {}: could not reclaim space: {}", directory_, *reclaim);
  return std::nullopt;
}

FileJournal::Depth FileJournal::depth() const {
  std::lock_guard lock(mutex_);
  return Depth{pending_.size(), pending_bytes_};
}

std::optional<std::chrono::system_clock::duration> FileJournal::oldest_pending_age(
    std::chrono::system_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  if (pending_.empty()) return std::nullopt;
  const auto age = now - pending_.begin()->second.created_at;
  return std::max(age, std::chrono::system_clock::duration::zero());  // clock steps back
}

FileJournal::Recovery FileJournal::recovery() const {
  std::lock_guard lock(mutex_);
  return recovery_;
}

std::string FileJournal::directory() const {
  std::lock_guard lock(mutex_);
  return directory_;
}

}  // namespace pgdual::journal
