/*
 * libpq client for pgdual's integration tests: pipeline mode (named and
 * unnamed statements, an error in the middle of a pipeline, recovery) and
 * query cancellation.
 *
 *   libpq_pipeline CONNINFO
 *
 * Prints one "OK <check> ..." line per check that passed, "FAIL <check> ..."
 * and exits 1 at the first that did not. The caller asserts on the lines.
 */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

static PGconn *conn;

static void fail(const char *check, const char *fmt, ...) {
  va_list ap;
  printf("FAIL %s: ", check);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf(" [%s]\n", PQerrorMessage(conn));
  fflush(stdout);
  exit(1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void exec_ok(const char *sql) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    fail("exec", "%s -> %s %s", sql, PQresStatus(st), PQresultErrorMessage(res));
  PQclear(res);
}

/* Reads the next result of the current pipeline item, which must have the
 * given status, and the NULL that ends the item (except after a sync). */
static PGresult *expect(const char *check, ExecStatusType want) {
  PGresult *res = PQgetResult(conn);
  if (res == NULL) fail(check, "no result, wanted %s", PQresStatus(want));
  if (PQresultStatus(res) != want)
    fail(check, "got %s (%s), wanted %s", PQresStatus(PQresultStatus(res)),
         PQresultErrorMessage(res), PQresStatus(want));
  if (want != PGRES_PIPELINE_SYNC) {
    PGresult *end = PQgetResult(conn);
    if (end != NULL) fail(check, "extra result %s", PQresStatus(PQresultStatus(end)));
  }
  return res;
}

static void send_insert(const char *check, int id, const char *v) {
  char idbuf[16];
  snprintf(idbuf, sizeof idbuf, "%d", id);
  const char *values[2] = {idbuf, v};
  if (!PQsendQueryParams(conn, "INSERT INTO pl (id, v) VALUES ($1, $2)", 2, NULL, values, NULL,
                         NULL, 0))
    fail(check, "PQsendQueryParams");
}

static void send_prepared(const char *check, const char *name, int id, const char *v) {
  char idbuf[16];
  snprintf(idbuf, sizeof idbuf, "%d", id);
  const char *values[2] = {idbuf, v};
  if (!PQsendQueryPrepared(conn, name, 2, values, NULL, NULL, 0))
    fail(check, "PQsendQueryPrepared(%s)", name);
}

static long count_rows(const char *where) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM pl WHERE %s", where);
  PGresult *res = PQexec(conn, sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) fail("count", "%s", sql);
  long n = atol(PQgetvalue(res, 0, 0));
  PQclear(res);
  return n;
}

/* Named and unnamed statements, Describe, many queries in one pipeline. */
static void pipeline_happy_path(void) {
  const char *check = "pipeline";
  if (!PQenterPipelineMode(conn)) fail(check, "PQenterPipelineMode");
  for (int id = 1; id <= 3; id++) send_insert(check, id, "unnamed");
  if (!PQsendPrepare(conn, "ins_named", "INSERT INTO pl (id, v) VALUES ($1, $2) RETURNING id",
                     2, NULL))
    fail(check, "PQsendPrepare(ins_named)");
  send_prepared(check, "ins_named", 4, "named");
  send_prepared(check, "ins_named", 5, "named");
  if (!PQsendDescribePrepared(conn, "ins_named")) fail(check, "PQsendDescribePrepared");
  if (!PQsendPrepare(conn, "", "SELECT count(*) FROM pl WHERE id >= $1", 1, NULL))
    fail(check, "PQsendPrepare(unnamed)");
  const char *one[1] = {"2"};
  if (!PQsendQueryPrepared(conn, "", 1, one, NULL, NULL, 0))
    fail(check, "PQsendQueryPrepared(unnamed)");
  if (!PQpipelineSync(conn)) fail(check, "PQpipelineSync");

  for (int id = 1; id <= 3; id++) PQclear(expect("pipeline insert", PGRES_COMMAND_OK));
  PQclear(expect("pipeline prepare named", PGRES_COMMAND_OK));
  for (int id = 4; id <= 5; id++) {
    PGresult *res = expect("pipeline execute named", PGRES_TUPLES_OK);
    if (atoi(PQgetvalue(res, 0, 0)) != id) fail(check, "RETURNING gave %s", PQgetvalue(res, 0, 0));
    PQclear(res);
  }
  PGresult *desc = expect("pipeline describe", PGRES_COMMAND_OK);
  if (PQnparams(desc) != 2 || PQnfields(desc) != 1)
    fail(check, "describe: %d params %d fields", PQnparams(desc), PQnfields(desc));
  PQclear(desc);
  PQclear(expect("pipeline prepare unnamed", PGRES_COMMAND_OK));
  PGresult *cnt = expect("pipeline execute unnamed", PGRES_TUPLES_OK);
  if (strcmp(PQgetvalue(cnt, 0, 0), "4") != 0) fail(check, "count %s", PQgetvalue(cnt, 0, 0));
  PQclear(cnt);
  PQclear(expect("pipeline sync", PGRES_PIPELINE_SYNC));
  if (!PQexitPipelineMode(conn)) fail(check, "PQexitPipelineMode");
  printf("OK pipeline named+unnamed rows=%ld\n", count_rows("true"));
}

