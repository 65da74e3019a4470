// The `migration.mapping` section (docs/schema-mapping.md): what the new store calls each
// mapped table and column, and how a new value is computed from an old row and back. Only the
// shape is checked here; the catalogs of both stores check the rest (jobs/mapping/).

#include <set>

#include "config/section_parsers.hpp"
#include "config/value_parsers.hpp"

namespace pgdual::config {
namespace {

// PostgreSQL's NAMEDATALEN - 1.
constexpr std::size_t kMaxIdentifier = 63;

bool valid_column_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxIdentifier &&
         name.find('\0') == std::string_view::npos;
}

void parse_column(const YAML::Node& node, const std::string& path, const std::string& old_name,
                  TableMapping& table, LoadContext& ctx) {
  Section c(node, path, ctx, {"to", "cast", "expr", "inverse", "if_null", "drop", "lossless"});
  ColumnMapping column;
  c.read_string("to", column.to);
  c.read_string("cast", column.cast);
  c.read_string("expr", column.expr);
  c.read_string("inverse", column.inverse);
  c.read_string("if_null", column.if_null);
  c.read_bool("drop", column.drop);
  bool lossless = false;
  if (c.read_bool("lossless", lossless)) column.lossless = lossless;
  if (!column.to.empty() && !valid_column_name(column.to)) {
    c.error("to", "not a column name (1 to 63 bytes)");
  }
  if (column.drop && (!column.to.empty() || !column.cast.empty() || !column.expr.empty() ||
                      !column.inverse.empty() || !column.if_null.empty())) {
    c.error("drop", "a dropped column has no new name, cast, expression or NULL rule");
  }
  if (!column.cast.empty() && !column.expr.empty()) {
    c.error("cast", "give either cast or expr: an expression states its type with its own cast");
  }
  if (!column.expr.empty() && column.inverse.empty()) {
    c.error("expr",
            "an expression needs an inverse (the old value from the new row, in the new column "
            "names): the new store serves reads in the old shape through it");
  }
  if (column.expr.empty() && column.if_null.empty() && !column.inverse.empty()) {
    c.error("inverse",
            "an inverse belongs to an expression (expr) or a NULL rule (if_null); a cast's is "
            "derived");
  }
  if (column.lossless && column.expr.empty() && column.if_null.empty()) {
    c.error("lossless",
            "a claim about an expression (expr) or a NULL rule (if_null); a cast is judged by "
            "its types");
  }
  table.columns.emplace(old_name, std::move(column));
}

void parse_table(const YAML::Node& node, const std::string& path, TableMapping& table,
                 LoadContext& ctx) {
  Section t(node, path, ctx, {"to", "columns", "new_columns"});
  std::string to;
  if (t.read_string("to", to)) {
    const auto name = normalise_table_name(to);
    if (!name) {
      t.error("to", "not a valid table name (expected table or schema.table)");
    } else {
      table.to = *name;
    }
  }
  const YAML::Node columns = t.get("columns");
  Section column_list(columns, t.key_path("columns"), ctx, {});
  if (columns.IsMap()) {
    for (const auto& kv : columns) {
      if (!kv.first.IsScalar()) continue;  // reported by the Section
      const std::string name = kv.first.Scalar();
      const std::string column_path = child_path(t.key_path("columns"), name);
      if (!valid_column_name(name)) {
        ctx.diag.error(column_path, "not a column name (1 to 63 bytes)");
        continue;
      }
      parse_column(kv.second, column_path, name, table, ctx);
    }
  }
  const YAML::Node new_columns = t.get("new_columns");
  Section new_list(new_columns, t.key_path("new_columns"), ctx, {});
  if (new_columns.IsMap()) {
    for (const auto& kv : new_columns) {
      if (!kv.first.IsScalar()) continue;
      const std::string name = kv.first.Scalar();
      const std::string column_path = child_path(t.key_path("new_columns"), name);
      if (!valid_column_name(name)) {
        ctx.diag.error(column_path, "not a column name (1 to 63 bytes)");
        continue;
      }
      Section c(kv.second, column_path, ctx, {"default", "expr"});
      NewColumnMapping column;
      std::string default_value;
      c.read_string("expr", column.expr);
      if (c.read_string("default", default_value) && default_value != "server") {
        c.error("default",
                "must be \"server\" (the new store's own column default); compute a value with "
                "expr");
      }
      if (c.has("default") == !column.expr.empty()) {
        ctx.diag.error(column_path, "give default: server or an expr");
      }
      table.new_columns.emplace(name, std::move(column));
    }
  }
  // A new column is filled once: by one old column or by one new_columns entry.
  std::set<std::string> targets;
  for (const auto& [old_name, column] : table.columns) {
    if (column.drop) continue;
    const std::string& target = column.to.empty() ? old_name : column.to;
    if (!targets.insert(target).second) {
      ctx.diag.error(child_path(t.key_path("columns"), old_name),
                     "new column " + target + " is the target of another old column too");
    }
  }
  for (const auto& [name, column] : table.new_columns) {
    if (targets.contains(name)) {
      ctx.diag.error(child_path(t.key_path("new_columns"), name),
                     "column " + name + " is also the target of an old column");
    }
  }
}

}  // namespace

