#include "cdc/preflight.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "cdc/names.hpp"
#include "libpq/conninfo.hpp"

namespace pgdual::cdc {

namespace {

constexpr std::string_view kApplicationName = "pgdual cdc";

// The old store: wal_level, slot and WAL sender room (the subscription's own excluded, so a
// second run counts what the first created as its own), and the connected role's rights.
constexpr const char* kOldSettings =
    "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
    "(SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name <> $1), "
    "current_setting('max_wal_senders')::int, "
    "(SELECT count(*) FROM pg_catalog.pg_stat_replication "
    "WHERE application_name IS DISTINCT FROM $1), "
    "r.rolsuper, has_database_privilege(current_database(), 'CREATE'), current_user, "
    "EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata) "
    "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

constexpr const char* kRole =
    "SELECT rolsuper, rolreplication, rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1";

constexpr const char* kPublication =
    "SELECT coalesce(obj_description(oid, 'pg_publication'), '') "
    "FROM pg_catalog.pg_publication WHERE pubname = $1";

// The new store: worker and origin room (PostgreSQL 15 bounds replication origins with
// max_replication_slots on the subscriber), and whether the connected role is a superuser.
constexpr const char* kNewSettings =
    "SELECT current_setting('max_sync_workers_per_subscription')::int, "
    "current_setting('max_logical_replication_workers')::int, "
    "(SELECT count(*) FROM pg_catalog.pg_stat_activity "
    "WHERE backend_type = 'logical replication worker'), "
    "current_setting('max_replication_slots')::int, "
    "(SELECT count(*) FROM pg_catalog.pg_replication_origin), r.rolsuper, current_user "
    "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

// The subscription of this database with the forward name, its running workers and origins.
constexpr const char* kSubscription =
    "SELECT s.oid, coalesce(obj_description(s.oid, 'pg_subscription'), ''), "
    "(SELECT count(*) FROM pg_catalog.pg_stat_subscription st "
    "WHERE st.subid = s.oid AND st.pid IS NOT NULL), "
    "(SELECT count(*) FROM pg_catalog.pg_replication_origin o "
    "WHERE o.roname = 'pg_' || s.oid OR o.roname LIKE 'pg\\_' || s.oid || '\\_%') "
    "FROM pg_catalog.pg_subscription s WHERE s.subname = $1 AND s.subdbid = "
    "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())";

constexpr const char* kSubscribed =
    "SELECT n.nspname, c.relname FROM pg_catalog.pg_subscription_rel r "
    "JOIN pg_catalog.pg_class c ON c.oid = r.srrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE r.srsubid = $1::oid";

// The relations named by two text[] parameters ($1 schemas, $2 names).
constexpr const char* kNamedRelations =
    "FROM unnest($1::text[], $2::text[]) AS t(nsp, rel) "
    "JOIN pg_catalog.pg_namespace n ON n.nspname = t.nsp "
    "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.rel "
    "AND c.relkind IN ('r', 'p') ";

constexpr const char* kMissing =
    "SELECT t.nsp, t.rel FROM unnest($1::text[], $2::text[]) AS t(nsp, rel) "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = t.nsp AND c.relname = t.rel AND c.relkind IN ('r', 'p'))";

std::string named(const char* select, const char* tail = "") {
  return std::string("SELECT t.nsp, t.rel") + select + " " + kNamedRelations + tail;
}

// ---- type rules ----

struct TypeForm {
  std::string base;
  std::vector<long> args;  // the typmod's numbers: varchar(20) -> {20}, numeric(10,2) -> {10,2}
};

TypeForm parse_type(std::string_view type) {
  TypeForm form;
  const auto open = type.find('(');
  if (open == std::string_view::npos || type.back() != ')') {
    form.base = std::string(type);
    return form;
  }
  form.base = std::string(type.substr(0, open));
  std::string_view args = type.substr(open + 1, type.size() - open - 2);
  while (!args.empty()) {
    const auto comma = std::min(args.find(','), args.size());
    try {
      form.args.push_back(std::stol(std::string(args.substr(0, comma))));
    } catch (...) {
      form.args.push_back(-1);
    }
    args.remove_prefix(std::min(comma + 1, args.size()));
  }
  return form;
}

int integer_rank(std::string_view base) {
  if (base == "smallint") return 1;
  if (base == "integer") return 2;
  if (base == "bigint") return 3;
  return 0;
}

// Decimal digits an integer type may need.
long integer_digits(int rank) { return rank == 1 ? 5 : rank == 2 ? 10 : 19; }

bool numeric_holds(const TypeForm& numeric, long integer_digits_needed, long scale_needed) {
  if (numeric.args.empty()) return true;  // unconstrained
  const long precision = numeric.args[0];
  const long scale = numeric.args.size() > 1 ? numeric.args[1] : 0;
  return scale >= scale_needed && precision - scale >= integer_digits_needed;
}

bool is_text_like(const TypeForm& form) {
  return form.base == "text" || (form.base == "character varying" && form.args.empty());
}

// ---- reading ----

struct Store {
  PGconn* conn;
  const char* label;  // "old store", "new store"
  const pg::Cancelled& cancelled;
  std::string& error;

