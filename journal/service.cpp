// JournalService: wires the appender and relay threads, the gate and the
// stores together (see journal_service.hpp for what it is for).

#include "journal/service.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <climits>
#include <mutex>
#include <set>

#include "journal/appender.hpp"
#include "journal/backfill_watch.hpp"
#include "journal/context.hpp"
#include "journal/relay/relay.hpp"
#include "journal/store/table_journal.hpp"
#include "metrics/metrics.hpp"

namespace pgdual::journal {

namespace {

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name) != 0) return "pgdual";
  name[HOST_NAME_MAX] = '\0';
  return name[0] ? std::string(name) : std::string("pgdual");
}

// How long stop() lets queued appends finish their I/O before abandoning it.
constexpr auto kStopGrace = std::chrono::milliseconds(1500);

}  // namespace

struct JournalService::Impl {
  Impl(metrics::Metrics& metrics, ConfigSource config)
      : context(metrics.journal(), std::move(config)), appender(context), relay(context) {}

  JournalContext context;
  JournalAppender appender;
  JournalRelay relay;
  std::mutex lifecycle;
  bool started = false;
  bool stopped = false;
  mutable std::mutex ready_mutex;
  std::set<std::string, std::less<>> schema_ready;  // outbox: primaries whose tables exist
  std::set<std::pair<std::string, std::string>> async_tables;  // (database, table) recorded
  std::unique_ptr<BackfillWatch> backfill;  // made once the schema is known; stopped first

  bool enabled() const {
    auto settings = context.config();
    return settings && settings->migration.journal.enabled;
  }
};

JournalService::JournalService(metrics::Metrics& metrics, ConfigSource config)
    : impl_(std::make_unique<Impl>(metrics, std::move(config))) {
  auto& context = impl_->context;
  auto settings = context.config();
  if (settings) {
    const auto& journal = settings->migration.journal;
    context.instance = journal.instance;
    context.store = journal.store;
    context.schema = journal.schema;
    context.directory = journal.directory;
  }
  if (context.instance.empty()) context.instance = host_name();
  if (context.schema.empty()) context.schema = "pgdual";
  context.metrics.set_instance(context.instance);
  impl_->backfill = std::make_unique<BackfillWatch>(
      BackfillWatch::Sinks{metrics.backfill(), metrics.journal(), metrics.reconcile()},
      context.config, context.schema, [&context](const config::Config& settings) {
        return context.known_databases(settings.migration.journal);
      });
}

JournalService::~JournalService() { stop(); }

void JournalService::start() {
  std::lock_guard lock(impl_->lifecycle);
  if (impl_->started) return;
  impl_->started = true;
  auto& context = impl_->context;
  if (context.store == config::JournalStore::file) {
    auto file = std::make_unique<FileJournal>();
    if (auto error = file->open(context.directory)) {
      context.file_error = *error;
      spdlog::error("journal: cannot open the file journal in {}: {}", context.directory, *error);
    } else {
      const auto recovery = file->recovery();
      if (recovery.torn_tails > 0) {
        spdlog::warn("journal: truncated a torn last record ({} bytes) in {}", recovery.torn_bytes,
                     context.directory);
      }
      context.file = std::move(file);
    }
    spdlog::info("journal: store file, directory {}, instance {}", context.directory,
                 context.instance);
  } else {
    spdlog::info("journal: store table, schema {}, instance {}", context.schema, context.instance);
  }
  // Entries of this instance may wait from an earlier run: the gate stays
  // open until the relay's first count of every known database says none.
  context.gate.mark_all_pending();
  impl_->appender.start();
  impl_->relay.start();
  impl_->backfill->start();
}

void JournalService::stop(bool clean) {
  std::lock_guard lock(impl_->lifecycle);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  auto& context = impl_->context;
  const auto abandon = std::chrono::steady_clock::now() + kStopGrace;
  context.abandon_at =
      std::chrono::duration_cast<std::chrono::nanoseconds>(abandon.time_since_epoch()).count();
  if (clean && context.store == config::JournalStore::table) {
    // A clean stop: nothing of strategy async is left queued in memory (the sessions are gone).
    auto settings = context.config();
    if (settings) {
      for (const auto& database : context.known_databases(settings->migration.journal)) {
        impl_->appender.push_statement(
            database, table::instance_stop_sql(context.schema, context.instance), nullptr);
      }
    }
  }
  context.stopping = true;
  context.wake_relay();
  impl_->backfill->stop();
  impl_->appender.stop();  // drains the queue first
  impl_->relay.stop();
  if (context.file) context.file->close();
}

