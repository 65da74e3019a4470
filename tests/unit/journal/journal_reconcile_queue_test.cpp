// journal/reconcile_queue: what one queue row counts as unresolved, and the schema and
// parameters its statements use.

#include <catch2/catch.hpp>

#include "journal/reconcile_queue.hpp"

using pgdual::journal::reconcile_queue_ddl;
using pgdual::journal::reconcile_queue_mark_sql;
using pgdual::journal::reconcile_queue_read_sql;
using pgdual::journal::reconcile_queue_resolve_sql;
using pgdual::journal::reconcile_unresolved;

TEST_CASE("unresolved counts the marks not yet covered plus the differences left",
          "[journal][reconcile_queue]") {
  CHECK(reconcile_unresolved(0, 0, 0) == 0);
  CHECK(reconcile_unresolved(5, 3, 0) == 2);
  CHECK(reconcile_unresolved(5, 5, 0) == 0);
  CHECK(reconcile_unresolved(5, 5, 4) == 4);
  CHECK(reconcile_unresolved(7, 2, 4) == 9);
  CHECK(reconcile_unresolved(0, 0, 1) == 1);
}

TEST_CASE("unresolved never goes negative", "[journal][reconcile_queue]") {
  // resolved above marked (a row edited by hand) resolves every mark and no more; a negative
  // difference count adds nothing.
  CHECK(reconcile_unresolved(3, 5, 0) == 0);
  CHECK(reconcile_unresolved(3, 5, 2) == 2);
  CHECK(reconcile_unresolved(5, 3, -1) == 2);
  CHECK(reconcile_unresolved(0, 9, -4) == 0);
}

TEST_CASE("unresolved holds 64-bit counts", "[journal][reconcile_queue]") {
  const std::int64_t big = std::int64_t{1} << 40;
  CHECK(reconcile_unresolved(big + 10, big, 0) == 10);
  CHECK(reconcile_unresolved(big, 0, big) == 2 * big);
}

TEST_CASE("the queue's statements name the quoted schema and their parameters",
          "[journal][reconcile_queue]") {
  CHECK(reconcile_queue_ddl("pgdual").find("CREATE SCHEMA IF NOT EXISTS \"pgdual\"; CREATE TABLE "
                                           "IF NOT EXISTS \"pgdual\".reconcile_queue (") == 0);
  CHECK(reconcile_queue_ddl("odd\"name").find("\"odd\"\"name\".reconcile_queue") !=
        std::string::npos);
  const std::string mark = reconcile_queue_mark_sql("pgdual");
  CHECK(mark.find("INSERT INTO \"pgdual\".reconcile_queue") == 0);
  CHECK(mark.find("$1, $2::bigint") != std::string::npos);
  CHECK(mark.find("marked = q.marked + EXCLUDED.marked") != std::string::npos);
  CHECK(reconcile_queue_read_sql("pgdual") ==
        "SELECT table_name, marked, resolved, differences, last_marked, last_reconciled, note "
        "FROM \"pgdual\".reconcile_queue ORDER BY table_name");
  const std::string resolve = reconcile_queue_resolve_sql("pgdual");
  // A resolution never moves `resolved` back (two reconciles finishing out of order).
  CHECK(resolve.find("resolved = greatest(q.resolved, EXCLUDED.resolved)") != std::string::npos);
  CHECK(resolve.find("differences = EXCLUDED.differences") != std::string::npos);
  CHECK(resolve.find("$3::bigint") != std::string::npos);
  CHECK(resolve.find("nullif($4, '')") != std::string::npos);
}