  // The reply, or a failed one with `error` set.
  pg::Reply query(const std::string& sql, const std::vector<std::string>& params) {
    pg::Reply reply = run_query(conn, sql, params, cancelled);
    if (!reply.ok && error.empty()) error = std::string(label) + ": " + reply.error;
    return reply;
  }
};

std::vector<TableName> table_rows(const pg::Reply& reply) {
  std::vector<TableName> out;
  for (int row = 0; row < reply.rows(); ++row) {
    out.push_back({.schema = reply.value(row, 0), .table = reply.value(row, 1)});
  }
  return out;
}

std::map<TableName, std::vector<ColumnInfo>> read_columns(Store& store,
                                                          const std::vector<TableName>& tables) {
  std::map<TableName, std::vector<ColumnInfo>> out;
  const pg::Reply reply =
      store.query(named(", a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                        "a.atthasdef OR a.attidentity <> '', a.attgenerated <> ''",
                        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                        "AND NOT a.attisdropped ORDER BY 1, 2, a.attnum"),
                  name_arrays(tables));
  for (int row = 0; row < reply.rows(); ++row) {
    out[{.schema = reply.value(row, 0), .table = reply.value(row, 1)}].push_back({
        .name = reply.value(row, 2),
        .type = reply.value(row, 3),
        .not_null = reply.value(row, 4) == "t",
        .has_default = reply.value(row, 5) == "t",
        .generated = reply.value(row, 6) == "t",
    });
  }
  return out;
}

std::vector<TableName> without(const std::vector<TableName>& tables,
                               const std::set<TableName>& removed) {
  std::vector<TableName> out;
  for (const auto& table : tables) {
    if (removed.count(table) == 0) out.push_back(table);
  }
  return out;
}

class Checks {
 public:
  explicit Checks(PreflightReport& report) : report_(report) {}
  void pass(std::string name, std::string message) {
    add(std::move(name), CheckStatus::pass, std::move(message));
  }
  void warn(std::string name, std::string message) {
    add(std::move(name), CheckStatus::warn, std::move(message));
  }
  void fail(std::string name, std::string message) {
    add(std::move(name), CheckStatus::fail, std::move(message));
  }
  // pass or fail on `good`.
  void expect(bool good, std::string name, std::string pass_message, std::string fail_message) {
    add(std::move(name), good ? CheckStatus::pass : CheckStatus::fail,
        good ? std::move(pass_message) : std::move(fail_message));
  }

 private:
  void add(std::string name, CheckStatus status, std::string message) {
    report_.checks.push_back(
        {.name = std::move(name), .status = status, .message = std::move(message)});
  }
  PreflightReport& report_;
};

long long number(const pg::Reply& reply, int column) {
  try {
    return std::stoll(reply.value(0, column));
  } catch (...) {
    return 0;
  }
}

std::string capacity_message(long long free, long long total, long long needed,
                             const std::string& what) {
  return std::to_string(free) + " of " + std::to_string(total) + " " + what + " free, " +
         std::to_string(needed) + " needed";
}

}  // namespace

std::string_view to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass:
      return "pass";
    case CheckStatus::warn:
      return "warn";
    case CheckStatus::fail:
      return "fail";
  }
  return "fail";
}

bool PreflightReport::ok() const {
  if (!error.empty()) return false;
  return std::none_of(checks.begin(), checks.end(),
                      [](const Check& check) { return check.status == CheckStatus::fail; });
}

