#include "cutover/gate.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "cdc/health.hpp"
#include "cdc/names.hpp"
#include "cdc/preflight.hpp"
#include "cdc/scope.hpp"
#include "cutover/sequence_sync.hpp"
#include "cutover/stats_publisher.hpp"
#include "metrics/cutover_metrics.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::cutover {

namespace {

// Every query of the gate is bounded: a reload waits for it.
constexpr const char* kBounded = "SET statement_timeout = '10s'";

constexpr double kFreshSeconds = 3 * StatsPublisher::kInterval.count() + 1.0;
constexpr std::size_t kListed = 5;  // names shown in a measured value

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kListed; ++i) {
    out += (out.empty() ? "" : ", ") + names[i];
  }
  if (names.size() > kListed) out += ", ... (" + std::to_string(names.size()) + ")";
  return out;
}

// A measured rate against its minimum, over at least `min_count` events.
Criterion rate_criterion(std::string name, std::uint64_t good, std::uint64_t total, double min_rate,
                         std::uint64_t min_count, std::string what, std::string source) {
  Criterion c{.name = std::move(name), .source = std::move(source)};
  c.threshold = ">= " + percent(min_rate) + " over >= " + std::to_string(min_count) + " " + what;
  if (total < std::max<std::uint64_t>(min_count, 1)) {
    c.measured = "not measured: " + std::to_string(total) + " " + what + " in the window";
    return c;
  }
  const double rate = static_cast<double>(good) / static_cast<double>(total);
  c.measured = percent(rate) + " (" + std::to_string(good) + " of " + std::to_string(total) + ")";
  c.ok = rate >= min_rate;
  return c;
}

std::string table_of(const std::string& schema, const char* name) {
  return text::quote_identifier(schema) + "." + name;
}

// Whether `schema.name` exists in the connected database.
bool table_exists(PGconn* conn, const std::string& schema, const char* name, std::string& error,
                  const pg::Cancelled& cancelled) {
  const pg::Reply reply = cdc::run_query(conn, "SELECT to_regclass($1) IS NOT NULL",
                                         {table_of(schema, name)}, cancelled);
  if (!reply.ok) error = reply.error;
  return reply.ok && reply.value(0, 0) == "t";
}

class DatabaseGate {
 public:
  DatabaseGate(const config::Config& config, std::string database, PGconn* old_store,
               PGconn* new_store, const pg::Cancelled& cancelled)
      : config_(config),
        schema_(config.migration.journal.schema),
        database_(std::move(database)),
        old_(old_store),
        new_(new_store),
        cancelled_(cancelled) {}

  void add_to(std::vector<Criterion>& out, std::string& error) {
    error_ = &error;
    out.push_back(backfill());
    out.push_back(reconciliation());
    out.push_back(journal());
    if (config_.migration.strategy == config::Strategy::cdc) out.push_back(replication_lag());
    if (config_.migration.cutover.criteria.sequences_synced) out.push_back(sequences());
    out.push_back(rollback_path());
  }

 private:
  Criterion make(std::string name, std::string threshold, std::string source) const {
    return Criterion{.name = std::move(name),
                     .database = database_,
                     .threshold = std::move(threshold),
                     .source = std::move(source)};
  }
  Criterion failed(Criterion c, const std::string& why) {
    c.measured = "not measured: " + why;
    if (error_->empty()) *error_ = database_ + ": " + why;
    return c;
  }

