#include "cdc/switch.hpp"

#include <thread>

#include "cdc/apply_watcher.hpp"
#include "cdc/names.hpp"
#include "cdc/ownership.hpp"
#include "cdc/preflight.hpp"
#include "cdc/scope.hpp"
#include "cdc/setup.hpp"
#include "libpq/conninfo.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::cdc {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One direction's stores and name.
struct Side {
  PGconn* publisher = nullptr;
  PGconn* subscriber = nullptr;
  std::string publisher_label, subscriber_label;
  std::string name;
};

class Switcher {
 public:
  Switcher(const config::Config& config, std::string database, Direction to,
           const pg::Cancelled& cancelled)
      : config_(config), database_(std::move(database)), to_(to), cancelled_(cancelled) {}

  SwitchResult run(std::chrono::milliseconds lag_timeout) {
    if (!connect()) return std::move(result_);
    if (!lock()) return std::move(result_);
    run_locked(lag_timeout);
    unlock_replication(old_.get(), database_, cancelled_);
    result_.ok = result_.error.empty();
    return std::move(result_);
  }

 private:
  Side side(Direction direction) const {
    const auto names = names_for(database_);
    if (direction == Direction::forward) {
      return {.publisher = old_.get(),
              .subscriber = new_.get(),
              .publisher_label = "old store",
              .subscriber_label = "new store",
              .name = names.forward};
    }
    return {.publisher = new_.get(),
            .subscriber = old_.get(),
            .publisher_label = "new store",
            .subscriber_label = "old store",
            .name = names.reverse};
  }

  bool fail(const std::string& error) {
    result_.error = error;
    return false;
  }

  bool connect() {
    std::string error;
    old_ = pg::connect(old_store_conninfo(config_, database_), config_.old_backend.connect_timeout,
                       cancelled_, error);
    if (!old_) return fail("old store: " + error);
    new_ = pg::connect(new_store_conninfo(config_, database_), config_.new_backend.connect_timeout,
                       cancelled_, error);
    if (!new_) return fail("new store: " + error);
    return true;
  }

  bool lock() {
    std::string error;
    return lock_replication(old_.get(), database_, cancelled_, error) || fail(error);
  }

  bool subscription_exists(const Side& s, bool& exists) {
    const auto reply = run_query(s.subscriber,
                                 "SELECT 1 FROM pg_catalog.pg_subscription WHERE subname = $1 AND "
                                 "subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname "
                                 "= current_database())",
                                 {s.name}, cancelled_);
    if (!reply.ok) return fail(s.subscriber_label + ": " + reply.error);
    exists = reply.rows() > 0;
    return true;
  }

  void run_locked(std::chrono::milliseconds lag_timeout) {
    const Direction from_direction =
        to_ == Direction::forward ? Direction::reverse : Direction::forward;
    const Side from = side(from_direction), to = side(to_);
    bool from_runs = false, to_runs = false;
    if (!subscription_exists(from, from_runs) || !subscription_exists(to, to_runs)) return;
    if (to_runs && !from_runs) {
      result_.actions.push_back("replication already runs " + describe(to_) + ": nothing to do");
      return;
    }
    if (!from_runs) {
      fail("no replication runs " + describe(from_direction) + " (subscription " + from.name +
           " is missing on the " + from.subscriber_label + "): run pgdual cdc setup first");
      return;
    }
    if (to_runs) {
      fail("replication runs in both directions (subscriptions " + from.name + " and " + to.name +
           "): drop one by hand (DROP SUBSCRIPTION) after checking which store is current");
      return;
    }
    std::vector<TableName> tables;
    if (!published_tables(from, tables)) return;
    if (!prepare_identities(to, tables)) return;
    // The guard: the current publisher's tables, locked until the new direction's slot exists.
    std::string error;
    guard_ = pg::connect(to_ == Direction::reverse ? old_store_conninfo(config_, database_)
                                                   : new_store_conninfo(config_, database_),
                         std::chrono::milliseconds(10000), cancelled_, error);
    if (!guard_) {
      fail(from.publisher_label + ": " + error);
      return;
    }
    if (!guarded(from, to, tables, lag_timeout)) {
      pg::exec(guard_.get(), "ROLLBACK", cancelled_);
      return;
    }
    const auto committed = pg::exec(guard_.get(), "COMMIT", cancelled_);
    if (!committed.ok) fail(from.publisher_label + ": " + committed.error);
  }

