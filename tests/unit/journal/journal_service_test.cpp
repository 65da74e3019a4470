// Tests of journal::JournalService. Without a database: appends fail in bounded time
// when the primary is unreachable, stop() returns quickly, the file store
// keeps what it cannot replay, the gate follows appends. With two
// PostgreSQL servers (PGDUAL_JOURNAL_TEST_OLD_PORT / _NEW_PORT on 127.0.0.1,
// user postgres, trust, database "app" with table t(id int primary key,
// v text) on both): end-to-end replay through both stores, the idempotency
// marker, and the dead letter.

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "journal/service.hpp"
#include "metrics/metrics.hpp"

using namespace pgdual;
using namespace pgdual;
using namespace pgdual::journal;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<const config::Config> runtime_with(const config::Config& config) {
  return std::make_shared<const config::Config>(config);
}

config::Config base_config(std::uint16_t old_port, std::uint16_t new_port) {
  config::Config config;
  config.old_backend.port = old_port;
  config.new_backend.port = new_port;
  config.old_backend.user = config.new_backend.user = "postgres";
  config.old_backend.sslmode = config.new_backend.sslmode = config::SslMode::disable;
  config.old_backend.connect_timeout = config.new_backend.connect_timeout = 1000ms;
  config.migration.phase = config::Phase::dual_write;
  config.migration.journal.instance = "test-pod";
  config.migration.journal.retry_base = 10ms;
  config.migration.journal.retry_max = 50ms;
  config.migration.journal.poll_interval = 50ms;
  config.migration.journal.max_attempts = 2;
  return config;
}

journal::JournalRecord insert_record(int id, const std::string& value) {
  journal::JournalRecord record;
  record.reason = "secondary unreachable";
  record.tables = {"public.t"};
  journal::JournalStatement statement;
  statement.sql = "INSERT INTO t VALUES ($1, $2)";
  statement.param_type_oids = {23, 25};
  statement.param_values = {std::to_string(id), value};
  statement.param_formats = {journal::ParamFormat::text, journal::ParamFormat::text};
  record.statements = {journal::JournalStatement{"BEGIN", {}, {}, {}, std::nullopt}, statement,
                       journal::JournalStatement{"COMMIT", {}, {}, {}, std::nullopt}};
  return record;
}

