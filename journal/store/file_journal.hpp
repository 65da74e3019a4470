#pragma once
// The replay journal as a local append-only file, for setups that forbid an
// extra table on the primary. One directory per pgdual instance:
//
//   journal.log      framed records, appended and fsynced one by one
//   state            the outcome watermark (which ids are applied or dead)
//   dead-letter.log  one JSON line per record given up on, full context
//   lock             flock'ed while open: one process per directory
//
// Records are replayed in id order, so outcomes are kept as a watermark
// ("every id <= W is done") plus the few done ids above it, and the file is
// never rewritten to record one. When everything is done the journal file is
// emptied; when the done prefix grows large it is compacted (copied, fsynced,
// renamed into place). Layout and recovery rules: journal_file_io.hpp.
//
// Crash safety: append returns only after fsync, so an acknowledged record
// survives; a crash mid-append leaves a torn last frame that open() truncates
// and counts. An outcome is durable when mark_applied/mark_dead return; if
// pgdual dies between the secondary's COMMIT and mark_applied, the record is
// replayed again, which the applied_transactions check on the secondary
// (replay_policy.hpp) turns into a no-op. mark_dead writes the dead letter
// before the outcome, so a crash in between can duplicate a dead-letter line
// but never lose one.
//
// Operators: inspect dead-letter.log with jq; purge through purge() (the
// rollback plan's explicit purge), never by deleting `state` alone: it holds
// the next id, and a reissued id would look already applied on the secondary.
//
// Thread safety: every member may be called from any thread (one mutex; fsync
// happens under it, so appends are serialised).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "journal/record/record.hpp"
#include "journal/store/file_io.hpp"

namespace pgdual::journal {

class FileJournal {
 public:
  using MaybeError = std::optional<std::string>;  // nullopt = success

  struct Options {
    std::size_t max_record_bytes = 256u << 20;  // larger records are refused by append
    // Compact once the done prefix of journal.log is at least this large and
    // at least half the file.
    std::uint64_t compact_after_bytes = 64u << 20;
    // The id of a new journal's first record (no state file, no records).
    // 0 = microseconds since the Unix epoch: a journal whose directory was
    // lost (an emptyDir volume, a wiped disk) then does not reissue ids that
    // the secondary's applied_transactions table still holds as applied,
    // which would make their replays look done and skip them.
    std::uint64_t first_id = 0;
  };
  struct AppendResult {
    std::uint64_t id = 0;
    std::string error;  // empty on success
    bool ok() const { return error.empty(); }
  };
  struct PendingResult {
    std::vector<JournalRecord> records;  // oldest first
    std::string error;                   // a record could not be read back: stop there
  };
  struct Depth {
    std::size_t records = 0;
    std::uint64_t bytes = 0;  // on-disk size of the pending frames
  };
  struct Recovery {
    std::size_t records_found = 0;  // intact records in journal.log at open
    std::size_t pending = 0;        // of which not yet applied or dead
    std::size_t torn_tails = 0;     // 0 or 1: a torn last record was truncated
    std::uint64_t torn_bytes = 0;   // bytes truncated away
  };

  FileJournal() = default;
  explicit FileJournal(Options options) : options_(options) {}
  ~FileJournal() { close(); }
  FileJournal(const FileJournal&) = delete;
  FileJournal& operator=(const FileJournal&) = delete;

  // Creates the directory if needed, takes its lock, recovers. On error the
  // journal stays closed.
  MaybeError open(const std::string& directory);
  void close();

  // Assigns record.id (the next id; ids are never reused) and created_at when
  // unset, writes and fsyncs one frame. The id once durable, else an error
  // and record.id is left 0.
  AppendResult append(JournalRecord& record);
  // Up to `limit` of the oldest records neither applied nor dead, id order,
  // with the attempts and last error noted since open.
  PendingResult pending(std::size_t limit) const;
  // In memory only (a restart starts counting again, which only delays a
  // dead letter): one more failed attempt, for the dead-letter context.
  MaybeError note_failure(std::uint64_t id, std::string_view sqlstate, std::string_view error);
  // Idempotent for ids already done; an error for ids never appended.
  MaybeError mark_applied(std::uint64_t id);
  // Writes the record to dead-letter.log (fsynced), then records the outcome.
  MaybeError mark_dead(std::uint64_t id, std::string_view reason);

  Depth depth() const;
  // How long the oldest pending record has waited; nullopt when none is.
  std::optional<std::chrono::system_clock::duration> oldest_pending_age(
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;
  // Drops every pending record and the dead-letter log (the rollback plan's
  // explicit purge). Ids keep counting from where they were.
  MaybeError purge();

  Recovery recovery() const;
  std::string directory() const;

 private:
  struct Entry {
    std::uint64_t offset = 0;
    std::uint64_t frame_size = 0;
    std::chrono::system_clock::time_point created_at;
    std::uint32_t attempts = 0;
    std::string sqlstate, last_error;
  };

  MaybeError open_locked(const std::string& directory);
  void close_locked();
  std::optional<JournalRecord> read_locked(std::uint64_t id, const Entry& entry,
                                           std::string& error) const;
  MaybeError mark_done_locked(std::uint64_t id);
  MaybeError compact_locked();
  MaybeError truncate_journal_locked(std::uint64_t size);

  Options options_;
  mutable std::mutex mutex_;
  std::string directory_;
  int journal_fd_ = -1, dead_letter_fd_ = -1, lock_fd_ = -1;
  file_io::JournalState state_;
  std::map<std::uint64_t, Entry> pending_;  // by id
  std::uint64_t pending_bytes_ = 0;
  std::uint64_t end_offset_ = 0;  // where the next frame goes
  std::string broken_;            // set when a failed write could not be undone
  Recovery recovery_;
};

}  // namespace pgdual::journal
