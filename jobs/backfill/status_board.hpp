#pragma once
// What each table's copy has done so far, shared between the workers that copy and the thread
// that draws the progress bars and writes the summary. Thread safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pgdual::jobs::backfill {

struct TableStatus {
  std::string table;
  std::string state = "pending";  // pending, copying, paused, done, failed
  std::optional<std::int64_t> estimated_rows;
  std::int64_t rows_copied = 0;       // inserted: missing on the new store
  std::int64_t rows_skipped = 0;      // already there, identical
  std::int64_t rows_overwritten = 0;  // already there, different: set to the old store's value
  std::int64_t rows_replaced = 0, bytes = 0, chunks = 0;
  double rows_per_second = 0;      // of the last chunks (decaying average)
  double seconds = 0;              // copying time in this run
  std::string error;               // why it failed
  std::string note;                // why it needs a reconciliation although it is done
  std::int64_t journal_mark = -1;  // the journal's id sequence when its copy began (-1: none)
  std::int64_t rows_seen() const { return rows_copied + rows_skipped + rows_overwritten; }
};

// One row per table, changed by the worker that owns the table and copied whole by the thread
// that draws (the backfill's TableStatus, the reconcile's TableReport).
template <class Row>
class Board {
 public:
  explicit Board(std::vector<Row> tables) : tables_(std::move(tables)) {}

  void update(std::size_t index, const std::function<void(Row&)>& change) {
    std::lock_guard lock(mutex_);
    change(tables_[index]);
  }
  std::vector<Row> snapshot() const {
    std::lock_guard lock(mutex_);
    return tables_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Row> tables_;
};

using StatusBoard = Board<TableStatus>;

}  // namespace pgdual::jobs::backfill
