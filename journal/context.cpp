#include "journal/context.hpp"

#include "libpq/conninfo.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::journal {

std::optional<StoreTarget> store_target(const config::Config& settings, const std::string& database,
                                        bool primary, std::string_view application_name) {
  const auto& config = settings;
  const auto roles = routing::roles_for(config.migration.phase, config.migration.keep_old_in_sync);
  std::optional<routing::Store> store = roles.primary;
  if (!primary) store = roles.secondary;
  if (!store) return std::nullopt;
  const auto& backend =
      *store == routing::Store::old_store ? config.old_backend : config.new_backend;
  StoreTarget target;
  target.conninfo =
      pg::libpq_conninfo(backend, backend.dbname.value_or(database), application_name);
  target.connect_timeout = backend.connect_timeout;
  target.dbname = backend.dbname.value_or(database);
  return target;
}

bool JournalContext::past_abandon() const {
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  return now >= abandon_at.load();
}

std::vector<std::string> JournalContext::known_databases(
    const config::JournalConfig& journal) const {
  std::set<std::string> all;
  {
    std::lock_guard lock(mutex_);
    all = databases_;
  }
  for (const auto& database : journal.databases) {
    if (!database.empty()) all.insert(database);
  }
  return {all.begin(), all.end()};
}

std::string JournalContext::gate_key(const std::string& database) const {
  return store == config::JournalStore::file ? std::string() : database;
}

void JournalContext::forget_database(const std::string& database) {
  {
    std::lock_guard lock(mutex_);
    databases_.erase(database);
    looked_.erase(database);
  }
  gate.forget(gate_key(database));
  metrics.forget_gate(gate_key(database));
}

bool JournalContext::add_database(const std::string& database) {
  std::lock_guard lock(mutex_);
  return databases_.insert(database).second;
}

void JournalContext::mark_looked(const std::vector<std::string>& databases) {
  std::lock_guard lock(mutex_);
  looked_.insert(databases.begin(), databases.end());
}

bool JournalContext::looked_at(const std::string& database) const {
  std::lock_guard lock(mutex_);
  return looked_.contains(database);
}

void JournalContext::wake_relay() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

void JournalContext::wait_for_wake(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  wake_cv_.wait_for(lock, timeout, [this] { return wake_ || stopping.load(); });
  wake_ = false;
}

}  // namespace pgdual::journal
