#include "jobs/backfill/catalog_reader.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/mapping/mapping_catalog.hpp"
#include "jobs/mapping/resolved_mapping.hpp"
#include "libpq/connection.hpp"
#include "routing/phase_rules.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::backfill {

namespace {

using pg::Result;

// Ordinary tables and partition leaves outside the system schemas, pgdual's schema and
// extensions, with the table a leaf's rows go to on the new store (its partitioned root).
constexpr const char* kSourceTables =
    "SELECT c.oid, n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname), "
    "coalesce(rn.nspname || '.' || r.relname, n.nspname || '.' || c.relname), "
    "CASE WHEN r.oid IS NULL THEN format('%I.%I', n.nspname, c.relname) "
    "ELSE format('%I.%I', rn.nspname, r.relname) END, "
    "CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid) "
    "LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) "
    "AND n.nspname NOT LIKE 'pg\\_%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
    "'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 2";

// Name, quoted name, type, generated, and whether the type's binary form carries no type OID of
// this cluster (built-in scalar types and arrays of them; composites and user types do).
constexpr const char* kColumns =
    "SELECT a.attname, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), "
    "a.attgenerated <> '', t.oid < 16384 AND t.typtype <> 'c' AND t.typelem < 16384 "
    "AND (t.typtype <> 'd' OR t.typbasetype < 16384), a.attidentity = 'a' "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

// Unique keys of a table whose columns are all NOT NULL, no expression, no predicate and not
// deferrable (ON CONFLICT cannot use a deferrable one): the
// primary key first, then the narrowest. Column names, quoted names and types, in key order.
constexpr const char* kKeys =
    "SELECT string_agg(a.attname, ',' ORDER BY k.position), "
    "array_agg(quote_ident(a.attname) ORDER BY k.position)::text[], "
    "array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.position)::text[], "
    "bool_and(a.attnotnull), i.indisprimary "
    "FROM pg_catalog.pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum = k.attnum "
    "WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indimmediate "
    "AND i.indpred IS NULL AND i.indexprs IS NULL AND k.position <= i.indnkeyatts "
    "GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC, count(*)";

// User triggers of a table on the new store, or of any of its partitions there, that fire on
// the copy's INSERT and UPDATE: those
// enabled ALWAYS or for REPLICA when the session runs as replica, every enabled one otherwise.
constexpr const char* kFiringTriggers =
    "SELECT string_agg(quote_ident(tgname), ', ' ORDER BY tgname) FROM pg_catalog.pg_trigger "
    "WHERE (tgrelid = to_regclass($1) "
    "OR tgrelid IN (SELECT relid FROM pg_partition_tree(to_regclass($1)))) "
    "AND NOT tgisinternal "
    "AND CASE WHEN $2 THEN tgenabled IN ('A', 'R') ELSE tgenabled <> 'D' END";

constexpr const char* kForeignKeys =
    "SELECT cn.nspname || '.' || c.relname, pn.nspname || '.' || p.relname "
    "FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
    "JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace "
    "JOIN pg_catalog.pg_class p ON p.oid = k.confrelid "
    "JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace "
    "WHERE k.contype = 'f' AND k.conparentid = 0";

std::string cell(const Result& result, int row, int column) {
  return PQgetisnull(result.get(), row, column) != 0 ? "" : PQgetvalue(result.get(), row, column);
}

// {a,b} as libpq returns a text[] of plain identifiers and type names: split on commas outside
// double quotes, quotes removed.
std::vector<std::string> parse_array(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\' && i + 2 < text.size()) {
      current += text[++i];
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (text.size() > 2) out.push_back(current);
  return out;
}

struct Column {
  std::string name, quoted, type;
  bool generated = false, builtin = false, identity_always = false;
};

std::vector<Column> read_columns(PGconn* conn, const std::string& table, std::string& error) {
  std::vector<Column> columns;
  const Result result = run_query(conn, kColumns, {table}, error);
  if (!result) return columns;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    columns.push_back({cell(result, row, 0), cell(result, row, 1), cell(result, row, 2),
                       cell(result, row, 3) == "t", cell(result, row, 4) == "t",
                       cell(result, row, 5) == "t"});
  }
  return columns;
}

