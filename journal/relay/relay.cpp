// The relay loop and the table store's side of it (see journal_relay.hpp).

#include "journal/relay/relay.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "journal/relay/replay_policy.hpp"
#include "journal/store/table_journal.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::journal {

namespace {

std::uint64_t to_u64(const std::string& text) {
  try {
    return text.empty() ? 0 : std::stoull(text);
  } catch (...) {
    return 0;
  }
}

double to_double(const std::string& text) {
  try {
    return text.empty() ? 0 : std::stod(text);
  } catch (...) {
    return 0;
  }
}

}  // namespace

JournalRelay::JournalRelay(JournalContext& context)
    : context_(context),
      cancelled_([this] { return cancelled(); }),
      random_(std::random_device{}()) {}

void JournalRelay::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void JournalRelay::stop() {
  if (thread_.joinable()) thread_.join();
}

JournalService::Status JournalRelay::status() const {
  JournalService::Status status;
  {
    std::lock_guard lock(status_mutex_);
    status = status_;
  }
  // `known` means: every database known *now* has been counted. A pass counts the databases
  // known when it starts; one noted later (note_database, append, or a reload that adds to
  // migration.journal.databases) may hold entries of an earlier run that no pass has seen. The
  // first pass after start() can run before the first note_database() and then counts nothing,
  // completely: without this check that empty pass left `known` true with 0 records for good,
  // even with the primary unreachable, and a cutover (Server::primary_switch_refusal) could pass
  // before the relay had ever reached the journal. mark_looked() runs before status_ is set,
  // so a `known` read above is never ahead of looked_at().
  if (status.known && context_.store == config::JournalStore::table) {
    if (auto settings = context_.config()) {
      for (const auto& database : context_.known_databases(settings->migration.journal)) {
        if (!context_.looked_at(database)) {
          status.known = false;
          break;
        }
      }
    }
  }
  return status;
}

void JournalRelay::run() {
  while (!cancelled()) {
    bool more = false;
    std::chrono::milliseconds poll{200};
    try {
      more = pass();
      if (auto settings = context_.config()) {
        poll = std::max(settings->migration.journal.poll_interval, std::chrono::milliseconds(10));
      }
    } catch (const std::exception& e) {
      spdlog::error("journal relay: pass failed: {}", e.what());
    }
    if (!more) context_.wait_for_wake(next_wait(poll));
  }
  // Closing the connections releases the relay locks at once.
  primaries_.clear();
  secondaries_.clear();
}

bool JournalRelay::backing_off(const Backoff& backoff) const {
  return backoff.active && Clock::now() < backoff.until;
}

std::chrono::milliseconds JournalRelay::next_wait(std::chrono::milliseconds poll) const {
  auto wait = poll;
  auto consider = [&](const Backoff& backoff) {
    if (!backoff.active) return;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(backoff.until - Clock::now());
    wait = std::clamp(left, std::chrono::milliseconds(1), wait);
  };
  consider(file_backoff_);
  for (const auto& [name, primary] : primaries_) consider(primary.backoff);
  return wait;
}

bool JournalRelay::pass() {
  auto settings = context_.config();
  if (!settings) return false;
  const auto& config = *settings;
  const auto& journal = config.migration.journal;
  if (!journal.enabled) {
    context_.metrics.clear_gates();
    return false;
  }
  const auto roles = routing::roles_for(config.migration.phase, config.migration.keep_old_in_sync);
  const bool can_replay = roles.secondary.has_value();
  if (!can_replay && !paused_logged_) {
    spdlog::info("journal relay paused: phase {} has no secondary; the journal is kept",
                 config::to_string(config.migration.phase));
  } else if (can_replay && paused_logged_) {
    spdlog::info("journal relay resumed: phase {}", config::to_string(config.migration.phase));
  }
  paused_logged_ = !can_replay;

  Look total;
  total.ok = true;
  bool more = false, relay_active = false;
  auto add = [&](const Look& look) {
    total.ok = total.ok && look.ok;
    total.records += look.records;
    total.bytes += look.bytes;
    total.mine += look.mine;
    total.dead += look.dead;
    total.oldest_age_seconds = std::max(total.oldest_age_seconds, look.oldest_age_seconds);
  };
  // Each gate closes on its own database's count (or the file's): a
  // database that cannot be counted keeps only its own sessions journaling.
  // The ticket is taken before the count is sent (journal/gate.hpp explains the race).
  auto counted = [&](const std::string& key, const Look& look, JournalGate::CountTicket ticket) {
    if (look.ok) context_.gate.finish_count(key, ticket, look.mine);
    context_.metrics.set_gate_active(key, context_.gate.active(key));
  };
  const auto databases = context_.known_databases(journal);
  if (context_.store == config::JournalStore::file) {
    const auto ticket = context_.gate.begin_count(context_.gate_key({}));
    const auto look = file_pass(*settings, can_replay, more);
    add(look);
    counted(context_.gate_key({}), look, ticket);
    if (look.ok) context_.mark_looked(databases);
    relay_active = context_.file != nullptr;
  } else {
    for (const auto& database : databases) {
      if (cancelled()) return false;
      auto& primary = primaries_[database];
      const auto ticket = context_.gate.begin_count(database);
      const auto look = table_pass(*settings, database, primary, can_replay, more);
      if (look.missing) {
        forget_missing(journal, database);
        continue;
      }
      add(look);
      counted(database, look, ticket);
      if (look.ok) context_.mark_looked({database});
      relay_active = relay_active || primary.holder;
    }
  }
  context_.metrics.set_relay_active(relay_active);
  if (total.ok) {
    context_.metrics.set_depth(static_cast<double>(total.records), static_cast<double>(total.bytes),
                               total.oldest_age_seconds);
  }
  std::lock_guard lock(status_mutex_);
  if (total.ok) {
    status_.known = true;
    status_.records = total.records;
    status_.bytes = total.bytes;
    status_.oldest_age_seconds = total.oldest_age_seconds;
    status_.dead_letters = total.dead;
  }
  status_.relay_active = relay_active;
  return more;
}

