// The relay's file-store side: this instance's FileJournal, replayed in id
// order into the database each record names.

#include <spdlog/spdlog.h>

#include "journal/relay/relay.hpp"
#include "journal/relay/replay_policy.hpp"
#include "journal/store/table_journal.hpp"

namespace pgdual::journal {

JournalRelay::Look JournalRelay::file_pass(const config::Config& settings, bool can_replay,
                                           bool& more) {
  Look look;
  FileJournal* file = context_.file.get();
  if (!file) {
    // Nothing can have been stored: appends fail while the file is not open.
    look.ok = true;
    return look;
  }
  if (can_replay && backing_off(file_backoff_)) {
    probe(settings, file_backoff_.database);
  } else if (can_replay) {
    auto pending = file->pending(table::kBatch);
    bool stopped = false;
    for (auto& record : pending.records) {
      if (cancelled()) return look;
      const std::string database = record.database;
      Attempt attempt;
      if (database.empty()) {
        attempt.verdict = Verdict::dead;
        attempt.attempts = record.attempts + 1;
        attempt.error = "the record names no database";
      } else {
        attempt = replay_one(settings, database, record,
                             replay::marker_key(record.marker, record.instance, record.id));
      }
      if (attempt.verdict == Verdict::paused) {
        stopped = true;
        break;
      }
      if (attempt.verdict == Verdict::done) {
        file_backoff_.active = false;
        if (auto error = file->mark_applied(record.id)) {
          spdlog::error("journal relay: marking entry {} applied failed: {}", record.id, *error);
          stopped = true;
          break;
        }
        continue;
      }
      file->note_failure(record.id, attempt.sqlstate, attempt.error);
      if (attempt.verdict == Verdict::retry) {
        file_backoff_ = Backoff{true, record.id, database, Clock::now() + attempt.delay};
        stopped = true;
        break;
      }
      file_backoff_.active = false;
      record.attempts = attempt.attempts;
      const std::string reason =
          (attempt.sqlstate.empty() ? std::string("no SQLSTATE") : attempt.sqlstate) + ": " +
          attempt.error;
      if (auto error = file->mark_dead(record.id, reason)) {
        spdlog::error("journal relay: moving entry {} to the dead letter failed: {}", record.id,
                      *error);
        stopped = true;
        break;
      }
      ++file_dead_letters_;
      log_dead(database, record, attempt);
    }
    if (!pending.error.empty()) {
      spdlog::error("journal relay: reading the journal file failed: {}", pending.error);
    } else if (!stopped && pending.records.size() == table::kBatch) {
      more = true;
    }
  }
  const auto depth = file->depth();
  look.ok = true;
  look.records = depth.records;
  look.mine = depth.records;
  look.bytes = depth.bytes;
  look.dead = file_dead_letters_;
  if (auto age = file->oldest_pending_age()) {
    look.oldest_age_seconds = std::chrono::duration<double>(*age).count();
  }
  if (can_replay) {
    for (const auto& [database, secondary] : secondaries_) maybe_prune(settings, database, look);
  }
  return look;
}

}  // namespace pgdual::journal
