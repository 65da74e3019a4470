#pragma once
// The reconcile's state on the NEW store (schema: migration.journal.schema):
//   - <schema>.reconcile_progress, one row per table: where the comparison got to (the last key
//     whose range was compared, for --resume), what it found, and the last proof's checksums
//     and verdict (what the cutover gate reads);
//   - <schema>.reconcile_queue (journal/reconcile_queue.hpp): the tables pgdual instances
//     marked; a finished comparison records what it resolved there.

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/reconcile/compare_sql.hpp"

namespace pgdual::jobs::reconcile {

struct SavedProgress {
  std::string state;
  Key last_key;  // empty: from the start
  std::int64_t rows_compared = 0, differences = 0, repaired = 0;
};

struct ProofRecord {
  std::int64_t old_rows = 0, new_rows = 0;
  std::string old_sum, new_sum, verdict, settings;
};

class StateTable {
 public:
  explicit StateTable(std::string schema);  // unquoted

  // Both tables, created if missing (serialised by an advisory lock). "" or the error.
  std::string ensure(PGconn* conn) const;
  // Starts a table: with `resume`, the saved progress when it was left unfinished with the same
  // key columns (nullopt otherwise); without, the row is reset.
  std::optional<SavedProgress> begin(PGconn* conn, const TablePlan& plan, const std::string& job,
                                     bool resume, std::string& error) const;
  std::string record(PGconn* conn, const std::string& table, const Key& last_key,
                     const SavedProgress& totals) const;
  std::string finish(PGconn* conn, const std::string& table, const std::string& state,
                     const std::string& note) const;
  std::string save_proof(PGconn* conn, const std::string& table, const ProofRecord& proof) const;

  // The queue's `marked` for a table (0 when it has no row); -1 with `error` on failure.
  std::int64_t marked(PGconn* conn, const std::string& table, std::string& error) const;
  // Marks up to `marked` resolved; `differences` left (0: none).
  std::string resolve(PGconn* conn, const std::string& table, std::int64_t marked,
                      std::int64_t differences, const std::string& note) const;
  // Tables with marks no comparison has covered: (table, marked).
  std::vector<std::pair<std::string, std::int64_t>> unresolved(PGconn* conn,
                                                               std::string& error) const;

 private:
  std::string schema_;
  std::string progress_;  // "schema".reconcile_progress
};

}  // namespace pgdual::jobs::reconcile