const std::string& JournalService::instance() const { return impl_->context.instance; }

bool JournalService::gate_active(const std::string& database) const {
  return impl_->enabled() && impl_->context.gate.active(impl_->context.gate_key(database));
}

void JournalService::enter_journaled(const std::string& database) {
  auto& context = impl_->context;
  context.gate.enter(context.gate_key(database));
  context.metrics.set_gate_active(context.gate_key(database), true);
}

void JournalService::leave_journaled(const std::string& database) {
  auto& context = impl_->context;
  context.gate.leave(context.gate_key(database));
  context.wake_relay();
}

void JournalService::append(std::string database, JournalRecord record, AppendDone done) {
  if (record.instance.empty()) record.instance = impl_->context.instance;
  if (!database.empty() && impl_->context.add_database(database)) impl_->context.wake_relay();
  impl_->appender.push(std::move(database), std::move(record), std::move(done));
}

std::string JournalService::insert_sql(const JournalRecord& record) const {
  if (!record.instance.empty()) return table::insert_sql(impl_->context.schema, record);
  JournalRecord copy = record;
  copy.instance = impl_->context.instance;
  return table::insert_sql(impl_->context.schema, copy);
}

void JournalService::note_appended(const std::string& database) {
  auto& context = impl_->context;
  context.add_database(database);
  context.gate.mark_pending(context.gate_key(database));
  context.wake_relay();
}

bool JournalService::note_database(const std::string& database) {
  if (database.empty() || !impl_->context.add_database(database)) return false;
  // Its journal has not been counted yet: it may hold entries of this
  // instance from an earlier run. The relay creates its tables and counts.
  impl_->context.gate.mark_pending(impl_->context.gate_key(database));
  impl_->context.metrics.set_gate_active(impl_->context.gate_key(database), true);
  impl_->context.wake_relay();
  return true;
}

void JournalService::note_session_database(const std::string& database) {
  impl_->backfill->note_database(database);
}

bool JournalService::looked_at(const std::string& database) const {
  return impl_->context.looked_at(database);
}

JournalService::Status JournalService::status() const { return impl_->relay.status(); }

}  // namespace pgdual::journal

namespace pgdual::journal {

std::string JournalService::schema_sql() const {
  // Serialised with the relay's and the appender's own DDL by the same advisory lock.
  const auto& schema = impl_->context.schema;
  std::string sql = "BEGIN; " + table::ddl_lock_sql(schema) + "; ";
  for (const auto& statement : table::ddl(schema)) sql += statement + "; ";
  sql += "COMMIT";
  return sql;
}

bool JournalService::schema_ready(const std::string& key) const {
  std::lock_guard lock(impl_->ready_mutex);
  return impl_->schema_ready.contains(key);
}

void JournalService::note_schema_ready(const std::string& key) {
  std::lock_guard lock(impl_->ready_mutex);
  impl_->schema_ready.insert(key);
}

}  // namespace pgdual::journal

namespace pgdual::journal {

bool JournalService::announce_async_tables(const std::string& database,
                                           const std::vector<std::string>& tables,
                                           AppendDone done) {
  if (impl_->context.store != config::JournalStore::table || tables.empty()) return true;
  std::vector<std::string> fresh;
  {
    std::lock_guard lock(impl_->ready_mutex);
    for (const auto& table : tables) {
      if (!impl_->async_tables.contains({database, table})) fresh.push_back(table);
    }
  }
  if (fresh.empty()) return true;
  // A table counts as recorded only once the row is stored: two sessions writing a new table
  // at once both wait for (idempotent) upserts rather than one acknowledging early.
  Impl* impl = impl_.get();
  impl_->appender.push_statement(
      database,
      table::instance_async_tables_sql(impl_->context.schema, impl_->context.instance, fresh),
      [impl, database, fresh, done = std::move(done)](bool ok, const std::string& error) {
        if (ok) {
          std::lock_guard lock(impl->ready_mutex);
          for (const auto& table : fresh) impl->async_tables.emplace(database, table);
        }
        if (done) done(ok, error);
      });
  return false;
}

}  // namespace pgdual::journal
