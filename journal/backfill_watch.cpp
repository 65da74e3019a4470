// The backfill watch's thread (see backfill_watch.hpp).

#include "journal/backfill_watch.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>

#include "journal/parsed_rows.hpp"
#include "libpq/conninfo.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::journal {

namespace {

constexpr std::string_view kTable = "backfill_progress";

// "" (NULL) is nullopt; text that is not a whole integer fails the row.
bool parse_integer(const std::string& text, std::optional<std::int64_t>& out) {
  if (text.empty()) {
    out.reset();
    return true;
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return false;
  out = value;
  return true;
}

bool parse_double(const std::string& text, double& out) {
  if (text.empty()) {
    out = 0;
    return true;
  }
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);  // also "NaN" and "Infinity", as PostgreSQL prints them
  return end == text.c_str() + text.size();
}

}  // namespace

BackfillWatch::BackfillWatch(Sinks sinks, ConfigSource config, std::string schema,
                             Databases databases)
    : sinks_(sinks),
      config_(std::move(config)),
      schema_(std::move(schema)),
      databases_(std::move(databases)) {}

std::string BackfillWatch::exists_sql(const std::string& schema) {
  return "SELECT to_regclass(" +
         text::quote_literal(text::quote_identifier(schema) + "." + std::string(kTable)) +
         ") IS NOT NULL";
}

std::string BackfillWatch::progress_sql(const std::string& schema) {
  return "SELECT source_table, state, rows_copied, rows_skipped, estimated_rows, "
         "rows_per_second FROM " +
         text::quote_identifier(schema) + "." + std::string(kTable) +
         " ORDER BY source_table LIMIT " + std::to_string(kMaxRows);
}

std::optional<metrics::BackfillRow> BackfillWatch::parse_row(const std::string& database,
                                                             const Fields& fields) {
  metrics::BackfillRow row;
  row.database = database;
  row.table = fields[0];
  row.state = fields[1];
  std::optional<std::int64_t> copied, skipped;
  if (!parse_integer(fields[2], copied) || !parse_integer(fields[3], skipped) ||
      !parse_integer(fields[4], row.estimated_rows) ||
      !parse_double(fields[5], row.rows_per_second)) {
    return std::nullopt;
  }
  row.rows_copied = copied.value_or(0);
  row.rows_skipped = skipped.value_or(0);
  return row;
}

void BackfillWatch::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void BackfillWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackfillWatch::note_database(const std::string& database) {
  if (database.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (!noted_.insert(database).second) return;
    wake_ = true;
  }
  wake_cv_.notify_all();
}

bool BackfillWatch::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void BackfillWatch::run() {
  for (;;) {
    try {
      pass();
    } catch (const std::exception& e) {
      spdlog::error("backfill watch: pass failed: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    wake_cv_.wait_for(lock, kPollInterval, [this] { return wake_ || stopping_; });
    wake_ = false;
    if (stopping_) break;
  }
  watched_.clear();  // closes the connections
}

void BackfillWatch::pass() {
  auto settings = config_();
  if (!settings) return;
  // The new store's databases: a backend dbname, when set, stands for every client database.
  std::set<std::string> dbnames;
  auto add = [&](const std::string& database) {
    if (!database.empty()) dbnames.insert(settings->new_backend.dbname.value_or(database));
  };
  {
    std::lock_guard lock(mutex_);
    for (const auto& database : noted_) add(database);
  }
  for (const auto& database : databases_(*settings)) add(database);
  // Marks not in the queue by the end of the pass go back for the next one.
  PendingMarks marks(sinks_.marks, settings->new_backend.dbname);
  for (const auto& [dbname, unused] : marks.by_dbname()) dbnames.insert(dbname);

  std::erase_if(watched_, [&](const auto& entry) { return !dbnames.contains(entry.first); });
  for (const auto& dbname : dbnames) {
    if (stopping()) return;
    read(*settings, dbname, watched_[dbname], marks);
  }
  if (stopping()) return;
  std::vector<metrics::BackfillRow> rows;
  std::vector<metrics::ReconcileQueueRow> queue;
  for (const auto& [dbname, watched] : watched_) {
    rows.insert(rows.end(), watched.rows.begin(), watched.rows.end());
    queue.insert(queue.end(), watched.queue.rows.begin(), watched.queue.rows.end());
  }
  sinks_.backfill.publish(rows);
  sinks_.queue.publish(queue);
}

void BackfillWatch::read(const config::Config& settings, const std::string& dbname,
                         Watched& watched, PendingMarks& marks) {
  if (Clock::now() < watched.retry_at) return;
  const auto deadline = Clock::now() + kReadTimeout;
  const pg::Cancelled cancelled = [this, deadline] {
    return stopping() || Clock::now() >= deadline;
  };
  const auto conninfo =
      pg::libpq_conninfo(settings.new_backend, dbname, kBackfillWatchApplicationName);
  std::string error;
  bool fresh = false;
  if (!watched.link.ensure(conninfo, settings.new_backend.connect_timeout, cancelled, error,
                           &fresh)) {
    if (stopping()) return;
    if (pg::names_missing_database(error, dbname)) {
      watched.rows.clear();
      watched.queue.rows.clear();
      watched.retry_at = Clock::now() + kMissingRetry;
      if (!watched.down_logged) {
        spdlog::debug("backfill watch: database \"{}\" does not exist on the new store", dbname);
      }
    } else if (!watched.down_logged) {
      spdlog::warn(
          "backfill watch: cannot reach the new store for database \"{}\" (its backfill and "
          "reconciliation queue metrics keep their last values): {}",
          dbname, error);
    }
    watched.down_logged = true;
    return;
  }
  if (fresh) watched.queue.table_ready = false;
  const ReconcileQueueSync queue(schema_, [this] { return stopping(); });
  if (!queue.run(watched.link.get(), dbname, watched.queue, marks, cancelled)) {
    watched.link.reset();
    return;
  }
  read_progress(dbname, watched, cancelled);
}

void BackfillWatch::read_progress(const std::string& dbname, Watched& watched,
                                  const pg::Cancelled& cancelled) {
  auto exists = pg::exec(watched.link.get(), exists_sql(schema_), cancelled);
  if (!exists.ok || exists.rows() != 1) {
    failed(dbname, watched, exists, "looking for");
    return;
  }
  if (exists.value(0, 0) != "t") {
    if (!watched.absent_logged) {
      spdlog::debug("backfill watch: no {}.{} in database \"{}\" of the new store", schema_, kTable,
                    dbname);
    }
    watched.absent_logged = true;
    watched.down_logged = false;
    watched.rows.clear();
    return;
  }
  watched.absent_logged = false;
  auto reply = pg::exec(watched.link.get(), progress_sql(schema_), cancelled);
  if (!reply.ok) {
    failed(dbname, watched, reply, "reading");
    return;
  }
  watched.rows =
      parsed_rows<metrics::BackfillRow, std::tuple_size_v<Fields>>(reply, dbname, &parse_row);
  watched.down_logged = false;
}

void BackfillWatch::failed(const std::string& dbname, Watched& watched, const pg::Reply& reply,
                           std::string_view what) {
  if (!watched.down_logged && !stopping()) {
    spdlog::warn("backfill watch: {} {}.{} in database \"{}\" of the new store failed: {} {}", what,
                 schema_, kTable, dbname, reply.sqlstate, reply.error);
  }
  watched.down_logged = true;
  if (reply.broken) watched.link.reset();
}

}  // namespace pgdual::journal
