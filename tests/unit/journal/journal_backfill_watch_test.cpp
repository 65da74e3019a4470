// Tests of journal::BackfillWatch without a database: the statements it runs (the schema
// quoted), how a row of backfill_progress is read (NULLs, numbers that do not parse), that
// stop() returns quickly while a server does not answer, and that reconciliation marks it could
// not take to the new store are given back. Reading a real backfill_progress is
// tests/integration/operations/test_backfill_metrics.py, the reconciliation queue
// tests/integration/operations/test_reconcile_queue_metrics.py.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "journal/backfill_watch.hpp"

using namespace pgdual;
using journal::BackfillWatch;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Accepts TCP connections (the kernel does) and never answers.
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

std::shared_ptr<const config::Config> new_store_at(std::uint16_t port,
                                                   std::chrono::milliseconds connect_timeout) {
  auto config = std::make_shared<config::Config>();
  config->new_backend.port = port;
  config->new_backend.user = "postgres";
  config->new_backend.sslmode = config::SslMode::disable;
  config->new_backend.connect_timeout = connect_timeout;
  config->migration.journal.databases = {"configured"};
  return config;
}

// What the watch publishes to (the backfill's own registry, to count its series) and takes the
// reconciliation marks from.
struct TestSinks {
  prometheus::Registry registry;
  prometheus::Registry others;
  metrics::BackfillMetrics backfill{registry};
  metrics::JournalMetrics journal{others};
  metrics::ReconcileMetrics queue{others};
  BackfillWatch::Sinks sinks() { return {backfill, journal, queue}; }
};

std::size_t series_count(prometheus::Registry& registry) {
  std::size_t count = 0;
  for (const auto& family : registry.Collect()) count += family.metric.size();
  return count;
}

}  // namespace

TEST_CASE("the statements name the progress table in the quoted schema") {
  CHECK(BackfillWatch::exists_sql("pgdual") ==
        "SELECT to_regclass('\"pgdual\".backfill_progress') IS NOT NULL");
  CHECK(BackfillWatch::exists_sql("we'ird\"s") ==
        "SELECT to_regclass('\"we''ird\"\"s\".backfill_progress') IS NOT NULL");
  const auto sql = BackfillWatch::progress_sql("pgdual");
  CHECK(sql.find("FROM \"pgdual\".backfill_progress") != std::string::npos);
  CHECK(sql.find("source_table, state, rows_copied, rows_skipped, estimated_rows, "
                 "rows_per_second") != std::string::npos);
  CHECK(sql.find("LIMIT " + std::to_string(BackfillWatch::kMaxRows)) != std::string::npos);
}

TEST_CASE("a progress row is read with its NULLs, and bad numbers drop the row") {
  auto row =
      BackfillWatch::parse_row("app", {"public.orders", "copying", "250", "50", "1000", "123.5"});
  REQUIRE(row.has_value());
  CHECK(row->database == "app");
  CHECK(row->table == "public.orders");
  CHECK(row->state == "copying");
  CHECK(row->rows_copied == 250);
  CHECK(row->rows_skipped == 50);
  CHECK(row->estimated_rows == 1000);
  CHECK(row->rows_per_second == Approx(123.5));

  auto fresh = BackfillWatch::parse_row("app", {"public.users", "pending", "0", "0", "", ""});
  REQUIRE(fresh.has_value());
  CHECK_FALSE(fresh->estimated_rows.has_value());
  CHECK(fresh->rows_per_second == 0);

  CHECK(BackfillWatch::parse_row("app", {"public.orders", "copying", "2.5e3", "0", "", ""}) ==
        std::nullopt);
  CHECK(BackfillWatch::parse_row("app", {"public.orders", "copying", "1", "x", "", ""}) ==
        std::nullopt);
  CHECK(BackfillWatch::parse_row("app", {"public.orders", "copying", "1", "0", "", "fast"}) ==
        std::nullopt);
}

TEST_CASE("an unreachable new store publishes nothing, keeps the marks and stops at once") {
  TestSinks sinks;
  sinks.journal.count_reconciliation("app", {"public.orders"});
  sinks.journal.count_reconciliation("configured", {});
  auto config = new_store_at(1, 1000ms);  // nothing listens on port 1
  BackfillWatch watch(
      sinks.sinks(), [config] { return config; }, "pgdual",
      [](const config::Config& settings) { return settings.migration.journal.databases; });
  watch.start();
  watch.note_database("app");
  std::this_thread::sleep_for(300ms);
  const auto stopping = Clock::now();
  watch.stop();
  CHECK(Clock::now() - stopping < 2s);
  CHECK(series_count(sinks.registry) == 0);
  // Given back after the failed pass, for the next one.
  const metrics::JournalMetrics::ReconciliationMarks kept{{{"app", "public.orders"}, 1},
                                                          {{"configured", "(unknown)"}, 1}};
  CHECK(sinks.journal.take_reconciliation_marks() == kept);
}

TEST_CASE("stop is quick while connecting to a new store that does not answer") {
  SilentListener silent;
  REQUIRE(silent.port != 0);
  TestSinks sinks;
  sinks.journal.count_reconciliation("app", {"public.orders", "public.items"});
  auto config = new_store_at(silent.port, 30000ms);
  BackfillWatch watch(
      sinks.sinks(), [config] { return config; }, "pgdual",
      [](const config::Config&) { return std::vector<std::string>{}; });
  watch.start();
  watch.note_database("app");
  std::this_thread::sleep_for(300ms);
  const auto stopping = Clock::now();
  watch.stop();
  CHECK(Clock::now() - stopping < 2s);
  watch.stop();                                              // twice is harmless
  CHECK(sinks.journal.pending_reconciliation_marks() == 2);  // given back when stopped mid-pass
}