  static std::string describe(Direction d) {
    return d == Direction::forward ? "forward (old -> new)" : "in reverse (new -> old)";
  }

  bool published_tables(const Side& from, std::vector<TableName>& out) {
    const auto reply = run_query(from.publisher,
                                 "SELECT n.nspname, c.relname FROM pg_catalog.pg_publication p "
                                 "JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid "
                                 "JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid "
                                 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE p.pubname = $1 ORDER BY 1, 2",
                                 {from.name}, cancelled_);
    if (!reply.ok) return fail(from.publisher_label + ": " + reply.error);
    for (int row = 0; row < reply.rows(); ++row)
      out.push_back({.schema = reply.value(row, 0), .table = reply.value(row, 1)});
    if (out.empty()) return fail("publication " + from.name + " lists no table: nothing to switch");
    return true;
  }

  // The new publisher must be able to publish UPDATE and DELETE of every table.
  bool prepare_identities(const Side& to, const std::vector<TableName>& tables) {
    const auto arrays = name_arrays(tables);
    const auto reply = run_query(
        to.publisher,
        "SELECT n.nspname, c.relname FROM unnest($1::text[], $2::text[]) AS t(s, r) "
        "JOIN pg_catalog.pg_namespace n ON n.nspname = t.s "
        "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.r "
        "WHERE c.relkind = 'r' AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS "
        "(SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))",
        arrays, cancelled_);
    if (!reply.ok) return fail(to.publisher_label + ": " + reply.error);
    for (int row = 0; row < reply.rows(); ++row) {
      const TableName table{.schema = reply.value(row, 0), .table = reply.value(row, 1)};
      if (!config_.migration.cdc.replica_identity_full) {
        return fail(to.publisher_label + ": table " + table.display() +
                    " has no primary key, so its UPDATE and DELETE could not be published: add "
                    "one, or set migration.cdc.replica_identity_full: true");
      }
      const auto set = pg::exec(
          to.publisher, "ALTER TABLE " + table.quoted() + " REPLICA IDENTITY FULL", cancelled_);
      if (!set.ok) return fail(to.publisher_label + ": " + set.error);
      result_.actions.push_back("set REPLICA IDENTITY FULL on " + table.display() + " on the " +
                                to.publisher_label);
    }
    return true;
  }

  bool guarded(const Side& from, const Side& to, const std::vector<TableName>& tables,
               std::chrono::milliseconds lag_timeout) {
    std::string list;
    for (const auto& table : tables) list += (list.empty() ? "" : ", ") + table.quoted();
    for (const char* sql : {"BEGIN", "SET LOCAL lock_timeout = '30s'"}) {
      const auto reply = pg::exec(guard_.get(), sql, cancelled_);
      if (!reply.ok) return fail(from.publisher_label + ": " + reply.error);
    }
    const auto locked =
        pg::exec(guard_.get(), "LOCK TABLE " + list + " IN EXCLUSIVE MODE", cancelled_);
    if (!locked.ok) {
      return fail(from.publisher_label + ": could not lock the published tables (" + locked.error +
                  "): pause the application's writes first");
    }
    if (!wait_applied(from, lag_timeout)) return false;
    result_.actions.push_back("replication " + describe(from_of(to_)) + " has applied everything");
    // Drops the slot on the publisher too.
    const auto dropped = pg::exec(
        from.subscriber, "DROP SUBSCRIPTION " + text::quote_identifier(from.name), cancelled_);
    if (!dropped.ok) return fail(from.subscriber_label + ": " + dropped.error);
    result_.actions.push_back("dropped subscription " + from.name + " on the " +
                              from.subscriber_label + " and its slot on the " +
                              from.publisher_label);
    return ensure_publication(to, list) && create_subscription(to);
  }

  static Direction from_of(Direction to) {
    return to == Direction::forward ? Direction::reverse : Direction::forward;
  }