  Criterion backfill() {
    const auto& cdc = config_.migration.cdc;
    if (config_.migration.strategy == config::Strategy::cdc &&
        cdc.copy_data != config::CdcCopyData::none) {
      return subscription_ready();
    }
    Criterion c = make("backfill", "every table in a dual-write phase copied",
                       "new store: " + schema_ + ".backfill_progress");
    std::vector<cdc::CatalogRelation> relations;
    std::string error;
    if (!cdc::read_relations(old_, schema_, relations, error, cancelled_)) {
      return failed(c, "old store: " + error);
    }
    const cdc::Scope scope = cdc::decide_scope(scope_before_cutover(), database_, relations);
    std::set<std::string> done;
    if (table_exists(new_, schema_, "backfill_progress", error, cancelled_)) {
      const pg::Reply rows =
          cdc::run_query(new_,
                         "SELECT source_table FROM " + table_of(schema_, "backfill_progress") +
                             " WHERE state = 'done'",
                         {}, cancelled_);
      if (!rows.ok) return failed(c, "new store: " + rows.error);
      for (int row = 0; row < rows.rows(); ++row) done.insert(rows.value(row, 0));
    } else if (!error.empty()) {
      return failed(c, "new store: " + error);
    }
    std::vector<std::string> missing;
    for (const auto& table : scope.replicated) {
      if (done.count(table.display()) == 0) missing.push_back(table.display());
    }
    const std::size_t total = scope.replicated.size();
    c.measured = std::to_string(total - missing.size()) + " of " + std::to_string(total) +
                 " tables copied" + (missing.empty() ? "" : "; not yet: " + listed(missing));
    c.ok = missing.empty();
    return c;
  }

  // The tables the backfill must have copied are those in a dual-write phase, and those the
  // configuration being checked already moves into cutover (they were in one until now).
  config::MigrationConfig scope_before_cutover() const {
    config::MigrationConfig migration = config_.migration;
    const auto before = [](config::Phase& phase) {
      if (phase == config::Phase::cutover || phase == config::Phase::cleanup) {
        phase = config::Phase::shadow_read;
      }
    };
    before(migration.phase);
    for (auto& [table, phase] : migration.tables) before(phase);
    for (auto& rule : migration.tenants) before(rule.phase);
    return migration;
  }

  Criterion subscription_ready() {
    Criterion c = make("backfill", "the subscription exists and every table is ready (r)",
                       "new store: pg_subscription_rel");
    cdc::SubscriberHealth health;
    std::string error;
    if (!cdc::read_subscriber_health(new_, cdc::names_for(database_).forward, health, error)) {
      return failed(c, "new store: " + error);
    }
    if (!health.subscription_exists) {
      c.measured =
          "no subscription yet (pgdual cdc setup, or pgdual backfill under copy_data: "
          "pgdual)";
      return c;
    }
    std::int64_t total = 0, ready = 0;
    for (const auto& [state, count] : health.tables_by_state) {
      total += count;
      if (state == 'r') ready += count;
    }
    c.measured = std::to_string(ready) + " of " + std::to_string(total) + " tables ready";
    c.ok = total > 0 && ready == total;
    return c;
  }

  // `sql` on `conn` when pgdual's table `name` exists there: nullopt when it does not; a
  // failed reply (or `error` set) when a query failed.
  std::optional<pg::Reply> query_if_present(PGconn* conn, const char* name, const std::string& sql,
                                            std::string& error) {
    if (!table_exists(conn, schema_, name, error, cancelled_)) return std::nullopt;
    pg::Reply reply = cdc::run_query(conn, sql, {}, cancelled_);
    if (!reply.ok) error = reply.error;
    return reply;
  }

  Criterion reconciliation() {
    const auto limit = config_.migration.cutover.criteria.max_unresolved;
    Criterion c = make("reconciliation", "<= " + std::to_string(limit) + " unresolved",
                       "new store: " + schema_ + ".reconcile_queue");
    std::string error;
    const auto rows = query_if_present(
        new_, "reconcile_queue",
        "SELECT coalesce(sum(greatest(marked - resolved, 0)), 0), coalesce(string_agg(table_name, "
        "', ' ORDER BY table_name) FILTER (WHERE marked > resolved), '') FROM " +
            table_of(schema_, "reconcile_queue"),
        error);
    if (!error.empty()) return failed(c, "new store: " + error);
    const auto unresolved = rows ? std::stoull(rows->value(0, 0)) : 0;
    c.measured = std::to_string(unresolved) + " unresolved" +
                 (!rows             ? " (no queue)"
                  : unresolved == 0 ? ""
                                    : " (" + rows->value(0, 1) + ")");
    c.ok = unresolved <= limit;
    return c;
  }

