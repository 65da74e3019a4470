// The journal's appender thread (see journal_appender.hpp).

#include "journal/appender.hpp"

#include <spdlog/spdlog.h>

#include "journal/relay/replay_policy.hpp"
#include "journal/store/table_journal.hpp"

namespace pgdual::journal {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRetryFor = std::chrono::seconds(5);
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(250);

// Table or schema missing: the service's own thread may not have created
// them yet for this database (or someone dropped them).
bool missing_objects(const std::string& sqlstate) {
  return sqlstate == "42P01" || sqlstate == "3F000";
}

void finish(JournalContext& context, const std::string& database, JournalService::AppendDone& done,
            bool ok, const std::string& error) {
  context.metrics.count_append(ok);
  // The gate learns of the finished write before the caller does, so a
  // count racing this append cannot close it (journal_gate.hpp).
  context.gate.append_finished(context.gate_key(database));
  context.wake_relay();
  if (!done) return;
  try {
    done(ok, error);
  } catch (const std::exception& e) {
    spdlog::error("journal: an append callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("journal: an append callback threw");
  }
}

}  // namespace

void JournalAppender::start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void JournalAppender::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

bool JournalAppender::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void JournalAppender::push(std::string database, JournalRecord record,
                           JournalService::AppendDone done) {
  context_.gate.append_queued(context_.gate_key(database));
  context_.metrics.set_gate_active(context_.gate_key(database), true);
  {
    std::lock_guard lock(mutex_);
    if (running_ && !stopping_) {
      queue_.push_back(Task{std::move(database), std::move(record), std::move(done), {}});
      cv_.notify_all();
      return;
    }
  }
  finish(context_, database, done, false, "the journal is not running");
}

void JournalAppender::push_statement(std::string database, std::string sql,
                                     JournalService::AppendDone done) {
  {
    std::lock_guard lock(mutex_);
    if (running_ && !stopping_) {
      Task task;
      task.database = std::move(database);
      task.done = std::move(done);
      task.statement = std::move(sql);
      queue_.push_back(std::move(task));
      cv_.notify_all();
      return;
    }
  }
  if (done) done(false, "the journal is not running");
}

void JournalAppender::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string error;
    if (!task.statement.empty()) {
      const bool ok = store_in_table(task, true, error);
      if (!ok)
        spdlog::warn("journal: bookkeeping in database \"{}\" failed: {}", task.database, error);
      if (task.done) task.done(ok, error);
      continue;
    }
    const bool ok = store(task, error);
    finish(context_, task.database, task.done, ok, error);
  }
  links_.clear();
}

bool JournalAppender::store(Task& task, std::string& error) {
  auto& record = task.record;
  if (record.instance.empty()) record.instance = context_.instance;
  if (record.database.empty()) record.database = task.database;
  if (record.created_at == std::chrono::system_clock::time_point{}) {
    record.created_at = std::chrono::system_clock::now();
  }
  const auto deadline = Clock::now() + kRetryFor;
  auto delay = kFirstRetryDelay;
  for (;;) {
    // While stopping, one attempt each: the queue must drain quickly.
    const bool last_try = stopping() || Clock::now() + delay >= deadline;
    bool ok = false;
    if (context_.store == config::JournalStore::file) {
      if (!context_.file) {
        error = "the file journal is not open: " + context_.file_error;
      } else {
        auto result = context_.file->append(record);
        ok = result.ok();
        error = result.error;
      }
    } else {
      ok = store_in_table(task, last_try, error);
    }
    if (ok) return true;
    if (last_try || context_.past_abandon()) return false;
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, delay, [this] { return stopping_; });
    delay *= 2;
  }
}

bool JournalAppender::store_in_table(Task& task, bool last_try, std::string& error) {
  auto settings = context_.config();
  if (!settings) {
    error = "no configuration";
    return false;
  }
  auto target = store_target(*settings, task.database, true, kAppenderApplicationName);
  const pg::Cancelled cancelled = [this] { return context_.past_abandon(); };
  auto& link = links_[task.database];
  if (!link.ensure(target->conninfo, target->connect_timeout, cancelled, error)) {
    error = "primary unreachable: " + error;
    return false;
  }
  const std::string sql =
      task.statement.empty() ? table::insert_sql(context_.schema, task.record) : task.statement;
  if (sql.empty()) {
    error = "the record is too large to encode";
    return false;
  }
  pg::Reply reply = pg::exec(link.get(), sql, cancelled);
  if (!reply.ok && missing_objects(reply.sqlstate)) {
    pg::Reply ddl = pg::run_locked_ddl(link.get(), table::ddl_lock_sql(context_.schema),
                                       table::ddl(context_.schema), cancelled);
    if (ddl.ok) reply = pg::exec(link.get(), sql, cancelled);
  }
  if (reply.ok) return true;
  if (reply.broken) link.reset();
  error = (reply.sqlstate.empty() ? "" : reply.sqlstate + " ") + reply.error;
  if (!last_try) {
    spdlog::warn("journal: append to database \"{}\" failed ({}); retrying", task.database, error);
  }
  return false;
}

}  // namespace pgdual::journal