/* Hundreds of queries sent before any result is read. */
static void pipeline_many(int n) {
  const char *check = "pipeline_many";
  if (!PQenterPipelineMode(conn)) fail(check, "PQenterPipelineMode");
  if (!PQsetnonblocking(conn, 1)) { /* nothing: blocking is fine too */ }
  for (int i = 0; i < n; i++) {
    char buf[16];
    snprintf(buf, sizeof buf, "%d", i);
    const char *values[1] = {buf};
    if (!PQsendQueryParams(conn, "SELECT $1::int * 2", 1, NULL, values, NULL, NULL, 0))
      fail(check, "send %d", i);
  }
  if (!PQpipelineSync(conn)) fail(check, "PQpipelineSync");
  /* In non-blocking mode the queue may not be flushed yet: drive it. */
  while (PQflush(conn) == 1) {
    int sock = PQsocket(conn);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(sock, &rd);
    FD_SET(sock, &wr);
    struct timeval tv = {10, 0};
    if (select(sock + 1, &rd, &wr, NULL, &tv) <= 0) fail(check, "select timed out");
    if (FD_ISSET(sock, &rd) && !PQconsumeInput(conn)) fail(check, "PQconsumeInput");
  }
  PQsetnonblocking(conn, 0);
  long sum = 0;
  for (int i = 0; i < n; i++) {
    PGresult *res = expect(check, PGRES_TUPLES_OK);
    sum += atol(PQgetvalue(res, 0, 0));
    PQclear(res);
  }
  PQclear(expect(check, PGRES_PIPELINE_SYNC));
  if (!PQexitPipelineMode(conn)) fail(check, "PQexitPipelineMode");
  long want = (long)n * (n - 1);
  if (sum != want) fail(check, "sum %ld want %ld", sum, want);
  printf("OK pipeline_many n=%d sum=%ld\n", n, sum);
}

/* An error in the middle: later items are PIPELINE_ABORTED up to the sync,
 * the implicit transaction rolls back, the next sync segment works. */