void JournalRelay::forget_missing(const config::JournalConfig& journal,
                                  const std::string& database) {
  const bool configured = std::find(journal.databases.begin(), journal.databases.end(), database) !=
                          journal.databases.end();
  if (configured) {
    // The operator named it: keep trying (and keep its gate), but say why it stays open.
    auto& primary = primaries_[database];
    if (!primary.down_logged) {
      spdlog::warn(
          "journal: database \"{}\" (migration.journal.databases) does not exist on "
          "the primary; its sessions journal until it does",
          database);
    }
    primary.down_logged = true;
    return;
  }
  // Sessions noted it, but nothing can be stored in a database that does not exist: forget it,
  // so its gate does not stay open (and its sessions, if it is created later, note it again).
  spdlog::info("journal: database \"{}\" does not exist on the primary; the relay stops serving it",
               database);
  primaries_.erase(database);
  context_.forget_database(database);
}

JournalRelay::Look JournalRelay::table_pass(const config::Config& settings,
                                            const std::string& database, Primary& primary,
                                            bool can_replay, bool& more) {
  Look look;
  const auto target = store_target(settings, database, true, kRelayApplicationName);
  std::string error;
  bool fresh = false;
  if (!primary.link.ensure(target->conninfo, target->connect_timeout, cancelled_, error, &fresh)) {
    if (pg::names_missing_database(error, target->dbname)) {
      look.missing = true;
      return look;
    }
    if (!primary.down_logged && !cancelled()) {
      spdlog::warn("journal: cannot reach the primary for database \"{}\": {}", database, error);
    }
    primary.down_logged = true;
    primary.holder = false;
    return look;
  }
  primary.down_logged = false;
  if (fresh) {
    primary.holder = false;
    primary.schema_ready = false;
  }
  const std::string& schema = context_.schema;
  auto drop = [&](const pg::Reply& reply, std::string_view what) {
    if (!cancelled()) {
      spdlog::warn("journal: {} in database \"{}\" failed: {} {}", what, database, reply.sqlstate,
                   reply.error);
    }
    if (reply.broken) {
      if (primary.holder) spdlog::info("journal relay: released database \"{}\"", database);
      primary.link.reset();
      primary.holder = false;
    }
  };
  if (!primary.schema_ready) {
    auto reply = pg::run_locked_ddl(primary.link.get(), table::ddl_lock_sql(schema),
                                    table::ddl(schema), cancelled_);
    if (!reply.ok) {
      drop(reply, "creating the journal tables");
      return look;
    }
    primary.schema_ready = true;
  }
  if (!primary.instance_checked) check_instance(database, primary);
  if (!primary.holder) {
    auto reply = pg::exec(primary.link.get(), table::relay_lock_sql(schema), cancelled_);
    if (!reply.ok) {
      drop(reply, "taking the relay lock");
      return look;
    }
    primary.holder = reply.value(0, 0) == "t";
    if (primary.holder) {
      spdlog::info("journal relay: this instance ({}) relays database \"{}\"", context_.instance,
                   database);
    }
  }
  if (primary.holder && can_replay) more = table_replay(settings, database, primary) || more;
  if (!primary.link.connected()) return look;

  auto reply =
      pg::exec(primary.link.get(), table::monitor_sql(schema, context_.instance), cancelled_);
  if (!reply.ok || reply.rows() != 1) {
    drop(reply, "counting the journal");
    return look;
  }
  look.ok = true;
  look.records = to_u64(reply.value(0, 0));
  look.bytes = to_u64(reply.value(0, 1));
  look.oldest_age_seconds = to_double(reply.value(0, 2));
  look.mine = to_u64(reply.value(0, 3));
  look.dead = to_u64(reply.value(0, 4));
  if (primary.holder && can_replay) maybe_prune(settings, database, look);
  return look;
}