  Criterion journal() {
    const auto limit = config_.migration.cutover.criteria.max_journal_entries;
    Criterion c = make("journal", "<= " + std::to_string(limit) + " transactions waiting",
                       "old store: " + schema_ + ".journal");
    std::string error;
    const auto rows = query_if_present(
        old_, "journal", "SELECT count(*) FROM " + table_of(schema_, "journal"), error);
    if (!error.empty()) return failed(c, "old store: " + error);
    const auto waiting = rows ? std::stoull(rows->value(0, 0)) : 0;
    c.measured = std::to_string(waiting) + " waiting" + (rows ? "" : " (no journal table)");
    c.ok = waiting <= limit;
    return c;
  }

  Criterion replication_lag() {
    const auto limit = config_.migration.cutover.criteria.max_replication_lag_bytes;
    Criterion c = make("replication_lag", "<= " + std::to_string(limit) + " bytes",
                       "old store: pg_stat_replication / pg_replication_slots");
    cdc::PublisherHealth health;
    std::string error;
    if (!cdc::read_publisher_health(old_, cdc::names_for(database_).forward, health, error)) {
      return failed(c, "old store: " + error);
    }
    if (!health.lag_bytes) {
      c.measured = "unknown: no replication slot";
      return c;
    }
    c.measured = std::to_string(*health.lag_bytes) + " bytes";
    c.ok = *health.lag_bytes <= static_cast<std::int64_t>(limit);
    return c;
  }

  Criterion sequences() {
    Criterion c = make("sequences", "every new-store sequence >= the old store's",
                       "both stores: pg_sequences");
    const std::string sql =
        "SELECT pg_catalog.quote_ident(schemaname) || '.' || "
        "pg_catalog.quote_ident(sequencename), coalesce(last_value, 0) FROM "
        "pg_catalog.pg_sequences WHERE schemaname <> $1";
    const pg::Reply old_rows = cdc::run_query(old_, sql, {schema_}, cancelled_);
    const pg::Reply new_rows = cdc::run_query(new_, sql, {schema_}, cancelled_);
    if (!old_rows.ok) return failed(c, "old store: " + old_rows.error);
    if (!new_rows.ok) return failed(c, "new store: " + new_rows.error);
    std::map<std::string, long double> on_new;
    for (int row = 0; row < new_rows.rows(); ++row) {
      on_new[new_rows.value(row, 0)] = std::stold(new_rows.value(row, 1));
    }
    // A mapped table's sequence has another name on the new store, or none there.
    const auto renamed = mapped_sequences(old_, new_, config_.migration.mapping);
    std::vector<std::string> behind;
    for (int row = 0; row < old_rows.rows(); ++row) {
      const std::string name = old_rows.value(row, 0);
      const auto mapped = renamed.find(name);
      if (mapped != renamed.end() && mapped->second.empty()) continue;
      const auto found = on_new.find(mapped != renamed.end() ? mapped->second : name);
      if (found == on_new.end() || found->second < std::stold(old_rows.value(row, 1))) {
        behind.push_back(name);
      }
    }
    c.measured = behind.empty() ? std::to_string(old_rows.rows()) + " sequences synced"
                                : std::to_string(behind.size()) +
                                      " behind (run pgdual sequences sync): " + listed(behind);
    c.ok = behind.empty();
    return c;
  }