// What differs between the old table's columns and the new one's, in words; "" when they match.
std::string column_difference(const std::vector<Column>& source,
                              const std::vector<Column>& target) {
  std::map<std::string, const Column*> by_name;
  for (const auto& column : target) by_name[column.name] = &column;
  std::string out;
  const auto add = [&out](const std::string& what) { out += (out.empty() ? "" : "; ") + what; };
  for (const auto& column : source) {
    const auto found = by_name.find(column.name);
    if (found == by_name.end()) {
      add("column " + column.quoted + " is missing on the new store");
      continue;
    }
    const Column& other = *found->second;
    if (other.type != column.type) {
      add("column " + column.quoted + " is " + column.type + " on the old store but " + other.type +
          " on the new");
    } else if (other.generated != column.generated) {
      add("column " + column.quoted +
          (column.generated ? " is generated only on the old store"
                            : " is generated only on the new store"));
    }
    by_name.erase(found);
  }
  for (const auto& [name, column] : by_name) {
    add("column " + column->quoted + " exists only on the new store");
  }
  return out;
}

struct Key {
  std::string names;  // "a,b" in key order
  std::vector<KeyColumn> columns;
};

std::vector<Key> read_keys(PGconn* conn, const std::string& table, std::string& error) {
  std::vector<Key> keys;
  const Result result = run_query(conn, kKeys, {table}, error);
  if (!result) return keys;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    if (cell(result, row, 3) != "t") continue;  // a nullable column: not a usable key
    Key key{cell(result, row, 0), {}};
    const auto quoted = parse_array(cell(result, row, 1));
    const auto types = parse_array(cell(result, row, 2));
    for (std::size_t i = 0; i < quoted.size() && i < types.size(); ++i) {
      key.columns.push_back({quoted[i], types[i]});
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

bool eligible(config::Phase phase, bool reconcile) {
  return phase == config::Phase::dual_write || phase == config::Phase::backfill ||
         phase == config::Phase::shadow_read || (reconcile && phase == config::Phase::cutover);
}

int major_version(PGconn* conn) { return PQserverVersion(conn) / 10000; }

// A table of migration.mapping (docs/schema-mapping.md): the columns and key come from the
// resolved mapping, in the old names; the new store is read through pgdual's view and written
// through the forward expressions. "" when planned, else why not (the mapping's own errors).
std::string plan_mapped_table(PGconn* old_store, PGconn* new_store,
                              const config::MappingConfig& config,
                              const std::pair<const std::string, config::TableMapping>& entry,
                              TablePlan& plan, std::string& error) {
  if (plan.source != plan.target) {
    return "a partition of a mapped table: map the partitioned table's leaves one by one is not "
           "supported";
  }
  const auto old_facts = mapping::read_table_facts(old_store, entry.first, error);
  const auto new_facts = mapping::read_table_facts(new_store, entry.second.to, error);
  if (!error.empty()) return "";
  auto resolution =
      mapping::resolve_table(entry.first, entry.second, config.schema, old_facts, new_facts);
  if (!resolution.table) {
    std::string why = "migration.mapping does not fit the catalogs (pgdual mapping check): ";
    for (std::size_t i = 0; i < resolution.errors.size(); ++i) {
      why += (i == 0 ? "" : "; ") + resolution.errors[i];
    }
    return why;
  }
  const auto resolved =
      std::make_shared<const mapping::ResolvedTable>(std::move(*resolution.table));
  plan.mapping = resolved;
  plan.target_quoted = resolved->view_quoted();
  plan.old_relation = resolved->old_side_relation();
  // Text COPY: a widened column of the view (integer to bigint) has another binary form.
  plan.binary = false;
  for (const auto& column : resolved->columns) {
    if (column.dropped || column.generated) continue;
    plan.columns_quoted.push_back(text::quote_identifier(column.old_name));
    plan.column_types.push_back(column.old_type);
  }
  for (const auto& name : resolved->old_key) {
    for (const auto& column : resolved->columns) {
      if (column.old_name == name)
        plan.key.push_back({text::quote_identifier(name), column.old_type});
    }
  }
  for (const auto& quoted : plan.columns_quoted) {
    const bool in_key = std::any_of(plan.key.begin(), plan.key.end(),
                                    [&](const KeyColumn& k) { return k.quoted == quoted; });
    if (!in_key) plan.update_columns_quoted.push_back(quoted);
  }
  return "";
}

}  // namespace

CatalogResult read_catalogs(PGconn* old_store, PGconn* new_store,
                            const config::MigrationConfig& migration, const CatalogScope& scope) {
  CatalogResult out;
  const Result tables = run_query(old_store, kSourceTables, {scope.skip_schema}, out.error);
  if (!tables) return out;
  std::multimap<std::string, std::string> parents;
  if (const Result keys = run_query(new_store, kForeignKeys, {}, out.error)) {
    for (int row = 0; row < PQntuples(keys.get()); ++row) {
      parents.emplace(cell(keys, row, 0), cell(keys, row, 1));
    }
  } else {
    return out;
  }
  const config::Phase database_phase =
      routing::session_phase(migration, routing::SessionIdentity{scope.database, "", ""});
  const bool same_major = major_version(old_store) == major_version(new_store);
  std::set<std::string> named(scope.tables.begin(), scope.tables.end());
  std::set<std::string> named_found;

  for (int row = 0; row < PQntuples(tables.get()); ++row) {
    TablePlan plan;
    plan.source = cell(tables, row, 1);
    plan.source_quoted = cell(tables, row, 2);
    plan.target = cell(tables, row, 3);
    plan.target_quoted = cell(tables, row, 4);
    if (!PQgetisnull(tables.get(), row, 5)) plan.estimated_rows = std::stoll(cell(tables, row, 5));
    // A leaf is named by itself or by its partitioned root.
    if (!named.empty()) {
      const bool by_source = named.count(plan.source) != 0;
      const bool by_target = named.count(plan.target) != 0;
      if (!by_source && !by_target) continue;
      named_found.insert(by_source ? plan.source : plan.target);
    }
    // The quoted name: table_phase folds unquoted names, as PostgreSQL does.
    if (!eligible(routing::table_phase(migration, database_phase, plan.target_quoted),
                  scope.reconcile)) {
      if (named.empty()) {
        out.not_mirrored.push_back(plan.source);
      } else {
        out.refusals.push_back({plan.source,
                                "its phase sends no writes to the new store (set it to "
                                "dual_write or backfill first): a copy would go stale"});
      }
      continue;
    }
    std::string error;
    if (const auto mapped = migration.mapping.tables.find(plan.source);
        mapped != migration.mapping.tables.end()) {
      const std::string refusal =
          plan_mapped_table(old_store, new_store, migration.mapping, *mapped, plan, error);
      if (!error.empty()) {
        out.error = error;
        return out;
      }
      if (!refusal.empty()) {
        out.refusals.push_back({plan.source, refusal});
        continue;
      }
      // The copy writes the new table itself: its own triggers would fire on copied rows.
      if (!scope.reconcile) {
        const Result triggers =
            run_query(new_store, kFiringTriggers,
                      {plan.mapping->new_table_quoted(), scope.replica_role ? "t" : "f"}, error);
        if (!triggers) {
          out.error = error;
          return out;
        }
        if (const auto names = cell(triggers, 0, 0); !names.empty()) {
          out.refusals.push_back({plan.source, "triggers on the new store's " +
                                                   plan.mapping->new_table +
                                                   " would fire on copied rows (" + names +
                                                   "): disable them during the backfill"});
          continue;
        }
      }
      for (auto [it, end] = parents.equal_range(plan.mapping->new_table); it != end; ++it) {
        plan.parents.push_back(it->second);
      }
      out.plans.push_back(std::move(plan));
      continue;
    }
    const auto source_columns = read_columns(old_store, plan.source_quoted, error);
    const auto target_columns = read_columns(new_store, plan.target_quoted, error);
    if (!error.empty()) {
      out.error = error;
      return out;
    }
    if (target_columns.empty()) {
      out.refusals.push_back(
          {plan.source, "missing on the new store (" + plan.target +
                            "): create the schema there first (pg_dump --schema-only)"});
      continue;
    }
    if (const auto difference = column_difference(source_columns, target_columns);
        !difference.empty()) {
      out.refusals.push_back({plan.source, difference});
      continue;
    }
    plan.binary = same_major;
    for (const auto& column : source_columns) {
      if (column.generated) continue;  // the new store computes it
      plan.columns_quoted.push_back(column.quoted);
      plan.column_types.push_back(column.type);
      plan.binary = plan.binary && column.builtin;
    }
    const auto source_keys = read_keys(old_store, plan.source_quoted, error);
    const auto target_keys = read_keys(new_store, plan.target_quoted, error);
    if (!error.empty()) {
      out.error = error;
      return out;
    }
    const auto shared = std::find_if(source_keys.begin(), source_keys.end(), [&](const Key& key) {
      return std::any_of(target_keys.begin(), target_keys.end(),
                         [&](const Key& other) { return other.names == key.names; });
    });
    if (shared != source_keys.end()) {
      plan.key = shared->columns;
      // What a chunk may overwrite on the new store: neither the key nor an identity column
      // PostgreSQL lets no UPDATE set.
      for (const auto& column : target_columns) {
        const bool in_key = std::any_of(plan.key.begin(), plan.key.end(), [&](const KeyColumn& k) {
          return k.quoted == column.quoted;
        });
        if (in_key || column.generated) continue;
        (column.identity_always ? plan.identity_columns_quoted : plan.update_columns_quoted)
            .push_back(column.quoted);
      }
    } else if (!source_keys.empty()) {
      out.refusals.push_back(
          {plan.source, "the new store has no unique key on (" + source_keys.front().names +
                            "): insert-if-absent could not tell a row already there"});
      continue;
    } else if (scope.reconcile) {
      out.refusals.push_back({plan.source,
                              "no primary key or unique NOT NULL key: rows cannot be matched "
                              "across the stores (compare it with a full ordered digest)"});
      continue;
    } else if (!scope.lock_keyless || plan.source != plan.target) {
      out.refusals.push_back(
          {plan.source, plan.source != plan.target
                            ? "no primary key or unique NOT NULL key that is not deferrable "
                              "(partition leaves cannot "
                              "take the locked copy)"
                            : "no primary key or unique NOT NULL key that is not deferrable "
                              "(ON CONFLICT cannot use a deferrable one): add one, or pass "
                              "--lock-keyless to copy it whole under a SHARE lock that blocks "
                              "its writes meanwhile"});
      continue;
    } else {
      plan.locked_copy = true;
    }
    if (scope.reconcile) {
      // nothing more to check: the reconcile writes only the rows it repairs
    } else if (const Result triggers =
                   run_query(new_store, kFiringTriggers,
                             {plan.target_quoted, scope.replica_role ? "t" : "f"}, error);
               !triggers) {
      out.error = error;
      return out;
    } else if (const auto names = cell(triggers, 0, 0); !names.empty()) {
      out.refusals.push_back(
          {plan.source,
           "triggers on the new store would fire on copied rows (" + names +
               (scope.replica_role
                    ? "; enabled ALWAYS or REPLICA): disable them during the backfill"
                    : "): run the backfill as a role that may SET session_replication_role "
                      "(a superuser, or GRANT SET ON PARAMETER session_replication_role), or "
                      "disable them during the backfill")});
      continue;
    }
    for (auto [it, end] = parents.equal_range(plan.target); it != end; ++it) {
      plan.parents.push_back(it->second);
    }
    out.plans.push_back(std::move(plan));
  }
  // Foreign keys are read on the new store, where a mapped table has its new name; the copy
  // order knows tables by their old names.
  std::map<std::string, std::string> old_names;
  for (const auto& plan : out.plans) {
    if (plan.mapping) old_names[plan.mapping->new_table] = plan.source;
  }
  for (auto& plan : out.plans) {
    for (auto& parent : plan.parents) {
      if (const auto found = old_names.find(parent); found != old_names.end()) {
        parent = found->second;
      }
    }
  }
  for (const auto& name : named) {
    if (named_found.count(name) == 0) {
      out.refusals.push_back({name, "no such table on the old store"});
    }
  }
  return out;
}

}  // namespace pgdual::jobs::backfill
