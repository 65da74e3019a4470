#include "cutover/stats_publisher.hpp"

#include <spdlog/spdlog.h>

#include "cdc/scope.hpp"
#include "libpq/connection.hpp"
#include "libpq/conninfo.hpp"

namespace pgdual::cutover {

namespace {

// Samples are kept this much longer than the window, so the gate always finds a baseline.
constexpr double kRetentionMargin = 120;

}  // namespace

struct StatsPublisher::Connection {
  pg::Conn conn;
  std::string schema;  // the DDL ran in this schema
  int pruned_ago = 0;  // samples since the last prune
};

std::string control_database(const config::Config& config) {
  return config.old_backend.dbname.value_or("postgres");
}

StatsPublisher::StatsPublisher(ConfigSource config, Snapshot snapshot)
    : config_(std::move(config)),
      snapshot_(std::move(snapshot)),
      connection_(std::make_unique<Connection>()),
      thread_([this] { run(); }) {}

StatsPublisher::~StatsPublisher() { stop(); }

void StatsPublisher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsPublisher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    publish(false);
    lock.lock();
    wake_.wait_for(lock, kInterval, [this] { return stopping_; });
  }
  lock.unlock();
  publish(true);
}

bool StatsPublisher::publish(bool stopped) {
  const auto config = config_();
  const std::string& schema = config->migration.journal.schema;
  const auto fail = [&](const std::string& what) {
    if (!failing_) {
      spdlog::warn(
          "cutover: cannot record this instance's sample for the gate on the old store ({}); "
          "retrying every {} s",
          what, kInterval.count());
    }
    failing_ = true;
    connection_->conn.reset();
    return false;
  };
  Connection& c = *connection_;
  if (!c.conn || PQstatus(c.conn.get()) != CONNECTION_OK) {
    std::string error;
    const std::string database = control_database(*config);
    c.conn = pg::connect(pg::libpq_conninfo(config->old_backend, database, "pgdual gate samples"),
                         config->old_backend.connect_timeout, {}, error);
    if (!c.conn) return fail(error);
    pg::exec(c.conn.get(), "SET statement_timeout = '5s'", {});  // stop() waits for it
    c.schema.clear();
  }
  if (c.schema != schema) {
    const pg::Reply created = pg::exec(c.conn.get(), samples_ddl(schema), {});
    if (!created.ok) return fail(created.error);
    c.schema = schema;
  }
  const InstanceSample sample = snapshot_();
  const auto& counters = sample.counters;
  const pg::Reply inserted = cdc::run_query(
      c.conn.get(), insert_sample_sql(schema),
      {sample.instance, sample.phase, std::to_string(sample.journal_depth),
       stopped ? "true" : "false", std::to_string(counters.shadow_compared),
       std::to_string(counters.shadow_matched), std::to_string(counters.secondary_writes_ok),
       std::to_string(counters.secondary_writes_failed), bigint_array(counters.client_latency),
       bigint_array(counters.primary_latency)},
      {});
  if (!inserted.ok) return fail(inserted.error);
  if (++c.pruned_ago >= 30) {
    c.pruned_ago = 0;
    const double keep =
        std::chrono::duration<double>(config->migration.cutover.criteria.window).count() +
        kRetentionMargin;
    cdc::run_query(c.conn.get(), prune_samples_sql(schema), {std::to_string(keep)}, {});
  }
  if (failing_) spdlog::info("cutover: recording this instance's samples again");
  failing_ = false;
  return true;
}

}  // namespace pgdual::cutover