  // Whether a rollback of the cutover would lose nothing: the old store keeps receiving the
  // writes (keep_old_in_sync) and takes them, or under cdc the new store can publish them back.
  Criterion rollback_path() {
    const bool cdc = config_.migration.strategy == config::Strategy::cdc;
    Criterion c = make("rollback_path",
                       cdc ? "the new store can publish (wal_level logical, a free slot and WAL "
                             "sender) for the reverse replication"
                           : "keep_old_in_sync, and the old store accepts writes",
                       cdc ? "new store: pg_settings, pg_replication_slots"
                           : "config; old store: pg_is_in_recovery()");
    if (cdc) {
      const pg::Reply reply = cdc::run_query(
          new_,
          "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int - "
          "(SELECT count(*) FROM pg_catalog.pg_replication_slots), "
          "current_setting('max_wal_senders')::int - (SELECT count(*) FROM "
          "pg_catalog.pg_stat_replication)",
          {}, cancelled_);
      if (!reply.ok) return failed(c, "new store: " + reply.error);
      const auto slots = std::stoll(reply.value(0, 1));
      const auto senders = std::stoll(reply.value(0, 2));
      c.measured = "wal_level " + reply.value(0, 0) + ", " + std::to_string(slots) +
                   " free slots, " + std::to_string(senders) + " free WAL senders";
      c.ok = reply.value(0, 0) == "logical" && slots >= 1 && senders >= 1;
      return c;
    }
    if (!config_.migration.keep_old_in_sync) {
      c.measured =
          "keep_old_in_sync is false: the old store would stop receiving writes, and a "
          "rollback would lose them";
      return c;
    }
    const pg::Reply reply =
        cdc::run_query(old_, "SELECT pg_catalog.pg_is_in_recovery()", {}, cancelled_);
    if (!reply.ok) return failed(c, "old store: " + reply.error);
    c.ok = reply.value(0, 0) == "f";
    c.measured = c.ok ? "the old store keeps the writes (keep_old_in_sync) and accepts them"
                      : "the old store is in recovery (read-only)";
    return c;
  }

  const config::Config& config_;
  std::string schema_;
  std::string database_;
  PGconn* old_;
  PGconn* new_;
  const pg::Cancelled& cancelled_;
  std::string* error_ = nullptr;
};

}  // namespace

FleetTotals read_fleet(const config::Config& config, const pg::Cancelled& cancelled,
                       std::string& error) {
  FleetTotals totals;
  const std::string database = control_database(config);
  const pg::Conn conn = pg::connect(cdc::old_store_conninfo(config, database),
                                    config.old_backend.connect_timeout, cancelled, error);
  if (!conn) {
    error = "old store (" + database + "): " + error;
    return totals;
  }
  pg::exec(conn.get(), kBounded, cancelled);
  const std::string& schema = config.migration.journal.schema;
  std::string exists_error;
  if (!table_exists(conn.get(), schema, "instance_samples", exists_error, cancelled)) {
    if (!exists_error.empty()) error = "old store: " + exists_error;
    return totals;  // no instance has recorded a sample: nothing measured
  }
  const double window =
      std::chrono::duration<double>(config.migration.cutover.criteria.window).count();
  const pg::Reply rows = cdc::run_query(conn.get(), read_samples_sql(schema),
                                        {std::to_string(window + 120)}, cancelled);
  if (!rows.ok) {
    error = "old store: " + rows.error;
    return totals;
  }
  std::vector<InstanceSample> samples;
  for (int row = 0; row < rows.rows(); ++row) {
    InstanceSample sample;
    sample.instance = rows.value(row, 0);
    sample.age_seconds = std::stod(rows.value(row, 1));
    sample.phase = rows.value(row, 2);
    sample.journal_depth = std::stoll(rows.value(row, 3));
    sample.stopped = rows.value(row, 4) == "t";
    auto& counters = sample.counters;
    counters.shadow_compared = std::stoull(rows.value(row, 5));
    counters.shadow_matched = std::stoull(rows.value(row, 6));
    counters.secondary_writes_ok = std::stoull(rows.value(row, 7));
    counters.secondary_writes_failed = std::stoull(rows.value(row, 8));
    counters.client_latency = parse_bigint_array(rows.value(row, 9));
    counters.primary_latency = parse_bigint_array(rows.value(row, 10));
    samples.push_back(std::move(sample));
  }
  return fleet_totals(samples, window, kFreshSeconds);
}

double fresh_sample_seconds() { return kFreshSeconds; }

std::string percent(double fraction) {
  std::string text = fixed(fraction * 100, 3);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text + "%";
}

bool GateReport::ok() const { return error.empty() && failed().empty(); }

std::vector<std::string> GateReport::failed() const {
  std::vector<std::string> out;
  for (const auto& c : criteria) {
    if (!c.ok) out.push_back(c.database.empty() ? c.name : c.name + " (" + c.database + ")");
  }
  return out;
}

