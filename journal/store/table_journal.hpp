#pragma once
// The SQL of the table store (journal_service.hpp): <schema>.journal and
// <schema>.dead_letter in each database on the primary. Pure text builders;
// the I/O is in journal_relay / journal_appender. Every name and value is
// quoted here (text::quote_identifier / quote_literal), so an instance name
// or a table name can hold any character.
//
//   <schema>.journal(id bigserial primary key, instance text not null,
//     created_at timestamptz not null default clock_timestamp(),
//     reason text not null, tables text[] not null default '{}',
//     bytes int not null, attempts int not null default 0,
//     last_sqlstate text, last_error text, record bytea not null)
//   <schema>.dead_letter(id bigint primary key, instance text,
//     created_at timestamptz, died_at timestamptz default now(), reason text,
//     attempts int, sqlstate text, error text, tables text[],
//     statements text, record bytea)
//
// record is encode(JournalRecord) (journal_record.hpp); its id and instance
// inside are not authoritative: the row's id and instance are.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "journal/record/record.hpp"

namespace pgdual::journal::table {

// How many pending entries the relay reads at once.
inline constexpr std::size_t kBatch = 100;

// "schema"."name"
std::string qualified(std::string_view schema, std::string_view name);

// CREATE SCHEMA IF NOT EXISTS, then CREATE TABLE IF NOT EXISTS of both
// tables. Run them in one transaction after ddl_lock_sql: concurrent
// CREATE ... IF NOT EXISTS from several instances can still fail with 23505
// or 42P07 on the catalogs; the advisory lock serialises them.
std::vector<std::string> ddl(std::string_view schema);
// SELECT pg_advisory_xact_lock(<key of "pgdual journal ddl" and the schema>).
std::string ddl_lock_sql(std::string_view schema);

// The relay's election: a session-level advisory lock per database, whose
// key derives from "pgdual journal relay" and the schema (two schemas = two
// independent journals).
std::int64_t relay_lock_key(std::string_view schema);
std::string relay_lock_sql(std::string_view schema);  // SELECT pg_try_advisory_lock(key)

// Literals: '\x0a1b'::bytea (E'' form, see quote_literal), ARRAY[...]::text[].
std::string bytea_literal(std::string_view bytes);
std::string text_array_literal(const std::vector<std::string>& values);

// One INSERT of the record (no parameters, returns nothing); usable inside
// the client's transaction. record.instance must be set. "" when the record
// cannot be encoded (a field of 4 GiB or more).
std::string insert_sql(std::string_view schema, const JournalRecord& record);

// <schema>.instances: one row per pgdual instance, so that a crash under strategy async (which
// loses what was queued in memory) is visible at the next start. async_tables lists the tables
// the instance wrote under async since it started (recorded before the first such write is
// acknowledged); a row found with stopped_cleanly false names the tables to reconcile.
std::string instance_check_sql(std::string_view schema, std::string_view instance);
std::string instance_start_sql(std::string_view schema, std::string_view instance);
std::string instance_async_tables_sql(std::string_view schema, std::string_view instance,
                                      const std::vector<std::string>& tables);
std::string instance_stop_sql(std::string_view schema, std::string_view instance);

// Pending entries, id order: id::text, instance, attempts::text, record; for a
// binary-format result (the text columns are then their plain bytes).
std::string pending_sql(std::string_view schema, std::size_t limit = kBatch);
std::string delete_sql(std::string_view schema, std::uint64_t id);
// One more failed attempt, with the secondary's SQLSTATE and message.
std::string failure_sql(std::string_view schema, std::uint64_t id, std::string_view sqlstate,
                        std::string_view error);
// Moves an entry to the dead letter in one statement (a DELETE ... RETURNING
// feeding an INSERT: atomic on its own). attempts is the final count.
std::string dead_letter_sql(std::string_view schema, std::uint64_t id, std::uint32_t attempts,
                            std::string_view sqlstate, std::string_view error,
                            std::string_view statements);

// One row: pending entries (all instances), their bytes, the oldest one's age
// in seconds (0 when none), this instance's pending entries, dead letters.
std::string monitor_sql(std::string_view schema, std::string_view instance);

// A human-readable list of the record's statements for the dead letter, one
// per line (line breaks inside a statement become spaces). Parameter values
// only when log_parameters is true, else "$1=<redacted>"; COPY data only as
// its size.
std::string statements_text(const JournalRecord& record, bool log_parameters);

}  // namespace pgdual::journal::table
