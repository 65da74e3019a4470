#include "cdc/setup.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "cdc/names.hpp"
#include "cdc/ownership.hpp"
#include "libpq/conninfo.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::cdc {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kSlotReleaseWait = 15s;  // a dropped subscription's walsender lets go of its slot

constexpr const char* kPublishedOps = "insert, update, delete, truncate";

constexpr const char* kSubscription =
    "SELECT s.oid, coalesce(s.subslotname, ''), "
    "coalesce(obj_description(s.oid, 'pg_subscription'), '') "
    "FROM pg_catalog.pg_subscription s WHERE s.subname = $1 AND s.subdbid = "
    "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())";

constexpr const char* kPublication =
    "SELECT oid, coalesce(obj_description(oid, 'pg_publication'), '') "
    "FROM pg_catalog.pg_publication WHERE pubname = $1";

constexpr const char* kPublicationRels =
    "SELECT n.nspname, c.relname FROM pg_catalog.pg_publication_rel pr "
    "JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pr.prpubid = $1::oid";

// What the subscriber receives: partitioned tables as their leaves.
constexpr const char* kPublicationTables =
    "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1";

constexpr const char* kSubscribed =
    "SELECT n.nspname, c.relname FROM pg_catalog.pg_subscription_rel r "
    "JOIN pg_catalog.pg_class c ON c.oid = r.srrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE r.srsubid = $1::oid";

// The slot of that name, and the table-sync slots of the subscription with that oid.
constexpr const char* kSlots =
    "SELECT slot_name, active FROM pg_catalog.pg_replication_slots "
    "WHERE slot_name = $1 OR ($2 <> '' AND slot_name LIKE 'pg\\_' || $2 || '\\_sync\\_%') "
    "ORDER BY 1";

