#include "cdc/ownership.hpp"

#include <chrono>
#include <thread>

#include "cdc/scope.hpp"

namespace pgdual::cdc {

namespace {

using namespace std::chrono_literals;

// Both keys hashed, like the backfill's table lock on the new store, under a name of its own.
constexpr const char* kLockName = "pgdual cdc replication";
constexpr auto kLockWait = 60s;
constexpr const char* kOwnedBy = "owned by pgdual";

}  // namespace

std::string owned_comment(const std::string& database) {
  return std::string(kOwnedBy) + " (strategy cdc, database " + database + ")";
}

bool is_owned(const std::string& comment) { return comment.rfind(kOwnedBy, 0) == 0; }

bool lock_replication(PGconn* old_store, const std::string& database,
                      const pg::Cancelled& cancelled, std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + kLockWait;
  for (;;) {
    const pg::Reply reply =
        run_query(old_store, "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                  {kLockName, database}, cancelled);
    if (!reply.ok) {
      error = "old store: " + reply.error;
      return false;
    }
    if (reply.value(0, 0) == "t") return true;
    if (std::chrono::steady_clock::now() > deadline || (cancelled && cancelled())) {
      error = "another pgdual is changing the replication of database " + database +
              " (its advisory lock on the old store is held): try again when it is done";
      return false;
    }
    std::this_thread::sleep_for(200ms);
  }
}

void unlock_replication(PGconn* old_store, const std::string& database,
                        const pg::Cancelled& cancelled) {
  run_query(old_store, "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
            {kLockName, database}, cancelled);
}

}  // namespace pgdual::cdc
