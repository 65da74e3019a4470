#pragma once
// The replay journal as a running service (issue 4, docs/journal.md): where
// the data path puts a transaction the secondary did not apply, and the relay
// that applies those transactions to the secondary, in order, with backoff,
// an idempotency marker and a dead letter.
//
// Stores (migration.journal.store):
//   table  pgdual.journal and pgdual.dead_letter in each database on the
//          primary (the schema is migration.journal.schema). Every pgdual
//          instance may append; exactly one relay per database applies the
//          entries, elected with a session advisory lock on the primary.
//   file   FileJournal (journal_file.hpp) in migration.journal.directory:
//          this instance's records only, replayed by this instance.
//
// Two ways in:
//   - append(): after the primary committed (strategies sync and async with
//     on_secondary_failure: continue). The service's own thread writes it
//     (libpq insert on the primary, or the file), then calls back.
//   - insert_sql(): strategy outbox. The session runs the INSERT on its own
//     primary connection inside the client's transaction, so the record
//     commits atomically with the write; then it calls note_appended().
//
// Ordering. Table ids come from a sequence, taken when the record is
// inserted, which is at the end of the client's transaction: a transaction
// that waited for another's row locks inserts its record after the other
// committed, so conflicting transactions are applied in commit order. The
// relay applies pending entries in id order and never skips a pending entry.
//
// The gate, per database. While this instance has entries of a database not
// yet applied (or a journaled transaction still open, or an append in
// flight), that database's sessions journal their write transactions instead
// of sending them to the secondary, so the secondary sees this instance's
// transactions in the primary's order. A database the relay cannot count
// keeps only its own gate open; one that does not exist is forgotten.
//
// Thread safety: every member may be called from any thread; nothing here
// blocks the caller on I/O (append and the relay run on the service's
// threads).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "journal/record/record.hpp"

namespace pgdual::metrics {
class Metrics;
}

namespace pgdual::journal {

class JournalService {
 public:
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;
  // ok = durably stored; error says why not (the caller then records the
  // tables for reconciliation).
  using AppendDone = std::function<void(bool ok, const std::string& error)>;

  JournalService(metrics::Metrics& metrics, ConfigSource config);
  ~JournalService();  // stop()
  JournalService(const JournalService&) = delete;
  JournalService& operator=(const JournalService&) = delete;

  // Starts the appender and relay threads, and the backfill watch (backfill_watch.hpp), which
  // exports the backfill job's progress and keeps the reconciliation queue whatever the journal's
  // settings (idempotent). Creates the schema objects it needs lazily, per database, on first
  // use.
  void start();
  // Stops and joins the threads; appends still queued are completed first
  // (bounded by their connect timeouts) so an acknowledged-to-be-journaled
  // transaction is not dropped on a graceful shutdown. `clean`: every session
  // ended on its own, so nothing queued under strategy async was dropped
  // (recorded in <schema>.instances; a crash or a cut-off session is not clean).
  void stop(bool clean = true);

  // migration.journal.instance, or the host name when that is empty.
  const std::string& instance() const;

  // ---- the data path (never blocks)
  // Whether sessions of `database` journal their write transactions now
  // (each database has its own gate: journal/gate.hpp).
  bool gate_active(const std::string& database) const;
  // A session of `database` starts journaling a transaction: opens that
  // database's gate and keeps it open until the matching leave_journaled().
  void enter_journaled(const std::string& database);
  void leave_journaled(const std::string& database);
  // Stores a transaction the primary committed and the secondary did not
  // apply. `database` is the client's database (where the table store
  // lives). record.instance is filled in when empty. `done` runs on a
  // service thread, exactly once.
  void append(std::string database, JournalRecord record, AppendDone done);
  // Outbox: the INSERT of one record into the table store, for the
  // session's primary connection (simple query, no parameters).
  std::string insert_sql(const JournalRecord& record) const;
  // Strategy async: records (table store) that this instance writes these tables, before such
  // a write is acknowledged, so a crash that loses writes queued in memory names them at the
  // next start. True when they are recorded already (then `done` is not called); else `done`
  // runs on a service thread once stored.
  bool announce_async_tables(const std::string& database, const std::vector<std::string>& tables,
                             AppendDone done);
  // Outbox: the statements (one simple Query string, in its own transaction) that create the
  // journal tables if missing, for a session to run on its primary connection before its first
  // in-band insert; `key` names that primary and database, and is remembered once done.
  std::string schema_sql() const;
  bool schema_ready(const std::string& key) const;
  void note_schema_ready(const std::string& key);
  // An in-band insert committed (outbox): the relay looks at once.
  void note_appended(const std::string& database);
  // The databases sessions write; the relay serves these and
  // migration.journal.databases. True the first time a database is seen: the
  // gate then stays open until the relay has counted its entries (a session
  // may wait a moment for that, so it does not journal needlessly).
  bool note_database(const std::string& database);
  // A database a session of this instance uses, whatever the journal's settings: the backfill
  // watch (journal/backfill_watch.hpp) reads the backfill job's progress and the reconciliation
  // queue there on the new store.
  void note_session_database(const std::string& database);
  // The relay has counted that database's journal at least once.
  bool looked_at(const std::string& database) const;

  // ---- operators, rollback checks
  struct Status {
    bool known = false;       // false until every database known now has been counted
    std::size_t records = 0;  // pending entries, all instances
    std::uint64_t bytes = 0;
    double oldest_age_seconds = 0;  // 0 when empty
    std::size_t dead_letters = 0;   // rows in the dead letter
    bool relay_active = false;      // this instance holds the relay lock somewhere
  };
  Status status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgdual::journal