  bool wait_applied(const Side& from, std::chrono::milliseconds timeout) {
    const auto target =
        pg::exec(guard_.get(), "SELECT pg_current_wal_insert_lsn()::text", cancelled_);
    if (!target.ok) return fail(from.publisher_label + ": " + target.error);
    const auto x = parse_lsn(target.value(0, 0));
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto reply =
          run_query(from.publisher,
                    "SELECT max(replay_lsn)::text FROM pg_catalog.pg_stat_replication "
                    "WHERE application_name = $1",
                    {from.name}, cancelled_);
      if (!reply.ok) return fail(from.publisher_label + ": " + reply.error);
      const auto applied = parse_lsn(reply.value(0, 0));
      if (x && applied && *applied >= *x) return true;
      if (Clock::now() > deadline || (cancelled_ && cancelled_())) {
        return fail("the " + from.subscriber_label + " did not apply the " + from.publisher_label +
                    "'s last changes within " + std::to_string(timeout.count()) +
                    " ms (is its subscription " + from.name +
                    " running? pgdual cdc status): nothing was switched");
      }
      // Moves the WAL past a page boundary the report may stop short of.
      pg::exec(from.publisher, "SELECT pg_catalog.pg_logical_emit_message(false, 'pgdual', '')",
               cancelled_);
      std::this_thread::sleep_for(20ms);
    }
  }

  bool ensure_publication(const Side& to, const std::string& list) {
    const std::string quoted = text::quote_identifier(to.name);
    const auto found =
        run_query(to.publisher, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
                  {to.name}, cancelled_);
    if (!found.ok) return fail(to.publisher_label + ": " + found.error);
    std::vector<std::string> statements;
    if (found.rows() == 0) {
      statements = {"CREATE PUBLICATION " + quoted + " FOR TABLE " + list +
                        " WITH (publish = 'insert, update, delete, truncate')",
                    "COMMENT ON PUBLICATION " + quoted + " IS " +
                        text::quote_literal(owned_comment(database_))};
    } else {
      statements = {"ALTER PUBLICATION " + quoted + " SET TABLE " + list};
    }
    for (const auto& sql : statements) {
      const auto reply = pg::exec(to.publisher, sql, cancelled_);
      if (!reply.ok) return fail(to.publisher_label + ": " + reply.error);
    }
    result_.actions.push_back(
        (found.rows() == 0 ? "created publication " : "updated publication ") + to.name +
        " on the " + to.publisher_label);
    return true;
  }

  bool create_subscription(const Side& to) {
    const std::string conninfo =
        to_ == Direction::forward
            ? subscription_conninfo(config_, database_, to.name)
            : pg::libpq_conninfo(config_.new_backend,
                                 config_.new_backend.dbname.value_or(database_), to.name);
    const auto created = pg::exec(
        to.subscriber, create_subscription_sql(to.name, conninfo, SubscriptionStart::no_copy),
        cancelled_);
    if (!created.ok) {
      return fail(to.subscriber_label + ": CREATE SUBSCRIPTION " + to.name +
                  " failed: " + created.error + " (the " + to.subscriber_label +
                  "'s server connects to the " + to.publisher_label + " itself)");
    }
    const auto commented = pg::exec(to.subscriber,
                                    "COMMENT ON SUBSCRIPTION " + text::quote_identifier(to.name) +
                                        " IS " + text::quote_literal(owned_comment(database_)),
                                    cancelled_);
    if (!commented.ok) return fail(to.subscriber_label + ": " + commented.error);
    result_.actions.push_back("created subscription " + to.name + " on the " + to.subscriber_label +
                              " (no initial copy: the stores are identical)");
    return true;
  }

  const config::Config& config_;
  const std::string database_;
  const Direction to_;
  const pg::Cancelled& cancelled_;
  pg::Conn old_, new_, guard_;
  SwitchResult result_;
};

}  // namespace

SwitchResult switch_direction(const config::Config& config, const std::string& database,
                              Direction to, std::chrono::milliseconds lag_timeout,
                              const pg::Cancelled& cancelled) {
  return Switcher(config, database, to, cancelled).run(lag_timeout);
}

}  // namespace pgdual::cdc