// Runs append and waits for its callback.
std::pair<bool, std::string> append_and_wait(journal::JournalService& service,
                                             const std::string& database,
                                             journal::JournalRecord record) {
  std::promise<std::pair<bool, std::string>> done;
  auto result = done.get_future();
  service.append(database, std::move(record), [&done](bool ok, const std::string& error) {
    done.set_value({ok, error});
  });
  return result.get();
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

std::uint16_t env_port(const char* name) {
  const char* value = std::getenv(name);
  return value ? static_cast<std::uint16_t>(std::atoi(value)) : 0;
}

std::string query_one(std::uint16_t port, const std::string& sql) {
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=app";
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string out = "<error>";
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) {
      out = PQgetvalue(result, 0, 0);
    } else if (PQresultStatus(result) == PGRES_COMMAND_OK) {
      out = "";
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

struct TempDir {
  TempDir() {
    std::string pattern = "/tmp/pgdual-journal-service-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

}  // namespace

TEST_CASE("unreachable primary: the append fails within its retry window, stop is quick") {
  metrics::Metrics metrics;
  auto runtime = runtime_with(base_config(1, 1));  // nothing listens on port 1
  journal::JournalService service(metrics, [runtime] { return runtime; });
  CHECK(service.instance() == "test-pod");
  service.start();
  service.note_database("app");
  CHECK(service.gate_active("app"));

  const auto started = Clock::now();
  auto [ok, error] = append_and_wait(service, "app", insert_record(1, "x"));
  const auto took = Clock::now() - started;
  CHECK_FALSE(ok);
  CHECK(error.find("primary unreachable") != std::string::npos);
  CHECK(error.find("password") == std::string::npos);
  CHECK(took < 20s);  // bounded by the ~5 s retry window, with room for a loaded machine
  // No count of "app" ever succeeded. (This used to race the relay: a first pass that ran
  // before note_database() counted no database and left `known` true; see the next test.)
  CHECK_FALSE(service.status().known);
  CHECK_FALSE(service.looked_at("app"));
  CHECK(service.gate_active("app"));  // unknown: stays open

  const auto stopping = Clock::now();
  service.stop();
  CHECK(Clock::now() - stopping < 10s);  // kStopGrace is 1.5 s; the bound proves it does not hang
}

TEST_CASE("a database noted after a relay pass is not known until it is counted") {
  metrics::Metrics metrics;
  auto runtime = runtime_with(base_config(1, 1));  // nothing listens on port 1
  journal::JournalService service(metrics, [runtime] { return runtime; });
  service.start();
  // With no database known yet, a pass has nothing to count: that (empty) count is complete.
  REQUIRE(eventually([&] { return service.status().known; }));
  // A session's database appears. Its journal may hold entries of an earlier run, and its
  // primary is unreachable: nothing about it is known, so neither is the whole.
  CHECK(service.note_database("app"));
  CHECK_FALSE(service.status().known);
  CHECK(service.gate_active("app"));
  // Several relay passes (poll_interval 50 ms) later it is still not counted, still unknown.
  bool ever_known = false;
  for (const auto until = Clock::now() + 300ms; Clock::now() < until;) {
    ever_known = ever_known || service.status().known;
    std::this_thread::sleep_for(20ms);
  }
  CHECK_FALSE(ever_known);
  CHECK_FALSE(service.looked_at("app"));
  service.stop();
}

// A loopback port that accepts TCP connections (the kernel completes them from the backlog)
// but never answers: a server that hangs during the login.
struct SilentListener {
  int fd = -1;
  std::uint16_t port = 0;
  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        ::listen(fd, 16) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port = ntohs(address.sin_port);
    }
  }
  ~SilentListener() {
    if (fd >= 0) ::close(fd);
  }
};

TEST_CASE("stop is quick while connecting to a server that does not answer") {
  SilentListener silent;
  REQUIRE(silent.port != 0);
  metrics::Metrics metrics;
  auto config = base_config(silent.port, silent.port);
  config.old_backend.connect_timeout = config.new_backend.connect_timeout = 30000ms;
  auto runtime = runtime_with(config);
  journal::JournalService service(metrics, [runtime] { return runtime; });
  service.start();
  service.note_database("app");
  std::this_thread::sleep_for(300ms);
  const auto stopping = Clock::now();
  service.stop();
  CHECK(Clock::now() - stopping < 10s);  // kStopGrace is 1.5 s; the bound proves it does not hang
}

TEST_CASE("insert_sql fills in the instance") {
  metrics::Metrics metrics;
  auto runtime = runtime_with(base_config(1, 1));
  journal::JournalService service(metrics, [runtime] { return runtime; });
  const std::string sql = service.insert_sql(insert_record(1, "x"));
  CHECK(sql.find(R"(INSERT INTO "pgdual"."journal")") == 0);
  CHECK(sql.find("'test-pod'") != std::string::npos);
}

TEST_CASE("file store keeps what it cannot replay and holds the gate open") {
  TempDir dir;
  metrics::Metrics metrics;
  auto config = base_config(1, 1);
  config.migration.journal.store = config::JournalStore::file;
  config.migration.journal.directory = dir.path + "/j";
  auto runtime = runtime_with(config);
  journal::JournalService service(metrics, [runtime] { return runtime; });
  service.start();
  auto [ok, error] = append_and_wait(service, "app", insert_record(1, "x"));
  REQUIRE(ok);
  CHECK(eventually([&] { return service.status().records == 1; }));
  CHECK(service.gate_active("app"));
  std::this_thread::sleep_for(200ms);  // a few relay passes
  CHECK(service.status().records == 1);
  const std::string text = metrics.serialize();
  CHECK(text.find("pgdual_journal_depth_records 1") != std::string::npos);
  CHECK(text.find("pgdual_journal_relay_info{instance=\"test-pod\"} 1") != std::string::npos);
  CHECK(text.find("pgdual_secondary_healthy 0") != std::string::npos);
  service.stop();
}

TEST_CASE("end to end against PostgreSQL: table store") {
  const auto old_port = env_port("PGDUAL_JOURNAL_TEST_OLD_PORT");
  const auto new_port = env_port("PGDUAL_JOURNAL_TEST_NEW_PORT");
  if (!old_port || !new_port) {
    WARN("PGDUAL_JOURNAL_TEST_OLD_PORT/_NEW_PORT not set: skipped");
    return;
  }
  query_one(old_port, "DROP SCHEMA IF EXISTS pgdual CASCADE");
  query_one(new_port, "DROP SCHEMA IF EXISTS pgdual CASCADE");
  query_one(new_port, "DELETE FROM t");
  metrics::Metrics metrics;
  auto runtime = runtime_with(base_config(old_port, new_port));
  journal::JournalService service(metrics, [runtime] { return runtime; });
  service.start();
  service.note_database("app");
  // The schema appears on the primary; the gate closes once counted.
  CHECK(eventually([&] { return !service.gate_active("app"); }));
  CHECK(query_one(old_port, "SELECT count(*) FROM pgdual.journal") == "0");

  auto [ok, error] = append_and_wait(service, "app", insert_record(1, "o'ne"));
  REQUIRE(ok);
  CHECK(eventually([&] { return query_one(new_port, "SELECT v FROM t WHERE id = 1") == "o'ne"; }));
  CHECK(eventually([&] { return service.status().records == 0 && !service.gate_active("app"); }));
  CHECK(service.status().relay_active);
  CHECK(query_one(new_port, "SELECT count(*) FROM pgdual.applied_transactions") == "1");

  // The original write recorded its marker: the replay must not apply again.
  query_one(new_port, "INSERT INTO pgdual.applied_transactions (key) VALUES ('direct:42')");
  auto marked = insert_record(2, "two");
  marked.marker = "direct:42";
  REQUIRE(append_and_wait(service, "app", marked).first);
  CHECK(eventually([&] { return service.status().records == 0 && !service.gate_active("app"); }));
  CHECK(query_one(new_port, "SELECT count(*) FROM t WHERE id = 2") == "0");

  // A permanent failure: dead letter after max_attempts (2), then the next
  // entry is applied.
  auto broken = insert_record(3, "three");
  broken.statements[1].sql = "INSERT INTO no_such_table VALUES ($1, $2)";
  REQUIRE(append_and_wait(service, "app", broken).first);
  REQUIRE(append_and_wait(service, "app", insert_record(4, "four")).first);
  CHECK(eventually([&] { return query_one(new_port, "SELECT v FROM t WHERE id = 4") == "four"; }));
  CHECK(query_one(old_port, "SELECT sqlstate || ' ' || attempts FROM pgdual.dead_letter") ==
        "42P01 2");
  CHECK(query_one(old_port, "SELECT statements FROM pgdual.dead_letter").find("<redacted>") !=
        std::string::npos);
  CHECK(eventually([&] { return service.status().dead_letters == 1; }));
  const std::string text = metrics.serialize();
  CHECK(text.find("pgdual_journal_dead_letters_total 1") != std::string::npos);
  CHECK(text.find("pgdual_reconciliation_needed_total{table=\"public.t\"} 1") != std::string::npos);
  CHECK(text.find("pgdual_journal_replays_total{result=\"already_applied\"} 1") !=
        std::string::npos);
  service.stop();
}

TEST_CASE("end to end against PostgreSQL: file store") {
  const auto old_port = env_port("PGDUAL_JOURNAL_TEST_OLD_PORT");
  const auto new_port = env_port("PGDUAL_JOURNAL_TEST_NEW_PORT");
  if (!old_port || !new_port) {
    WARN("PGDUAL_JOURNAL_TEST_OLD_PORT/_NEW_PORT not set: skipped");
    return;
  }
  query_one(new_port, "DELETE FROM t");
  TempDir dir;
  metrics::Metrics metrics;
  auto config = base_config(old_port, new_port);
  config.migration.journal.store = config::JournalStore::file;
  config.migration.journal.directory = dir.path + "/j";
  auto runtime = runtime_with(config);
  journal::JournalService service(metrics, [runtime] { return runtime; });
  service.start();
  journal::JournalRecord copy;
  copy.tables = {"public.t"};
  copy.statements = {journal::JournalStatement{
      "COPY t FROM STDIN", {}, {}, {}, std::string("10\tten\n11\t\\N\n")}};
  REQUIRE(append_and_wait(service, "app", copy).first);
  CHECK(eventually([&] { return query_one(new_port, "SELECT count(*) FROM t") == "2"; }));
  CHECK(eventually([&] { return service.status().records == 0 && !service.gate_active("app"); }));
  service.stop();
}