void parse_mapping(Section& migration, MigrationConfig& m, LoadContext& ctx) {
  if (!migration.has("mapping")) return;
  Section s(migration.get("mapping"), migration.key_path("mapping"), ctx,
            {"schema", "rollback", "tables"});
  auto& mapping = m.mapping;
  if (s.read_string("schema", mapping.schema)) {
    const auto name = normalise_qualified_name(mapping.schema, 1);
    if (!name) {
      s.error("schema", "not a schema name");
    } else {
      mapping.schema = *name;
    }
  }
  s.read_enum("rollback", mapping.rollback, parse_mapping_rollback, "refuse_if_lossy, allow");
  const YAML::Node tables = s.get("tables");
  const std::string path = s.key_path("tables");
  Section table_list(tables, path, ctx, {});
  if (!tables.IsMap()) return;
  // The view of a mapped table is named after the old table alone, in mapping.schema.
  std::map<std::string, std::string> view_names;
  for (const auto& kv : tables) {
    if (!kv.first.IsScalar()) continue;
    const std::string raw = kv.first.Scalar();
    const std::string entry_path = child_path(path, raw);
    const auto name = normalise_table_name(raw);
    if (!name) {
      ctx.diag.error(entry_path, "not a valid table name (expected table or schema.table)");
      continue;
    }
    TableMapping table;
    parse_table(kv.second, entry_path, table, ctx);
    if (table.to.empty()) table.to = *name;
    const std::string bare = name->substr(name->find('.') + 1);
    if (auto [it, fresh] = view_names.emplace(bare, *name); !fresh) {
      ctx.diag.error(entry_path, "its view " + mapping.schema + "." + bare +
                                     " would have the same name as the view of " + it->second +
                                     "; views are named after the table alone");
      continue;
    }
    if (name->starts_with(mapping.schema + ".") || table.to.starts_with(mapping.schema + ".")) {
      ctx.diag.error(entry_path, "schema " + mapping.schema +
                                     " holds pgdual's views (migration.mapping.schema); choose "
                                     "another schema for it");
      continue;
    }
    if (!mapping.tables.emplace(*name, std::move(table)).second) {
      ctx.diag.error(entry_path, "names table " + *name + ", which is already listed");
    }
  }
  if (!mapping.empty() && m.strategy == Strategy::cdc) {
    // Logical replication matches tables and columns by name and copies values as text: it can
    // carry none of a view's translation (docs/schema-mapping.md, "Strategy cdc").
    s.error("tables",
            "strategy cdc replicates each table into the table of the same name and columns of "
            "the same names; a mapping needs strategy sync, async or outbox");
  }
}

}  // namespace pgdual::config
