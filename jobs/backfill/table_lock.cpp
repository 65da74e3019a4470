#include "jobs/backfill/table_lock.hpp"

#include "jobs/backfill/blocking_query.hpp"

namespace pgdual::jobs::backfill {

TableLock lock_table(PGconn* new_store, const std::string& source, std::string& error) {
  const std::string taken = single_value(
      new_store, "SELECT pg_try_advisory_lock(hashtext('pgdual backfill'), hashtext($1))", {source},
      error);
  if (taken.empty()) {
    error = "new store: " + error;
    return TableLock::error;
  }
  return taken == "t" ? TableLock::taken : TableLock::held_elsewhere;
}

void unlock_table(PGconn* new_store, const std::string& source) {
  std::string ignored;
  single_value(new_store, "SELECT pg_advisory_unlock(hashtext('pgdual backfill'), hashtext($1))",
               {source}, ignored);
}

TableLock probe_table_lock(PGconn* new_store, const std::string& source, std::string& error) {
  const TableLock lock = lock_table(new_store, source, error);
  if (lock == TableLock::taken) unlock_table(new_store, source);
  return lock;
}

std::string held_elsewhere_message(const std::string& source) {
  return source +
         " is being copied by another pgdual backfill (its advisory lock is held on the "
         "new store)";
}

}  // namespace pgdual::jobs::backfill
