#pragma once
// Applies one journal record to the secondary with libpq, idempotently
// (the steps and why: replay_policy.hpp):
//   clean session (DISCARD ALL) -> session_state -> BEGIN -> marker INSERT
//   (no row: applied before, ROLLBACK) -> the statements in order -> COMMIT.
// Statements without parameters go as one simple Query (a Query string may
// hold several statements, as the client sent it); with parameters through
// PQexecParams with the recorded types, values and formats; COPY FROM STDIN
// gets its recorded data. The client's own BEGIN draws a WARNING inside our
// transaction, its COMMIT commits ours (marker included) and our COMMIT then
// draws a WARNING: both are success.
//
// Nothing here logs: values never leave this file except inside the server's
// primary error message.

#include <cstdint>
#include <string>
#include <string_view>

#include "journal/record/record.hpp"
#include "libpq/connection.hpp"

namespace pgdual::journal {

struct ReplayResult {
  // give_up: replaying could apply the transaction twice (its outcome on the secondary is
  // unknown): it goes to the dead letter at once, its tables to reconciliation.
  enum class Kind { applied, already_applied, nothing_to_apply, failed, give_up };
  Kind kind = Kind::failed;
  std::string sqlstate;  // failed: the secondary's ("" = no answer)
  std::string error;
  bool broken = false;  // the connection is unusable: drop it
};

// `key` is replay::marker_key(...). record.marker, when the data path set it:
//   "xid:N"   the direct write's transaction on the secondary was N; pg_xact_status(N)
//             decides: committed = already applied, aborted = replay, in progress = retry
//             later, unknown (too old) = give up.
//   "unknown" the direct write's last message was on the wire when the secondary failed and
//             nothing tells whether it committed: give up (never apply twice).
//   other     the key itself (a marker the original write inserted).
// On failure the secondary's transaction has
// been rolled back, unless the connection broke.
ReplayResult replay_record(PGconn* secondary, const JournalRecord& record, std::string_view schema,
                           std::string_view key, const pg::Cancelled& cancelled);

// The record's last statement is a plain ROLLBACK/ABORT: the client's
// transaction ended without committing, so there is nothing to apply.
bool ends_with_rollback(const JournalRecord& record);

// Creates <schema>.applied_transactions on the secondary if missing.
pg::Reply ensure_applied_table(PGconn* secondary, std::string_view schema,
                               const pg::Cancelled& cancelled);

}  // namespace pgdual::journal
