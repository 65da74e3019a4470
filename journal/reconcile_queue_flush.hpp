#pragma once
// The reconciliation queue's part of the backfill watch's pass (backfill_watch.hpp). On the
// watch's connection to one database of the new store it
//   1. adds the marks this instance made since the last pass
//      (metrics::JournalMetrics::count_reconciliation) to <schema>.reconcile_queue, creating the
//      table on the first flush of a connection, all in one transaction: a failed flush gives the
//      marks back to be tried again next pass, so none is lost while the new store is away;
//   2. reads the queue (when the table exists) for metrics::ReconcileMetrics.
// The queue's SQL is journal/reconcile_queue.hpp; `pgdual reconcile --continuous` works through
// the same rows.

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libpq/connection.hpp"
#include "metrics/journal_metrics.hpp"
#include "metrics/reconcile_metrics.hpp"

namespace pgdual::journal {

using ReconciliationMarks = metrics::JournalMetrics::ReconciliationMarks;

// One database's queue, as the watch keeps it between passes.
struct ReconcileQueueState {
  // The table is known to exist (seen, or created by a flush): neither looked for nor created
  // again until the connection is replaced or a statement finds it gone.
  bool table_ready = false;
  bool flush_logged = false;  // a failure of this streak is logged
  bool read_logged = false;
  std::vector<metrics::ReconcileQueueRow> rows;  // the last read
};

// Marks taken from JournalMetrics for one pass, by the new store's dbname (a backend dbname,
// when set, stands for every client database, as for the watch's reads). Whatever is still here
// when it goes (not flushed: the store was away, the pass stopped or threw) is given back.
class PendingMarks {
 public:
  PendingMarks(metrics::JournalMetrics& journal, const std::optional<std::string>& backend_dbname);
  ~PendingMarks();
  PendingMarks(const PendingMarks&) = delete;
  PendingMarks& operator=(const PendingMarks&) = delete;

  const std::map<std::string, ReconciliationMarks>& by_dbname() const { return by_dbname_; }
  // The marks of `dbname` (empty when none); erase(dbname) once they are in the queue.
  const ReconciliationMarks& of(const std::string& dbname) const;
  void erase(const std::string& dbname) { by_dbname_.erase(dbname); }

 private:
  metrics::JournalMetrics& journal_;
  std::map<std::string, ReconciliationMarks> by_dbname_;
};

// Reads and writes one database's queue. `stopping` keeps a shutdown out of the log.
class ReconcileQueueSync {
 public:
  ReconcileQueueSync(std::string schema, pg::Cancelled stopping)
      : schema_(std::move(schema)), stopping_(std::move(stopping)) {}

  // Steps 1 and 2 above. `marks` leave `pending` once they are in the queue. Returns false when
  // the connection broke (the caller drops it; the next connection runs the DDL again).
  bool run(PGconn* conn, const std::string& dbname, ReconcileQueueState& state,
           PendingMarks& pending, const pg::Cancelled& cancelled) const;

  // One row of reconcile_queue_read_sql's first four columns as text (table_name, marked,
  // resolved, differences); nullopt when a number does not parse.
  using Fields = std::array<std::string, 4>;
  static std::optional<metrics::ReconcileQueueRow> parse_row(const std::string& database,
                                                             const Fields& fields);
  static std::string exists_sql(const std::string& schema);

 private:
  pg::Reply flush(PGconn* conn, const ReconciliationMarks& marks, ReconcileQueueState& state,
                  const pg::Cancelled& cancelled) const;
  pg::Reply read(PGconn* conn, const std::string& dbname, ReconcileQueueState& state,
                 const pg::Cancelled& cancelled) const;

  const std::string schema_;
  const pg::Cancelled stopping_;
};

}  // namespace pgdual::journal
