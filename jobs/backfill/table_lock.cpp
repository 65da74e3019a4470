#include "jobs/backfill/table_lock.hpp"

#include "jobs/backfill/blocking_query.hpp"

namespace pgdual::jobs::backfill {

TableLock lock_table(PGconn* new_store, const std::string& source, std::string& error,
                     std::string_view job) {
  const std::string taken =
      single_value(new_store, "SELECT pg_try_advisory_lock(hashtext($2), hashtext($1))",
                   {source, std::string(job)}, error);
  if (taken.empty()) {
    error = "new store: " + error;
    return TableLock::error;
  }
  return taken == "t" ? TableLock::taken : TableLock::held_elsewhere;
}

void unlock_table(PGconn* new_store, const std::string& source, std::string_view job) {
  std::string ignored;
  single_value(new_store, "SELECT pg_advisory_unlock(hashtext($2), hashtext($1))",
               {source, std::string(job)}, ignored);
}

TableLock probe_table_lock(PGconn* new_store, const std::string& source, std::string& error,
                           std::string_view job) {
  const TableLock lock = lock_table(new_store, source, error, job);
  if (lock == TableLock::taken) unlock_table(new_store, source, job);
  return lock;
}

std::string held_elsewhere_message(const std::string& source, std::string_view job) {
  const bool backfill = job == kBackfillJob;
  return source +
         (backfill ? " is being copied by another pgdual backfill"
                   : " is being compared by another " + std::string(job)) +
         " (its advisory lock is held on the new store)";
}

}  // namespace pgdual::jobs::backfill