bool safe_type_change(std::string_view old_type, std::string_view new_type) {
  if (old_type == new_type) return true;
  const TypeForm from = parse_type(old_type);
  const TypeForm to = parse_type(new_type);
  if (const int rank = integer_rank(from.base); rank > 0) {
    if (integer_rank(to.base) >= rank) return true;
    return to.base == "numeric" && numeric_holds(to, integer_digits(rank), 0);
  }
  if (from.base == "real") return to.base == "double precision";
  if (from.base == "character varying") {
    if (is_text_like(to)) return true;
    return to.base == "character varying" && !from.args.empty() && !to.args.empty() &&
           to.args[0] >= from.args[0];
  }
  if (from.base == "text") return is_text_like(to);
  if (from.base == "numeric" && to.base == "numeric") {
    if (to.args.empty()) return true;
    if (from.args.empty()) return false;
    const long scale = from.args.size() > 1 ? from.args[1] : 0;
    return numeric_holds(to, from.args[0] - scale, scale);
  }
  return false;
}

std::vector<std::string> column_problems(const std::vector<ColumnInfo>& old_columns,
                                         const std::vector<ColumnInfo>& new_columns) {
  std::vector<std::string> problems;
  std::map<std::string, const ColumnInfo*> by_name;
  for (const auto& column : new_columns) by_name[column.name] = &column;
  std::set<std::string> filled;  // new columns that replication writes
  for (const auto& column : old_columns) {
    // PostgreSQL 15 does not publish generated columns: the new store computes its own.
    if (column.generated) continue;
    const auto found = by_name.find(column.name);
    if (found == by_name.end()) {
      problems.push_back("column " + column.name + " (" + column.type +
                         ") is missing on the new store: add it there");
      continue;
    }
    const ColumnInfo& other = *found->second;
    filled.insert(column.name);
    if (other.generated) {
      problems.push_back("column " + column.name +
                         " is generated on the new store only: replicated values cannot be "
                         "written to it");
    } else if (!safe_type_change(column.type, other.type)) {
      problems.push_back("column " + column.name + " is " + column.type + " on the old store but " +
                         other.type +
                         " on the new: make the types equal (or a widening such as integer -> "
                         "bigint, varchar -> text)");
    }
  }
  for (const auto& column : new_columns) {
    if (filled.count(column.name) != 0 || column.generated || column.has_default ||
        !column.not_null) {
      continue;
    }
    problems.push_back("column " + column.name +
                       " exists on the new store only and is NOT NULL without a default: "
                       "replicated rows would fail (give it a default or drop NOT NULL)");
  }
  return problems;
}

std::string old_store_conninfo(const config::Config& config, const std::string& database) {
  return pg::libpq_conninfo(config.old_backend, database, kApplicationName);
}

std::string new_store_conninfo(const config::Config& config, const std::string& database) {
  return pg::libpq_conninfo(config.new_backend, database, kApplicationName);
}

const config::BackendConfig& publisher_backend(const config::Config& config) {
  return config.migration.cdc.publisher ? *config.migration.cdc.publisher : config.old_backend;
}

