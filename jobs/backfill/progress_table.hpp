#pragma once
// The backfill's state, one row per source table in <schema>.backfill_progress on the NEW store
// (schema: migration.journal.schema). Each chunk updates its row inside the transaction that
// writes the chunk's rows, so the recorded last key is exactly what the new store has: a resume
// after kill -9 or a lost connection starts after it, with no gap and no row copied twice. Every
// pgdual instance reads the same rows to export pgdual_backfill_* (journal/backfill_watch).

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

struct TableProgress {
  std::string state;  // pending, copying, paused, done, failed
  std::vector<std::string> last_key;
  std::int64_t rows_copied = 0, rows_skipped = 0, rows_overwritten = 0, bytes = 0, chunks = 0;
  double seconds = 0;    // copying time over every run so far
  std::string note;      // the error column: why it failed, or needs a reconciliation
  bool same_key = true;  // key_columns is the plan's key
};

// The progress of one chunk, written in the chunk's transaction.
struct ChunkProgress {
  std::vector<std::string> last_key;
  std::int64_t rows_copied = 0, rows_skipped = 0, rows_overwritten = 0, bytes = 0;
  std::int64_t chunk_rows = 0, chunk_ms = 0;
  double rows_per_second = 0;
};

// {"a","b"}: values as the text of a text[] parameter (" and \\ escaped).
std::string text_array(const std::vector<std::string>& values);

// The plan's key column names as a text[] parameter.
std::string key_array(const TablePlan& plan);

class ProgressTable {
 public:
  explicit ProgressTable(std::string schema_quoted);

  // CREATE SCHEMA / TABLE IF NOT EXISTS, serialised by an advisory lock. "" or the error.
  std::string ensure(PGconn* conn) const;
  // The recorded progress of a table; nullopt when none (or on error: `error` set).
  std::optional<TableProgress> load(PGconn* conn, const TablePlan& plan, std::string& error) const;
  // Marks the table started by this job (keeping its progress; `restart` clears it).
  // journal_mark: in, the journal's id sequence now; out, the one recorded when the table's
  // copy began (an earlier run's, when resuming), -1 when none.
  std::string begin(PGconn* conn, const TablePlan& plan, const std::string& job, bool restart,
                    std::int64_t& journal_mark) const;
  // Inside the chunk's transaction.
  std::string record_chunk(PGconn* conn, const std::string& source,
                           const ChunkProgress& chunk) const;
  // done / failed / paused, with an optional note (the error, or why the table needs a
  // reconciliation).
  std::string finish(PGconn* conn, const std::string& source, const std::string& state,
                     const std::string& note) const;

 private:
  std::string table_;  // "schema".backfill_progress
};

}  // namespace pgdual::jobs::backfill