std::vector<Criterion> fleet_criteria(const config::CutoverCriteria& criteria,
                                      config::Strategy strategy, const FleetTotals& totals) {
  const auto& counters = totals.counters;
  const std::string samples =
      "instance_samples of " + std::to_string(totals.live.size()) + " live instance(s)";
  std::vector<Criterion> out;
  out.push_back(rate_criterion("shadow_match_rate", counters.shadow_matched,
                               counters.shadow_compared, criteria.min_match_rate,
                               criteria.min_comparisons, "compared reads", samples));
  if (strategy == config::Strategy::cdc) {
    // pgdual writes only the old store; replication carries the rows (replication_lag).
    out.push_back(Criterion{.name = "secondary_write_success",
                            .ok = true,
                            .measured = "not applicable: strategy cdc (see replication_lag)",
                            .threshold = "-",
                            .source = "migration.strategy"});
  } else {
    out.push_back(rate_criterion("secondary_write_success", counters.secondary_writes_ok,
                                 counters.secondary_writes_ok + counters.secondary_writes_failed,
                                 criteria.min_secondary_success_rate, criteria.min_writes,
                                 "new-store writes", samples));
  }

  Criterion latency{.name = "p99_latency_increase", .source = samples};
  latency.threshold = "<= " + percent(criteria.max_p99_latency_increase) +
                      " over >= " + std::to_string(criteria.min_writes) + " writes";
  std::uint64_t writes = 0;
  for (const auto count : counters.client_latency) writes += count;
  const auto client = metrics::bucket_quantile(counters.client_latency, 0.99);
  const auto primary = metrics::bucket_quantile(counters.primary_latency, 0.99);
  if (writes < std::max<std::uint64_t>(criteria.min_writes, 1) || !client || !primary) {
    latency.measured = "not measured: " + std::to_string(writes) + " writes in the window";
  } else {
    const double increase = *client / *primary - 1;
    latency.measured = percent(increase) + " (p99 " + fixed(*client * 1000, 2) +
                       " ms as clients saw it, " + fixed(*primary * 1000, 2) +
                       " ms on the primary)";
    latency.ok = increase <= criteria.max_p99_latency_increase;
  }
  out.push_back(latency);

  Criterion journal{.name = "journal", .source = samples};
  journal.threshold = "<= " + std::to_string(criteria.max_journal_entries) + " transactions";
  if (!totals.journal_depth_known) {
    journal.measured = "not measured: an instance does not know its journal's depth yet";
  } else {
    journal.measured = std::to_string(totals.journal_depth) + " waiting (deepest instance)";
    journal.ok = totals.journal_depth <= static_cast<std::int64_t>(criteria.max_journal_entries);
  }
  out.push_back(journal);
  return out;
}

GateReport evaluate_gate(const config::Config& config, const std::vector<std::string>& databases,
                         const pg::Cancelled& cancelled) {
  GateReport report;
  report.databases = databases;
  if (report.databases.empty()) report.databases.push_back(control_database(config));
  std::string error;
  const FleetTotals totals = read_fleet(config, cancelled, error);
  report.error = error;
  report.instances = totals.live;
  report.members = totals.newest;
  report.criteria =
      fleet_criteria(config.migration.cutover.criteria, config.migration.strategy, totals);
  for (const auto& database : report.databases) {
    std::string connect_error;
    const pg::Conn old_conn =
        pg::connect(cdc::old_store_conninfo(config, database), config.old_backend.connect_timeout,
                    cancelled, connect_error);
    const pg::Conn new_conn =
        old_conn ? pg::connect(cdc::new_store_conninfo(config, database),
                               config.new_backend.connect_timeout, cancelled, connect_error)
                 : pg::Conn{};
    if (!old_conn || !new_conn) {
      if (report.error.empty()) {
        report.error = database + ": " + (old_conn ? "new store: " : "old store: ") + connect_error;
      }
      continue;
    }
    pg::exec(old_conn.get(), kBounded, cancelled);
    pg::exec(new_conn.get(), kBounded, cancelled);
    std::string database_error;
    DatabaseGate(config, database, old_conn.get(), new_conn.get(), cancelled)
        .add_to(report.criteria, database_error);
    if (report.error.empty()) report.error = database_error;
  }
  return report;
}

}  // namespace pgdual::cutover