bool JournalRelay::table_replay(const config::Config& settings, const std::string& database,
                                Primary& primary) {
  if (backing_off(primary.backoff)) {
    probe(settings, database);
    return false;
  }
  const std::string& schema = context_.schema;
  const bool log_values = settings.log.log_parameters;
  auto lost = [&](const pg::Reply& reply, std::string_view what) {
    if (!cancelled()) {
      spdlog::warn("journal relay: {} in database \"{}\" failed: {} {}", what, database,
                   reply.sqlstate, reply.error);
    }
    if (reply.broken) {
      primary.link.reset();
      primary.holder = false;
    }
    return false;
  };
  // Binary results: the record arrives as raw bytes; the ::text columns
  // are their plain text either way.
  auto batch = pg::exec_params(primary.link.get(), table::pending_sql(schema), {}, 1, cancelled_);
  if (!batch.ok) return lost(batch, "reading the journal");
  const int rows = batch.rows();
  for (int row = 0; row < rows; ++row) {
    if (cancelled()) return false;
    const std::uint64_t id = to_u64(batch.value(row, 0));
    const std::string instance = batch.value(row, 1);
    const auto attempts = static_cast<std::uint32_t>(to_u64(batch.value(row, 2)));
    Attempt attempt;
    JournalRecord record;
    if (auto decoded = decode(batch.value(row, 3))) {
      record = std::move(*decoded);
      record.id = id;
      record.instance = instance;
      record.attempts = attempts;
      if (record.database.empty()) record.database = database;
      attempt =
          replay_one(settings, database, record, replay::marker_key(record.marker, instance, id));
    } else {
      // Nothing can replay it: straight to the dead letter, bytes kept.
      record.id = id;
      record.instance = instance;
      attempt.verdict = Verdict::dead;
      attempt.attempts = attempts + 1;
      attempt.error = "the journal entry does not decode (damaged, or an unknown format version)";
    }
    switch (attempt.verdict) {
      case Verdict::paused:
        return false;
      case Verdict::done: {
        primary.backoff.active = false;
        auto reply = pg::exec(primary.link.get(), table::delete_sql(schema, id), cancelled_);
        if (!reply.ok) return lost(reply, "deleting an applied entry");
        break;
      }
      case Verdict::retry: {
        auto reply =
            pg::exec(primary.link.get(),
                     table::failure_sql(schema, id, attempt.sqlstate, attempt.error), cancelled_);
        if (!reply.ok) lost(reply, "noting a failed replay");
        primary.backoff = Backoff{true, id, database, Clock::now() + attempt.delay};
        return false;  // strict order: nothing overtakes this entry
      }
      case Verdict::dead: {
        primary.backoff.active = false;
        auto reply = pg::exec(
            primary.link.get(),
            table::dead_letter_sql(schema, id, attempt.attempts, attempt.sqlstate, attempt.error,
                                   table::statements_text(record, log_values)),
            cancelled_);
        if (!reply.ok) return lost(reply, "moving an entry to the dead letter");
        log_dead(database, record, attempt);
        break;
      }
    }
  }
  return rows == static_cast<int>(table::kBatch);
}

}  // namespace pgdual::journal

namespace pgdual::journal {

void JournalRelay::check_instance(const std::string& database, Primary& primary) {
  const std::string& schema = context_.schema;
  auto check = pg::exec(primary.link.get(), table::instance_check_sql(schema, context_.instance),
                        cancelled_);
  if (!check.ok) return;
  if (check.rows() == 1 && check.value(0, 0) == "false" && !check.value(0, 1).empty()) {
    std::vector<std::string> tables;
    std::string rest = check.value(0, 1);
    for (std::size_t start = 0; start <= rest.size();) {
      const auto comma = rest.find(',', start);
      const auto end = comma == std::string::npos ? rest.size() : comma;
      if (end > start) tables.push_back(rest.substr(start, end - start));
      start = end + 1;
    }
    // Strategy async acknowledges before the secondary applied: what was queued in memory
    // when the process died is gone. Which tables it wrote is known; say so loudly.
    context_.metrics.count_reconciliation(database, tables);
    spdlog::error(
        "pgdual instance {} did not stop cleanly while writing under strategy async: "
        "writes it had queued in memory for the secondary may be lost; reconcile tables "
        "[{}] of database \"{}\" (strategy outbox loses nothing)",
        context_.instance, rest, database);
  }
  auto start = pg::exec(primary.link.get(), table::instance_start_sql(schema, context_.instance),
                        cancelled_);
  if (start.ok) primary.instance_checked = true;
}

}  // namespace pgdual::journal