std::vector<TableName> table_rows(const pg::Reply& reply) {
  std::vector<TableName> out;
  for (int row = 0; row < reply.rows(); ++row) {
    out.push_back({.schema = reply.value(row, 0), .table = reply.value(row, 1)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<TableName> minus(const std::vector<TableName>& tables,
                             const std::vector<TableName>& removed) {
  const std::set<TableName> gone(removed.begin(), removed.end());
  std::vector<TableName> out;
  for (const auto& table : tables) {
    if (gone.count(table) == 0) out.push_back(table);
  }
  return out;
}

std::string quoted_list(const std::vector<TableName>& tables) {
  std::string out;
  for (const auto& table : tables) out += (out.empty() ? "" : ", ") + table.quoted();
  return out;
}

// A statement or query on one store; `error` gets "<store>: <message>" on the first failure.
class Store {
 public:
  Store(PGconn* conn, std::string label, const pg::Cancelled& cancelled)
      : conn_(conn), label_(std::move(label)), cancelled_(cancelled) {}

  PGconn* conn() const { return conn_; }
  const std::string& label() const { return label_; }
  pg::Reply query(const std::string& sql, const std::vector<std::string>& params = {}) {
    return run_query(conn_, sql, params, cancelled_);
  }
  bool run(const std::string& sql, std::string& error) {
    const pg::Reply reply = pg::exec(conn_, sql, cancelled_);
    if (!reply.ok && error.empty()) error = label_ + ": " + reply.error;
    return reply.ok;
  }
  bool run(const std::string& sql, const std::vector<std::string>& params, std::string& error) {
    const pg::Reply reply = query(sql, params);
    if (!reply.ok && error.empty()) error = label_ + ": " + reply.error;
    return reply.ok;
  }
  const pg::Cancelled& cancelled() const { return cancelled_; }

 private:
  PGconn* conn_;
  std::string label_;
  const pg::Cancelled& cancelled_;
};

bool is_cancelled(const pg::Cancelled& cancelled) { return cancelled && cancelled(); }

// Drops a replication slot once its walsender has let go of it (a dropped subscription's
// walsender may take a moment to exit). False with `error` set when it stays active.
bool drop_slot(Store& publisher, const std::string& slot, std::string& error) {
  const auto deadline = Clock::now() + kSlotReleaseWait;
  for (;;) {
    const pg::Reply reply = publisher.query(
        "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", {slot});
    if (!reply.ok) {
      error = publisher.label() + ": " + reply.error;
      return false;
    }
    if (reply.rows() == 0) return true;  // gone already
    if (reply.value(0, 0) != "t") {
      return publisher.run("SELECT pg_drop_replication_slot($1)", {slot}, error);
    }
    if (Clock::now() > deadline || is_cancelled(publisher.cancelled())) {
      error = publisher.label() + ": replication slot " + slot +
              " is still in use: stop its consumer, then SELECT pg_drop_replication_slot('" + slot +
              "')";
      return false;
    }
    std::this_thread::sleep_for(200ms);
  }
}

void join_error(std::string& into, const std::string& more) {
  if (more.empty()) return;
  into += (into.empty() ? "" : "; ") + more;
}

std::string failed_checks(const PreflightReport& report) {
  if (!report.error.empty()) return "preflight could not run: " + report.error;
  std::string out;
  for (const auto& check : report.checks) {
    if (check.status == CheckStatus::fail) join_error(out, check.name + ": " + check.message);
  }
  return "preflight failed, nothing was created: " + out;
}

struct Connections {
  pg::Conn old_conn, new_conn;
  std::string old_error, new_error;
};

Connections connect_both(const config::Config& config, const std::string& database,
                         const pg::Cancelled& cancelled) {
  Connections out;
  out.old_conn = pg::connect(old_store_conninfo(config, database),
                             config.old_backend.connect_timeout, cancelled, out.old_error);
  out.new_conn = pg::connect(new_store_conninfo(config, database),
                             config.new_backend.connect_timeout, cancelled, out.new_error);
  return out;
}

// ---- setup steps ----

// A slot with the subscription's name but no subscription: CREATE SUBSCRIPTION created it on
// the old store, then failed or was interrupted before it committed.
bool drop_orphan_slot(Store& old_store, const std::string& name, SetupResult& result) {
  const pg::Reply slot = old_store.query(
      "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", {name});
  if (!slot.ok) {
    result.error = "old store: " + slot.error;
    return false;
  }
  if (slot.rows() == 0) return true;
  if (slot.value(0, 0) == "t") {
    result.error = "old store: replication slot " + name +
                   " is in use by a consumer other than pgdual's subscription: stop it and "
                   "drop the slot (SELECT pg_drop_replication_slot('" +
                   name + "'))";
    return false;
  }
  if (!old_store.run("SELECT pg_drop_replication_slot($1)", {name}, result.error)) return false;
  result.actions.push_back("dropped the orphan replication slot " + name +
                           " on the old store (left by an interrupted setup)");
  return true;
}

bool ensure_publication(Store& old_store, const std::string& name, const std::string& database,
                        const Scope& scope, SetupResult& result) {
  std::string& error = result.error;
  if (!old_store.run("BEGIN", error)) return false;
  const auto rollback = [&] {
    old_store.run("ROLLBACK", error);
    return false;
  };
  pg::Reply publication = old_store.query(kPublication, {name});
  if (!publication.ok) {
    error = "old store: " + publication.error;
    return rollback();
  }
  const std::string quoted = text::quote_identifier(name);
  if (publication.rows() == 0) {
    if (!old_store.run("CREATE PUBLICATION " + quoted + " WITH (publish = '" + kPublishedOps + "')",
                       error) ||
        !old_store.run("COMMENT ON PUBLICATION " + quoted + " IS " +
                           text::quote_literal(owned_comment(database)),
                       error)) {
      return rollback();
    }
    result.actions.push_back("created publication " + name + " on the old store");
    publication = old_store.query(kPublication, {name});
  } else if (!is_owned(publication.value(0, 1))) {
    error = "old store: publication " + name + " was not created by pgdual: drop or rename it";
    return rollback();
  }
  const pg::Reply listed = old_store.query(kPublicationRels, {publication.value(0, 0)});
  if (!listed.ok) {
    error = "old store: " + listed.error;
    return rollback();
  }
  const auto current = table_rows(listed);
  const auto added = minus(scope.published, current);
  const auto dropped = minus(current, scope.published);
  if (!added.empty()) {
    if (!old_store.run("ALTER PUBLICATION " + quoted + " ADD TABLE " + quoted_list(added), error)) {
      return rollback();
    }
    result.actions.push_back("added to publication " + name + ": " + list_names(added));
  }
  if (!dropped.empty()) {
    if (!old_store.run("ALTER PUBLICATION " + quoted + " DROP TABLE " + quoted_list(dropped),
                       error)) {
      return rollback();
    }
    result.actions.push_back("removed from publication " + name +
                             " (no longer in a dual-write "
                             "phase): " +
                             list_names(dropped));
  }
  return old_store.run("COMMIT", error);
}

std::string publisher_address(const config::Config& config) {
  const config::BackendConfig& publisher = publisher_backend(config);
  return publisher.user + "@" + config::format_host_port(publisher.host, publisher.port);
}

bool create_subscription(Store& new_store, const config::Config& config, const std::string& name,
                         const std::string& database, SubscriptionStart start,
                         SetupResult& result) {
  std::string& error = result.error;
  // Never in a transaction block: it may create the slot on the old store.
  const pg::Reply created =
      pg::exec(new_store.conn(),
               create_subscription_sql(name, subscription_conninfo(config, database, name), start),
               new_store.cancelled());
  if (!created.ok) {
    error = "new store: CREATE SUBSCRIPTION " + name + " failed: " + created.error +
            " (the new server connects to the old one itself, as " + publisher_address(config) +
            " from migration.cdc.publisher, else backends.old: that address, the old store's "
            "pg_hba.conf and the role's REPLICATION attribute must admit it from the new "
            "server)";
    return false;
  }
  result.subscription_created = true;
  std::string how = "with slot " + name + " on the old store (initial copy: ";
  if (start == SubscriptionStart::copy) how += "PostgreSQL copies the tables)";
  if (start == SubscriptionStart::no_copy) how += "none)";
  if (start == SubscriptionStart::existing_slot) {
    how = "on slot " + name + " (initial copy: pgdual backfill, under the slot's snapshot)";
  }
  result.actions.push_back("created subscription " + name + " on the new store " + how);
  if (!new_store.run("COMMENT ON SUBSCRIPTION " + text::quote_identifier(name) + " IS " +
                         text::quote_literal(owned_comment(database)),
                     error)) {
    error += " (the subscription lacks pgdual's mark: run pgdual cdc teardown, then setup)";
    return false;
  }
  return true;
}

bool ensure_subscription(Store& old_store, Store& new_store, const config::Config& config,
                         const std::string& name, const std::string& database,
                         SetupResult& result) {
  std::string& error = result.error;
  const pg::Reply subscription = new_store.query(kSubscription, {name});
  if (!subscription.ok) {
    error = "new store: " + subscription.error;
    return false;
  }
  const std::string quoted = text::quote_identifier(name);
  if (subscription.rows() == 0) {
    switch (config.migration.cdc.copy_data) {
      case config::CdcCopyData::pgdual:
        result.initial_copy_pending = true;  // `pgdual backfill` creates the slot and copies
        return true;
      case config::CdcCopyData::postgres:
        return create_subscription(new_store, config, name, database, SubscriptionStart::copy,
                                   result);
      case config::CdcCopyData::none:
        return create_subscription(new_store, config, name, database, SubscriptionStart::no_copy,
                                   result);
    }
  }
  if (!is_owned(subscription.value(0, 2))) {
    error = "new store: subscription " + name + " was not created by pgdual: drop or rename it";
    return false;
  }
  // Tables added to or dropped from the publication (by this run or an interrupted one) reach
  // the subscription only by a refresh, which copies the added ones.
  const pg::Reply published = old_store.query(kPublicationTables, {name});
  const pg::Reply subscribed = new_store.query(kSubscribed, {subscription.value(0, 0)});
  if (!published.ok || !subscribed.ok) {
    error = !published.ok ? "old store: " + published.error : "new store: " + subscribed.error;
    return false;
  }
  const auto want = table_rows(published);
  const auto have = table_rows(subscribed);
  if (want == have) return true;
  if (!new_store.run(
          "ALTER SUBSCRIPTION " + quoted + " REFRESH PUBLICATION WITH (copy_data = true)", error)) {
    return false;
  }
  std::string what = "refreshed subscription " + name;
  if (const auto added = minus(want, have); !added.empty()) {
    what += "; now replicating (rows copied): " + list_names(added);
  }
  if (const auto gone = minus(have, want); !gone.empty()) {
    what += "; no longer replicating: " + list_names(gone);
  }
  result.actions.push_back(what);
  return true;
}

// ---- teardown steps ----

struct DroppedSubscription {
  std::string oid;  // "" when there was none
};

// Drops subscription `name` of `subscriber`'s database; `publisher` (may be null: unreachable)
// holds its slot.
DroppedSubscription drop_subscription(Store* subscriber, Store* publisher, const std::string& name,
                                      TeardownResult& result) {
  DroppedSubscription dropped;
  if (!subscriber) return dropped;
  const pg::Reply found = subscriber->query(kSubscription, {name});
  if (!found.ok) {
    join_error(result.error, subscriber->label() + ": " + found.error);
    return dropped;
  }
  if (found.rows() == 0) return dropped;
  if (!is_owned(found.value(0, 2))) {
    result.remaining.push_back("subscription " + name + " on the " + subscriber->label() +
                               " (not created by pgdual: left alone)");
    return dropped;
  }
  dropped.oid = found.value(0, 0);
  const std::string slot = found.value(0, 1);
  const std::string quoted = text::quote_identifier(name);
  const pg::Reply drop =
      pg::exec(subscriber->conn(), "DROP SUBSCRIPTION " + quoted, subscriber->cancelled());
  if (drop.ok) {
    result.actions.push_back("dropped subscription " + name + " on the " + subscriber->label() +
                             (slot.empty() ? "" : " and its slot " + slot));
    return dropped;
  }
  // The publisher is unreachable or lost the slot: drop the subscription without it, then the
  // slot by hand.
  std::string error;
  if (!subscriber->run("ALTER SUBSCRIPTION " + quoted + " DISABLE", error) ||
      !subscriber->run("ALTER SUBSCRIPTION " + quoted + " SET (slot_name = NONE)", error) ||
      !subscriber->run("DROP SUBSCRIPTION " + quoted, error)) {
    join_error(result.error, "DROP SUBSCRIPTION " + name + " failed (" + drop.error +
                                 "), and so did dropping it without its slot: " + error);
    return dropped;
  }
  result.actions.push_back("dropped subscription " + name + " on the " + subscriber->label() +
                           " without its slot (" + drop.error + ")");
  if (slot.empty()) return dropped;
  if (!publisher) {
    join_error(result.error, "replication slot " + slot +
                                 " may remain on the unreachable publisher, keeping its WAL: "
                                 "drop it there (SELECT pg_drop_replication_slot('" +
                                 slot + "'))");
    return dropped;
  }
  std::string slot_error;
  if (drop_slot(*publisher, slot, slot_error)) {
    result.actions.push_back("dropped replication slot " + slot + " on the " + publisher->label());
  } else {
    join_error(result.error, slot_error);
  }
  return dropped;
}

void drop_publication(Store* publisher, const std::string& name, TeardownResult& result) {
  if (!publisher) return;
  const pg::Reply found = publisher->query(kPublication, {name});
  if (!found.ok) {
    join_error(result.error, publisher->label() + ": " + found.error);
    return;
  }
  if (found.rows() == 0) return;
  if (!is_owned(found.value(0, 1))) {
    result.remaining.push_back("publication " + name + " on the " + publisher->label() +
                               " (not created by pgdual: left alone)");
    return;
  }
  std::string error;
  if (publisher->run("DROP PUBLICATION " + text::quote_identifier(name), error)) {
    result.actions.push_back("dropped publication " + name + " on the " + publisher->label());
  } else {
    join_error(result.error, error);
  }
}

// Drops what is left of the subscription's slots on its publisher (the slot itself after a
// crash, the table-sync slots of an interrupted initial copy); lists what stays.
void sweep_slots(Store* publisher, const std::string& name, const std::string& subscription_oid,
                 TeardownResult& result) {
  if (!publisher) return;
  const pg::Reply slots = publisher->query(kSlots, {name, subscription_oid});
  if (!slots.ok) {
    join_error(result.error, publisher->label() + ": " + slots.error);
    return;
  }
  for (int row = 0; row < slots.rows(); ++row) {
    const std::string slot = slots.value(row, 0);
    std::string error;
    if (drop_slot(*publisher, slot, error)) {
      result.actions.push_back("dropped leftover replication slot " + slot + " on the " +
                               publisher->label());
    } else {
      join_error(result.error, error);
    }
  }
}

// Lists pgdual's objects of the database still present on a store.
void verify_gone(Store* store, const std::string& publication, const std::string& subscription,
                 const std::string& slot, const std::string& sync_oid, TeardownResult& result) {
  if (!store) return;
  const pg::Reply publications = store->query(kPublication, {publication});
  const pg::Reply subscriptions = store->query(kSubscription, {subscription});
  const pg::Reply slots = store->query(kSlots, {slot, sync_oid});
  if (!publications.ok || !subscriptions.ok || !slots.ok) {
    join_error(result.error, store->label() + ": cannot verify the teardown");
    return;
  }
  const std::string where = " on the " + store->label();
  if (publications.rows() > 0) result.remaining.push_back("publication " + publication + where);
  if (subscriptions.rows() > 0) {
    result.remaining.push_back("subscription " + subscription + where);
  }
  for (int row = 0; row < slots.rows(); ++row) {
    result.remaining.push_back("replication slot " + slots.value(row, 0) + where);
  }
}

}  // namespace

std::string subscription_conninfo(const config::Config& config, const std::string& database,
                                  const std::string& name) {
  return pg::libpq_conninfo(publisher_backend(config), database, name);
}

std::string create_subscription_sql(const std::string& name, const std::string& conninfo,
                                    SubscriptionStart start) {
  return "CREATE SUBSCRIPTION " + text::quote_identifier(name) + " CONNECTION " +
         text::quote_literal(conninfo) + " PUBLICATION " + text::quote_identifier(name) +
         " WITH (copy_data = " + (start == SubscriptionStart::copy ? "true" : "false") +
         ", create_slot = " + (start == SubscriptionStart::existing_slot ? "false" : "true") +
         ", slot_name = " + text::quote_literal(name) +
         ", streaming = on, synchronous_commit = 'local', disable_on_error = false)";
}

SetupResult ensure_replication(const config::Config& config, const std::string& database,
                               const pg::Cancelled& cancelled, bool caller_holds_lock) {
  SetupResult result;
  if (config.migration.strategy != config::Strategy::cdc) {
    result.error = "migration.strategy is " +
                   std::string(config::to_string(config.migration.strategy)) +
                   ", not cdc: replicating while pgdual mirrors the writes itself would apply "
                   "every row twice";
    result.refused = true;
    return result;
  }
  Connections connections = connect_both(config, database, cancelled);
  if (!connections.old_conn || !connections.new_conn) {
    result.error = !connections.old_conn ? "old store: " + connections.old_error
                                         : "new store: " + connections.new_error;
    return result;
  }
  Store old_store(connections.old_conn.get(), "old store", cancelled);
  Store new_store(connections.new_conn.get(), "new store", cancelled);
  if (!caller_holds_lock &&
      !lock_replication(old_store.conn(), database, cancelled, result.error)) {
    return result;
  }
  const auto unlock = [&] {
    if (!caller_holds_lock) unlock_replication(old_store.conn(), database, cancelled);
  };

  result.preflight = run_preflight(old_store.conn(), new_store.conn(), config, database, cancelled);
  if (!result.preflight.ok()) {
    result.error = failed_checks(result.preflight);
    result.refused = result.preflight.error.empty();
    unlock();
    return result;
  }
  const std::string name = names_for(database).forward;
  const pg::Reply subscription = new_store.query(kSubscription, {name});
  bool done = subscription.ok;
  if (!subscription.ok) result.error = "new store: " + subscription.error;
  if (done && subscription.rows() == 0) done = drop_orphan_slot(old_store, name, result);
  for (const auto& table : result.preflight.identity_full) {
    if (!done) break;
    done = old_store.run("ALTER TABLE " + table.quoted() + " REPLICA IDENTITY FULL", result.error);
    if (done) {
      result.actions.push_back("set REPLICA IDENTITY FULL on " + table.display() +
                               " on the old store (no primary key)");
    }
  }
  done = done && ensure_publication(old_store, name, database, result.preflight.scope, result);
  done = done && ensure_subscription(old_store, new_store, config, name, database, result);
  unlock();
  for (const auto& table : result.preflight.scope.published) {
    result.published_tables.push_back(table.display());
  }
  result.ok = done;
  return result;
}

SetupResult attach_subscription(const config::Config& config, const std::string& database,
                                const pg::Cancelled& cancelled) {
  SetupResult result;
  std::string error;
  const pg::Conn new_conn = pg::connect(new_store_conninfo(config, database),
                                        config.new_backend.connect_timeout, cancelled, error);
  if (!new_conn) {
    result.error = "new store: " + error;
    return result;
  }
  Store new_store(new_conn.get(), "new store", cancelled);
  const std::string name = names_for(database).forward;
  result.ok = create_subscription(new_store, config, name, database,
                                  SubscriptionStart::existing_slot, result);
  return result;
}

std::string drop_unattached_slot(const config::Config& config, const std::string& database,
                                 const pg::Cancelled& cancelled) {
  std::string error;
  const pg::Conn old_conn = pg::connect(old_store_conninfo(config, database),
                                        config.old_backend.connect_timeout, cancelled, error);
  if (!old_conn) return "old store: " + error;
  Store old_store(old_conn.get(), "old store", cancelled);
  drop_slot(old_store, names_for(database).forward, error);
  return error;
}

TeardownResult drop_replication(const config::Config& config, const std::string& database,
                                const pg::Cancelled& cancelled) {
  TeardownResult result;
  const ReplicationNames names = names_for(database);
  Connections connections = connect_both(config, database, cancelled);
  std::optional<Store> old_store, new_store;
  if (connections.old_conn) {
    old_store.emplace(connections.old_conn.get(), "old store", cancelled);
  } else {
    join_error(result.error, "old store: " + connections.old_error);
  }
  if (connections.new_conn) {
    new_store.emplace(connections.new_conn.get(), "new store", cancelled);
  } else {
    join_error(result.error, "new store: " + connections.new_error);
  }
  Store* old_ptr = old_store ? &*old_store : nullptr;
  Store* new_ptr = new_store ? &*new_store : nullptr;
  if (old_ptr && !lock_replication(old_ptr->conn(), database, cancelled, result.error))
    return result;

  // Forward: subscription on the new store, publication and slot on the old one; reverse (after
  // a cutover): the other way round.
  const auto forward = drop_subscription(new_ptr, old_ptr, names.forward, result);
  const auto reverse = drop_subscription(old_ptr, new_ptr, names.reverse, result);
  drop_publication(old_ptr, names.forward, result);
  drop_publication(new_ptr, names.reverse, result);
  if (new_ptr) sweep_slots(old_ptr, names.forward, forward.oid, result);
  if (old_ptr) sweep_slots(new_ptr, names.reverse, reverse.oid, result);

  verify_gone(old_ptr, names.forward, names.reverse, names.forward, forward.oid, result);
  verify_gone(new_ptr, names.reverse, names.forward, names.reverse, reverse.oid, result);
  if (!old_ptr) result.remaining.push_back("the old store could not be checked");
  if (!new_ptr) result.remaining.push_back("the new store could not be checked");
  if (old_ptr) unlock_replication(old_ptr->conn(), database, cancelled);
  result.ok = result.error.empty() && result.remaining.empty();
  return result;
}

}  // namespace pgdual::cdc
