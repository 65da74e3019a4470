#pragma once
// The replayer's decisions, kept pure so they can be tested without a server:
// how long to wait before the next attempt, whether a secondary error is worth
// retrying, when a record goes to the dead letter, and the SQL that makes a
// replay idempotent.
//
// Retry rule. The journal is replayed strictly in order, so giving up on a
// record lets later ones overtake it; that is only done for errors retrying
// cannot fix. Retryable errors (the server is down, restarting, overloaded,
// read-only during a failover, or the transaction lost a race) retry forever
// with capped, jittered backoff: the journal waits, which shows in its depth
// and age metrics. Permanent errors (integrity, syntax or access, bad data,
// anything unrecognised, and the configured extra list) are retried until
// `max_attempts` failed attempts, since some clear up by themselves (a table
// whose DDL has not reached the secondary yet), then dead-lettered.
//
// Idempotency. A write that timed out may still have committed on the
// secondary. Each replay therefore runs, inside the replayed transaction, an
// INSERT of its key (marker_key) into pgdual.applied_transactions; the
// primary key turns a second application into "already applied". The replay
// of one record:
//   1. on a clean session (new, or after DISCARD ALL), the record's
//      session_state statements, outside any transaction;
//   2. BEGIN, then applied_marker_sql: no row returned means the record was
//      applied before (by an earlier replay, or by the original transaction
//      when the data path wrote the marker too): ROLLBACK and mark it applied;
//      a transaction still in flight that holds the marker makes this INSERT
//      wait for its outcome instead of racing it;
//   3. the record's statements in order (the client's own BEGIN only draws a
//      WARNING inside the transaction; its COMMIT commits the marker with it);
//   4. COMMIT (a WARNING when the client's COMMIT already did), then
//      FileJournal::mark_applied.
// Statements that refuse to run in a transaction block (VACUUM, CREATE INDEX
// CONCURRENTLY, ...) fail with 25001 there and end in the dead letter.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/sql_quote.hpp"

namespace pgdual::journal::replay {

// The upper bound of the wait before attempt `attempt` (0 = the first retry):
// base * 2^attempt, never above cap, without overflow.
std::chrono::milliseconds backoff_ceiling(std::uint32_t attempt, std::chrono::milliseconds base,
                                          std::chrono::milliseconds cap);
// "Full jitter": uniform in [0, ceiling), from `random` in [0, 1) (clamped),
// so many instances retrying at once spread out instead of arriving together.
std::chrono::milliseconds next_delay(std::uint32_t attempt, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap, double random);

enum class ErrorKind { retryable, permanent };
enum class Decision { retry, dead_letter };

struct Policy {
  std::uint32_t max_attempts = 5;  // failed attempts before a permanent error dead-letters (>= 1)
  // SQLSTATEs ("23505") or classes ("23") to treat as permanent: an entry
  // matches every SQLSTATE it is a prefix of. Wins over the retryable list.
  std::vector<std::string> extra_permanent;
};

// Retryable: no SQLSTATE at all (no answer: connection lost, timeout), class
// 08 connection exception, 53 insufficient resources, 58 system error (I/O),
// 40001 serialization failure, 40P01 deadlock, 55P03 lock not available,
// 57014 query cancelled (statement timeout), 57P01/57P02/57P03 shutdown and
// cannot-connect-now, 57P05 idle session timeout, 25006 read-only transaction
// (a standby during a failover). Permanent: everything else, notably classes
// 22 data exception, 23 integrity violation and 42 syntax or access rule.
ErrorKind classify_sqlstate(std::string_view sqlstate,
                            const std::vector<std::string>& extra_permanent = {});

// `failed_attempts` counts this failure too.
Decision decide(std::string_view sqlstate, std::uint32_t failed_attempts, const Policy& policy);

// SQL text built here is quoted with text/sql_quote.hpp.

inline constexpr std::string_view kDefaultSchema = "pgdual";
inline constexpr std::string_view kAppliedTable = "applied_transactions";

// The idempotency key of a replay: the record's marker when the original
// write may have recorded one itself, else "<instance>:<journal id>".
std::string marker_key(std::string_view marker, std::string_view instance,
                       std::uint64_t journal_id);

// CREATE SCHEMA IF NOT EXISTS and CREATE TABLE IF NOT EXISTS
// <schema>.applied_transactions (key text primary key, applied_at timestamptz
// default now()), in order.
std::vector<std::string> applied_table_ddl(std::string_view schema = kDefaultSchema);
// One row when `key` was applied already.
std::string applied_check_sql(std::string_view schema, std::string_view key);
// INSERT ... ON CONFLICT DO NOTHING RETURNING key: a row when this replay is
// the first application, none when the record was applied before. The data
// path's direct write may run the same statement in its own transaction.
std::string applied_marker_sql(std::string_view schema, std::string_view key);
// Forgets markers applied before `before`: safe once no pending record and no
// original write still in flight can carry those keys (the relay keeps an
// hour of margin before its oldest pending entry).
std::string applied_prune_sql(std::string_view schema,
                              std::chrono::system_clock::time_point before);

}  // namespace pgdual::journal::replay