static void pipeline_error(void) {
  const char *check = "pipeline_error";
  if (!PQenterPipelineMode(conn)) fail(check, "PQenterPipelineMode");
  send_insert(check, 100, "before error");
  if (!PQsendQueryParams(conn, "SELECT 1 / $1::int", 1, NULL, (const char *[]){"0"}, NULL, NULL,
                         0))
    fail(check, "send error");
  send_insert(check, 101, "after error");
  send_prepared(check, "ins_named", 102, "after error");
  if (!PQpipelineSync(conn)) fail(check, "PQpipelineSync 1");
  send_insert(check, 103, "next segment");
  if (!PQsendQueryParams(conn, "SELECT count(*) FROM pl WHERE id >= 100", 0, NULL, NULL, NULL,
                         NULL, 0))
    fail(check, "send count");
  if (!PQpipelineSync(conn)) fail(check, "PQpipelineSync 2");

  PQclear(expect("error: first insert", PGRES_COMMAND_OK));
  PGresult *err = expect("error: division", PGRES_FATAL_ERROR);
  const char *sqlstate = PQresultErrorField(err, PG_DIAG_SQLSTATE);
  if (!sqlstate || strcmp(sqlstate, "22012") != 0) fail(check, "sqlstate %s", sqlstate);
  PQclear(err);
  PQclear(expect("error: aborted insert", PGRES_PIPELINE_ABORTED));
  PQclear(expect("error: aborted prepared", PGRES_PIPELINE_ABORTED));
  PQclear(expect("error: sync 1", PGRES_PIPELINE_SYNC));
  PQclear(expect("error: recovery insert", PGRES_COMMAND_OK));
  PGresult *cnt = expect("error: recovery count", PGRES_TUPLES_OK);
  /* 100 rolled back with the failed implicit transaction; 101, 102 never ran. */
  if (strcmp(PQgetvalue(cnt, 0, 0), "1") != 0) fail(check, "count %s", PQgetvalue(cnt, 0, 0));
  PQclear(cnt);
  PQclear(expect("error: sync 2", PGRES_PIPELINE_SYNC));
  if (!PQexitPipelineMode(conn)) fail(check, "PQexitPipelineMode");
  printf("OK pipeline_error sqlstate=22012 aborted=2 recovered rows_ge_100=1\n");

  /* Outside the pipeline the session is healthy and the named statement lives. */
  PGresult *res = PQexecPrepared(conn, "ins_named", 2, (const char *[]){"104", "plain"}, NULL,
                                 NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) fail(check, "exec after pipeline");
  PQclear(res);
  printf("OK after_pipeline rows=%ld\n", count_rows("true"));
}

/* Cancel a pg_sleep(30) (resending the cancel if it raced the query start). */
static void cancel_sleep(void) {
  const char *check = "cancel";
  double start = now_ms();
  if (!PQsendQuery(conn, "SELECT pg_sleep(30)")) fail(check, "PQsendQuery");
  double next_cancel = start + 300;
  PGresult *res = NULL;
  for (;;) {
    if (!PQconsumeInput(conn)) fail(check, "PQconsumeInput");
    if (!PQisBusy(conn)) {
      res = PQgetResult(conn);
      break;
    }
    double now = now_ms();
    if (now - start > 25000) fail(check, "not cancelled after 25 s");
    if (now >= next_cancel) {
      char errbuf[256];
      PGcancel *cancel = PQgetCancel(conn);
      if (!cancel || !PQcancel(cancel, errbuf, sizeof errbuf)) fail(check, "PQcancel: %s", errbuf);
      PQfreeCancel(cancel);
      next_cancel = now + 2000;
    }
    int sock = PQsocket(conn);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(sock, &rd);
    struct timeval tv = {0, 100000};
    select(sock + 1, &rd, NULL, NULL, &tv);
  }
  double elapsed = now_ms() - start;
  if (!res || PQresultStatus(res) != PGRES_FATAL_ERROR)
    fail(check, "status %s", res ? PQresStatus(PQresultStatus(res)) : "none");
  const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  printf("OK cancel sqlstate=%s elapsed_ms=%.0f\n", sqlstate ? sqlstate : "none", elapsed);
  PQclear(res);
  while ((res = PQgetResult(conn)) != NULL) PQclear(res);
  PGresult *after = PQexec(conn, "SELECT 42");
  if (PQresultStatus(after) != PGRES_TUPLES_OK || strcmp(PQgetvalue(after, 0, 0), "42") != 0)
    fail(check, "session unusable after cancel");
  PQclear(after);
  printf("OK after_cancel\n");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONNINFO\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  conn = PQconnectdb(argv[1]);
  if (PQstatus(conn) != CONNECTION_OK) fail("connect", "status %d", PQstatus(conn));
  printf("OK connect server_version=%d\n", PQserverVersion(conn));
  exec_ok("DROP TABLE IF EXISTS pl");
  exec_ok("CREATE TABLE pl (id int PRIMARY KEY, v text)");
  pipeline_happy_path();
  pipeline_many(500);
  pipeline_error();
  cancel_sleep();
  PQfinish(conn);
  printf("OK done\n");
  return 0;
}
