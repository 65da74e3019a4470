// FileJournal's space reclaiming: truncating journal.log (after a failed
// append, at recovery, once everything is done), compacting it (when the done
// prefix is large), and the explicit purge. Each keeps the rule that the
// outcome (state file) is durable before the frames it covers disappear, so a
// crash at any point leaves a journal that reopens to the same pending set.

#include <fcntl.h>
#include <unistd.h>

#include "journal/store/file_journal.hpp"

namespace pgdual::journal {

namespace io = file_io;

FileJournal::MaybeError FileJournal::truncate_journal_locked(std::uint64_t size) {
  const std::string path = io::journal_path(directory_);
  if (::ftruncate(journal_fd_, static_cast<off_t>(size)) != 0) {
    return io::errno_error("truncate", path);
  }
  end_offset_ = size;
  if (::fsync(journal_fd_) != 0) {
    auto error = io::errno_error("fsync", path);
    broken_ = "journal unusable until reopened: " + error;
    return error;
  }
  return std::nullopt;
}

FileJournal::MaybeError FileJournal::compact_locked() {
  const std::uint64_t from = pending_.begin()->second.offset;
  const std::string temporary = directory_ + "/journal.tmp", path = io::journal_path(directory_);
  const int fd = ::open(temporary.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return io::errno_error("open", temporary);
  if (!io::copy_range(journal_fd_, fd, from, end_offset_) || ::fsync(fd) != 0 ||
      ::rename(temporary.c_str(), path.c_str()) != 0) {
    auto error = io::errno_error("compact into", temporary);
    ::close(fd);
    ::unlink(temporary.c_str());
    return error;  // journal.log is untouched
  }
  ::close(journal_fd_);
  journal_fd_ = fd;
  end_offset_ -= from;
  for (auto& [id, entry] : pending_) entry.offset -= from;
  if (auto error = io::fsync_directory(directory_)) {
    // Appends to the new file could vanish with an undurable rename.
    broken_ = "journal unusable until reopened: " + *error;
    return error;
  }
  return std::nullopt;
}

FileJournal::MaybeError FileJournal::purge() {
  std::lock_guard lock(mutex_);
  if (journal_fd_ < 0) return "journal is not open";
  io::JournalState next = state_;
  next.done_through = next.next_id - 1;  // next_id stays: ids are never reused
  next.done_above.clear();
  if (auto error = io::write_state(directory_, next)) return error;
  state_ = std::move(next);
  pending_.clear();
  pending_bytes_ = 0;
  if (auto error = truncate_journal_locked(0)) return error;
  const std::string dead_path = directory_ + "/dead-letter.log";
  if (::ftruncate(dead_letter_fd_, 0) != 0 || ::fsync(dead_letter_fd_) != 0) {
    return io::errno_error("truncate", dead_path);
  }
  return std::nullopt;
}

}  // namespace pgdual::journal
