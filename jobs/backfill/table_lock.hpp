#pragma once
// One backfill job per table at a time: a session advisory lock on the new store, keyed by the
// table, held by the connection that writes the table's chunks. It is taken again whenever that
// connection is replaced, and the server drops it when the job dies (even by kill -9), so a
// second job can never write the same table at the same time, and a dead job never blocks one.

#include <libpq-fe.h>

#include <string>
#include <string_view>

namespace pgdual::jobs::backfill {

enum class TableLock { taken, held_elsewhere, error };

// `job` names the kind of job: a backfill and a reconcile of one table may run together, two of
// one kind may not.
inline constexpr std::string_view kBackfillJob = "pgdual backfill";

TableLock lock_table(PGconn* new_store, const std::string& source, std::string& error,
                     std::string_view job = kBackfillJob);
void unlock_table(PGconn* new_store, const std::string& source,
                  std::string_view job = kBackfillJob);

// Whether another job holds the table now (the lock is taken and let go at once): for the
// refusal up front, before any worker starts.
TableLock probe_table_lock(PGconn* new_store, const std::string& source, std::string& error,
                           std::string_view job = kBackfillJob);

// The refusal's words.
std::string held_elsewhere_message(const std::string& source, std::string_view job = kBackfillJob);

}  // namespace pgdual::jobs::backfill