PreflightReport run_preflight(PGconn* old_conn, PGconn* new_conn, const config::Config& config,
                              const std::string& database, const pg::Cancelled& cancelled) {
  PreflightReport report;
  report.database = database;
  Store old_store{old_conn, "old store", cancelled, report.error};
  Store new_store{new_conn, "new store", cancelled, report.error};
  Checks checks(report);
  const auto& cdc = config.migration.cdc;
  const std::string name = names_for(database).forward;

  std::vector<CatalogRelation> relations;
  if (!read_relations(old_conn, config.migration.journal.schema, relations, report.error,
                      cancelled)) {
    return report;
  }
  report.scope = decide_scope(config.migration, database, relations);
  const Scope& scope = report.scope;
  checks.pass("scope",
              "tables published (phase dual_write, backfill or shadow_read): " +
                  std::to_string(scope.published.size()) +
                  (scope.published.empty() ? "" : " (" + list_names(scope.published) + ")"));
  for (const auto& note : scope.notes) checks.warn("scope", note);
  if (config.migration.strategy != config::Strategy::cdc) {
    checks.warn("strategy", "migration.strategy is " +
                                std::string(config::to_string(config.migration.strategy)) +
                                ", not cdc: setup refuses to replicate while pgdual mirrors "
                                "writes itself (every row would arrive twice)");
  }

  // ---- settings and capacity ----
  const pg::Reply old_settings = old_store.query(kOldSettings, {name});
  const pg::Reply new_settings = new_store.query(kNewSettings, {});
  const pg::Reply subscription = new_store.query(kSubscription, {name});
  const pg::Reply publication = old_store.query(kPublication, {name});
  if (!report.error.empty()) return report;
  if (old_settings.rows() != 1 || new_settings.rows() != 1) {
    report.error = "cannot read the connected role of the old or the new store";
    return report;
  }
  const long long sync_workers = number(new_settings, 0);
  const long long needed = 1 + sync_workers;
  const std::string wal_level = old_settings.value(0, 0);
  checks.expect(wal_level == "logical", "wal_level", "wal_level is logical on the old store",
                "wal_level is " + wal_level +
                    " on the old store: set wal_level = logical there (ALTER SYSTEM SET "
                    "wal_level = logical) and restart it");
  const long long slots = number(old_settings, 1), free_slots = slots - number(old_settings, 2);
  const std::string slot_room = capacity_message(free_slots, slots, needed, "replication slots");
  checks.expect(free_slots >= needed, "replication slots", "old store: " + slot_room,
                "old store: " + slot_room +
                    " (1 for the subscription + "
                    "max_sync_workers_per_subscription for the initial copy): raise "
                    "max_replication_slots there (restart) or drop unused slots");
  const long long senders = number(old_settings, 3),
                  free_senders = senders - number(old_settings, 4);
  const std::string sender_room = capacity_message(free_senders, senders, needed, "WAL senders");
  checks.expect(free_senders >= needed, "wal senders", "old store: " + sender_room,
                "old store: " + sender_room +
                    " (physical standbys count too): raise max_wal_senders "
                    "there (restart)");
  const bool subscribed = subscription.rows() == 1;
  const long long own_workers = subscribed ? number(subscription, 2) : 0;
  const long long own_origins = subscribed ? number(subscription, 3) : 0;
  const long long workers = number(new_settings, 1);
  const long long free_workers = workers - (number(new_settings, 2) - own_workers);
  const std::string worker_room =
      capacity_message(free_workers, workers, needed, "logical replication workers");
  checks.expect(free_workers >= needed, "replication workers", "new store: " + worker_room,
                "new store: " + worker_room +
                    ": raise max_logical_replication_workers (and "
                    "max_worker_processes) there (restart)");
  const long long origins = number(new_settings, 3);
  const long long free_origins = origins - (number(new_settings, 4) - own_origins);
  const std::string origin_room =
      capacity_message(free_origins, origins, needed, "replication origins");
  checks.expect(free_origins >= needed, "replication origins", "new store: " + origin_room,
                "new store: " + origin_room +
                    " (PostgreSQL 15 bounds them with max_replication_slots "
                    "on the subscriber): raise max_replication_slots there (restart)");

  // ---- objects that carry pgdual's name but not its mark ----
  const auto owned = [](const std::string& comment) {
    return comment.rfind("owned by pgdual", 0) == 0;
  };
  if (publication.rows() == 1 && !owned(publication.value(0, 0))) {
    checks.fail("existing objects", "a publication named " + name +
                                        " exists on the old store but was not created by "
                                        "pgdual: drop or rename it");
  }
  if (subscribed && !owned(subscription.value(0, 1))) {
    checks.fail("existing objects", "a subscription named " + name +
                                        " exists on the new store but was not created by "
                                        "pgdual: drop or rename it");
  }

  // ---- privileges ----
  const bool old_super = old_settings.value(0, 5) == "t";
  const std::string old_user = old_settings.value(0, 7);
  std::vector<TableName> owned_needed = scope.published;
  owned_needed.insert(owned_needed.end(), scope.replicated.begin(), scope.replicated.end());
  std::sort(owned_needed.begin(), owned_needed.end());
  owned_needed.erase(std::unique(owned_needed.begin(), owned_needed.end()), owned_needed.end());
  std::string old_problem;
  if (!old_super) {
    if (old_settings.value(0, 6) != "t") {
      old_problem = "role " + old_user +
                    " may not CREATE in the database (CREATE PUBLICATION needs it): GRANT CREATE "
                    "ON DATABASE ... TO " +
                    old_user;
    }
    const auto not_owned =
        table_rows(old_store.query(named("",
                                         "WHERE NOT pg_has_role(current_user, c.relowner, "
                                         "'USAGE')"),
                                   name_arrays(owned_needed)));
    if (!not_owned.empty()) {
      old_problem += (old_problem.empty() ? "" : "; ") +
                     ("role " + old_user + " does not own " + list_names(not_owned) +
                      " (adding a table to a publication "
                      "needs its owner): connect as the "
                      "owner or a superuser");
    }
  }
  if (!old_super && cdc.copy_data == config::CdcCopyData::pgdual) {
    // `pgdual backfill` creates the slot itself, over a replication connection as this role.
    const pg::Reply old_role = old_store.query(kRole, {old_user});
    if (old_role.ok && old_role.rows() == 1 && old_role.value(0, 1) != "t") {
      old_problem += (old_problem.empty() ? "" : "; ") +
                     ("role " + old_user +
                      " lacks REPLICATION, which copy_data: pgdual needs to create the slot "
                      "whose snapshot the backfill copies under: ALTER ROLE " +
                      old_user + " REPLICATION");
    }
  }
  checks.expect(old_problem.empty(), "privileges (old store)",
                "role " + old_user + (old_super ? " is a superuser" : " may publish the tables"),
                old_problem);

  const config::BackendConfig& publisher = publisher_backend(config);
  const pg::Reply role = old_store.query(kRole, {publisher.user});
  std::string publisher_problem;
  if (role.ok && role.rows() != 1) {
    publisher_problem = "role " + publisher.user +
                        " (the subscription's connection: migration.cdc.publisher, else "
                        "backends.old) does not exist on the old store";
  } else if (role.ok) {
    const bool super = role.value(0, 0) == "t";
    if (!super && role.value(0, 1) != "t") {
      publisher_problem = "role " + publisher.user +
                          " (the subscription's connection) lacks REPLICATION: ALTER ROLE " +
                          publisher.user + " REPLICATION";
    } else if (role.value(0, 2) != "t") {
      publisher_problem =
          "role " + publisher.user + " may not LOGIN: ALTER ROLE " + publisher.user + " LOGIN";
    } else if (!super) {
      const auto unreadable = table_rows(old_store.query(
          named("", "WHERE NOT has_table_privilege($3, c.oid, 'SELECT')"),
          {name_arrays(scope.replicated)[0], name_arrays(scope.replicated)[1], publisher.user}));
      if (!unreadable.empty()) {
        publisher_problem = "role " + publisher.user + " may not SELECT " + list_names(unreadable) +
                            " (the initial copy reads them): GRANT SELECT on them to it";
      }
    }
  }
  checks.expect(publisher_problem.empty(), "privileges (replication role)",
                "role " + publisher.user + " may replicate", publisher_problem);
  const std::string new_user = new_settings.value(0, 6);
  checks.expect(new_settings.value(0, 5) == "t", "privileges (new store)",
                "role " + new_user + " is a superuser",
                "role " + new_user +
                    " is not a superuser on the new store, which PostgreSQL 15 requires for "
                    "CREATE SUBSCRIPTION: ALTER ROLE " +
                    new_user + " SUPERUSER (or connect backends.new as a superuser)");
  if (!report.error.empty()) return report;

  // ---- replica identity ----
  const pg::Reply identities =
      old_store.query(named(", c.relreplident, "
                            "EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid "
                            "AND i.indisprimary), "
                            "EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid "
                            "AND i.indisreplident)",
                            "ORDER BY 1, 2"),
                      name_arrays(scope.replicated));
  std::vector<TableName> no_identity;
  for (int row = 0; row < identities.rows(); ++row) {
    const std::string kind = identities.value(row, 2);
    const bool usable = kind == "f" || (kind == "d" && identities.value(row, 3) == "t") ||
                        (kind == "i" && identities.value(row, 4) == "t");
    if (!usable) {
      no_identity.push_back(
          {.schema = identities.value(row, 0), .table = identities.value(row, 1)});
    }
  }
  if (no_identity.empty()) {
    checks.pass("replica identity",
                "every published table has a primary key or a replica identity");
  } else if (cdc.replica_identity_full) {
    report.identity_full = no_identity;
    checks.warn("replica identity",
                "setup sets REPLICA IDENTITY FULL on " + list_names(no_identity) +
                    " (no primary key; migration.cdc.replica_identity_full): each replicated "
                    "UPDATE and DELETE then scans the table on the new store unless it has a "
                    "unique index");
  } else {
    checks.fail("replica identity",
                list_names(no_identity) +
                    ": no primary key or replica identity, so the old store would refuse the "
                    "application's UPDATE and DELETE once published: add a primary key, or set "
                    "migration.cdc.replica_identity_full: true to have setup run ALTER TABLE "
                    "... REPLICA IDENTITY FULL");
  }

  // ---- the new store's tables and columns ----
  const auto missing = table_rows(new_store.query(kMissing, name_arrays(scope.replicated)));
  checks.expect(missing.empty(), "tables (new store)",
                "every published table exists on the new store",
                list_names(missing) +
                    " missing on the new store: create them there first (pg_dump --schema-only "
                    "from the old store)");
  const std::set<TableName> missing_set(missing.begin(), missing.end());
  const auto present = without(scope.replicated, missing_set);
  const auto old_columns = read_columns(old_store, present);
  const auto new_columns = read_columns(new_store, present);
  if (!report.error.empty()) return report;
  std::string column_report;
  for (const auto& table : present) {
    const auto old_found = old_columns.find(table);
    const auto new_found = new_columns.find(table);
    const auto problems = column_problems(
        old_found == old_columns.end() ? std::vector<ColumnInfo>{} : old_found->second,
        new_found == new_columns.end() ? std::vector<ColumnInfo>{} : new_found->second);
    for (const auto& problem : problems) {
      column_report += (column_report.empty() ? "" : "; ") + table.display() + ": " + problem;
    }
  }
  checks.expect(column_report.empty(), "columns",
                "every published column has a compatible column on the new store", column_report);

  // ---- rows the initial copy would collide with ----
  std::vector<TableName> to_copy;
  if (subscribed) {
    const auto already = table_rows(new_store.query(kSubscribed, {subscription.value(0, 0)}));
    to_copy = without(present, std::set<TableName>(already.begin(), already.end()));
  } else if (cdc.copy_data != config::CdcCopyData::none) {
    to_copy = present;
  }
  std::vector<TableName> not_empty, unreadable;
  for (const auto& table : to_copy) {
    // Not through new_store.query: a table the role may not read is a warning, not an error.
    const pg::Reply rows =
        run_query(new_conn, "SELECT EXISTS (SELECT 1 FROM " + table.quoted() + ")", {}, cancelled);
    if (rows.broken) {
      report.error = "new store: " + rows.error;
      return report;
    }
    if (!rows.ok) {
      unreadable.push_back(table);
    } else if (rows.value(0, 0) == "t") {
      not_empty.push_back(table);
    }
  }
  if (!unreadable.empty()) {
    checks.warn("initial copy", "cannot read " + list_names(unreadable) +
                                    " on the new store to check that they are empty: rows "
                                    "already there would stop the initial copy");
  }
  checks.expect(not_empty.empty(), "initial copy",
                to_copy.empty() ? "no table needs an initial copy"
                                : std::to_string(to_copy.size()) + " tables will be copied by " +
                                      (subscribed || cdc.copy_data == config::CdcCopyData::postgres
                                           ? "PostgreSQL's initial sync"
                                           : "pgdual backfill under the slot's snapshot"),
                list_names(not_empty) +
                    " already hold rows on the new store, which the initial copy would collide "
                    "with (the subscription would stop on a duplicate key): empty them, or set "
                    "migration.cdc.copy_data: none if they already hold the old store's rows");

  // ---- what replication does not carry ----
  if (old_settings.value(0, 8) == "t") {
    checks.warn("large objects",
                "the old store holds large objects (pg_largeobject): logical replication does "
                "not carry them; copy them by other means (pg_dump --large-objects)");
  } else {
    checks.pass("large objects", "no large objects on the old store");
  }
  return report;
}

PreflightReport preflight(const config::Config& config, const std::string& database,
                          const pg::Cancelled& cancelled) {
  PreflightReport report;
  report.database = database;
  std::string error;
  const pg::Conn old_conn = pg::connect(old_store_conninfo(config, database),
                                        config.old_backend.connect_timeout, cancelled, error);
  if (!old_conn) {
    report.error = "old store: " + error;
    return report;
  }
  const pg::Conn new_conn = pg::connect(new_store_conninfo(config, database),
                                        config.new_backend.connect_timeout, cancelled, error);
  if (!new_conn) {
    report.error = "new store: " + error;
    return report;
  }
  return run_preflight(old_conn.get(), new_conn.get(), config, database, cancelled);
}

}  // namespace pgdual::cdc
