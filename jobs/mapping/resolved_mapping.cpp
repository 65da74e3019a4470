#include "jobs/mapping/resolved_mapping.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "cdc/preflight.hpp"
#include "config/yaml_section.hpp"
#include "routing/mapping/schema_mapping.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::mapping {
namespace {

using text::quote_identifier;

bool integer_type(const std::string& type) {
  return type == "smallint" || type == "integer" || type == "bigint";
}

// "numeric(12,2)" -> 2; "numeric" -> -1; not numeric -> -2.
int numeric_scale(const std::string& type) {
  if (type == "numeric") return -1;
  if (!type.starts_with("numeric(")) return -2;
  const auto comma = type.find(',');
  if (comma == std::string::npos) return 0;
  return std::atoi(type.c_str() + comma + 1);
}

const ColumnFacts* find_column(const TableFacts& facts, const std::string& name) {
  for (const auto& column : facts.columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

// A default the view can carry: the old store's, unless it draws from a sequence (the
// deterministic rewrite makes those explicit; the old store's sequence is not on the new one).
std::string view_default_for(const ColumnFacts& old_column, const ColumnFacts* new_column,
                             bool plain) {
  const bool draws =
      !old_column.sequence.empty() || old_column.default_sql.find("nextval(") != std::string::npos;
  if (!draws) return old_column.default_sql;
  // After cutover the new store draws the value: its own sequence (a serial's or an
  // identity's), through a plain column.
  if (plain && new_column != nullptr && !new_column->sequence.empty()) {
    return "nextval(" + text::quote_literal(new_column->sequence) + "::regclass)";
  }
  return "";
}

class Resolver {
 public:
  Resolver(const std::string& old_table, const config::TableMapping& mapping,
           const TableFacts& old_facts, const TableFacts& new_facts)
      : old_table_(old_table), mapping_(mapping), old_(old_facts), new_(new_facts) {
    path_ = config::child_path("migration.mapping.tables", old_table);
  }

  void resolve(ResolvedTable& out) {
    if (!old_.exists) error(path_, "table " + old_table_ + " does not exist on the old store");
    if (!new_.exists) {
      error(config::child_path(path_, "to"),
            "table " + mapping_.to + " does not exist on the new store");
    }
    if (!old_.exists || !new_.exists) return;
    for (const auto& [name, column] : mapping_.columns) {
      if (find_column(old_, name) == nullptr) {
        error(column_path(name),
              "column " + name + " does not exist on the old store table " + old_table_);
      }
    }
    for (const auto& old_column : old_.columns) resolve_column(old_column, out);
    resolve_new_only(out);
    resolve_key(out);
  }

  std::vector<std::string> errors;

 private:
  void error(const std::string& path, const std::string& message) {
    errors.push_back(path + ": " + message);
  }
  std::string column_path(const std::string& name) const {
    return config::child_path(config::child_path(path_, "columns"), name);
  }
  std::string new_column_path(const std::string& name) const {
    return config::child_path(config::child_path(path_, "new_columns"), name);
  }

  void resolve_column(const ColumnFacts& old_column, ResolvedTable& out) {
    static const config::ColumnMapping kSameName;
    const auto configured = mapping_.columns.find(old_column.name);
    const bool listed = configured != mapping_.columns.end();
    const config::ColumnMapping& rule = listed ? configured->second : kSameName;
    const std::string path = column_path(old_column.name);
    ResolvedColumn column;
    column.old_name = old_column.name;
    column.old_type = old_column.type;
    column.generated = old_column.generated;
    if (rule.drop) {
      column.dropped = true;
      column.inverse = "NULL::" + old_column.type;
      out.columns.push_back(std::move(column));
      return;
    }
    column.new_name = rule.to.empty() ? old_column.name : rule.to;
    const ColumnFacts* target = find_column(new_, column.new_name);
    if (target == nullptr) {
      error(path, listed ? "new column " + column.new_name +
                               " does not exist on the new store table " + mapping_.to
                         : "column " + old_column.name + " is not on the new store table " +
                               mapping_.to + ": map it (to, expr) or drop it (drop: true)");
      return;
    }
    column.new_type = target->type;
    targeted_.insert(column.new_name);
    if (target->generated && !old_column.generated) {
      error(path, "new column " + column.new_name +
                      " is generated on the new store: the old values cannot be written to it");
      return;
    }
    if (!rule.cast.empty() && rule.cast != target->type) {
      error(path, "cast: " + rule.cast + ", but new column " + column.new_name + " is " +
                      target->type + " (write the type as format_type() prints it)");
    }
    const std::string source = rule.expr.empty() ? quote_identifier(old_column.name) : rule.expr;
    column.forward = "(" + source + ")::" + target->type;
    if (!rule.if_null.empty()) {
      column.forward =
          "COALESCE(" + column.forward + ", (" + rule.if_null + ")::" + target->type + ")";
    }
    const bool computed = !rule.expr.empty() || !rule.if_null.empty();
    if (!rule.inverse.empty()) {
      column.inverse = "((" + rule.inverse + "))::" + old_column.type;
    } else if (old_column.type == target->type ||
               same_text_widening(old_column.type, target->type)) {
      column.inverse = quote_identifier(column.new_name);
      column.plain = true;
    } else {
      column.inverse = "(" + quote_identifier(column.new_name) + ")::" + old_column.type;
    }
    column.lossless = computed ? rule.lossless.value_or(false)
                               : cdc::safe_type_change(old_column.type, target->type);
    // (A default of the new column does not help: the trigger and the backfill always write
    // the column, NULL included.)
    if (target->not_null && !old_column.not_null && rule.if_null.empty() && rule.expr.empty()) {
      error(path, "new column " + column.new_name + " is NOT NULL but old column " +
                      old_column.name + " allows NULL: give if_null (the new value for a NULL)");
    }
    column.view_default = view_default_for(old_column, target, column.plain);
    column.new_identity_always = target->identity_always;
    out.columns.push_back(std::move(column));
  }

  void resolve_new_only(ResolvedTable& out) {
    for (const auto& [name, rule] : mapping_.new_columns) {
      const ColumnFacts* column = find_column(new_, name);
      if (column == nullptr) {
        error(new_column_path(name),
              "column " + name + " does not exist on the new store table " + mapping_.to);
        continue;
      }
      targeted_.insert(name);
      ResolvedNewColumn resolved{name, column->type, ""};
      if (!rule.expr.empty()) {
        resolved.forward = "(" + rule.expr + ")::" + column->type;
      } else if (column->not_null && column->default_sql.empty() && !column->generated) {
        error(new_column_path(name), "default: server, but new column " + name +
                                         " is NOT NULL without a default: give it an expr");
      }
      out.new_only.push_back(std::move(resolved));
    }
    for (const auto& column : new_.columns) {
      if (targeted_.contains(column.name) || column.generated) continue;
      error(config::child_path(path_, "new_columns"),
            "column " + column.name + " exists only on the new store table " + mapping_.to +
                ": list it under new_columns (default: server, or an expr)");
    }
  }

  void resolve_key(ResolvedTable& out) {
    std::map<std::string, const ResolvedColumn*> by_old;
    for (const auto& column : out.columns) by_old[column.old_name] = &column;
    for (const auto& key : old_.keys) {
      std::vector<std::string> new_key;
      for (const auto& name : key) {
        const auto it = by_old.find(name);
        // A key column must keep its values: renamed, or widened so that its text is the same.
        if (it == by_old.end() || it->second->dropped || !it->second->plain) break;
        const auto rule = mapping_.columns.find(name);
        if (rule != mapping_.columns.end() &&
            (!rule->second.expr.empty() || !rule->second.if_null.empty())) {
          break;
        }
        new_key.push_back(it->second->new_name);
      }
      if (new_key.size() != key.size()) continue;
      std::vector<std::string> sorted_new = new_key;
      std::sort(sorted_new.begin(), sorted_new.end());
      for (const auto& other : new_.keys) {
        std::vector<std::string> sorted_other = other;
        std::sort(sorted_other.begin(), sorted_other.end());
        if (sorted_other == sorted_new) {
          out.old_key = key;
          out.new_key = new_key;
          return;
        }
      }
    }
    error(path_,
          "needs a unique key on NOT NULL columns on both stores whose columns map by name "
          "or by a widening (integer -> bigint), so that a row is found on both");
  }

  const std::string& old_table_;
  const config::TableMapping& mapping_;
  const TableFacts& old_;
  const TableFacts& new_;
  std::string path_;
  std::set<std::string> targeted_;
};

}  // namespace

bool same_text_widening(const std::string& old_type, const std::string& new_type) {
  if (old_type == new_type) return true;
  if (!cdc::safe_type_change(old_type, new_type)) return false;
  if (integer_type(old_type))
    return integer_type(new_type) || numeric_scale(new_type) == -1 || numeric_scale(new_type) == 0;
  if (old_type.starts_with("character varying") || old_type == "text") {
    return new_type == "text" || new_type.starts_with("character varying");
  }
  const int from = numeric_scale(old_type);
  const int to = numeric_scale(new_type);
  return from >= -1 && (to == -1 || to == from);
}

std::string ResolvedTable::view_quoted() const {
  return quote_identifier(view_schema) + "." + quote_identifier(view_name);
}
std::string ResolvedTable::new_table_quoted() const { return text::quote_qualified(new_table); }
std::string ResolvedTable::old_table_quoted() const { return text::quote_qualified(old_table); }

std::vector<std::string> ResolvedTable::lossy_columns() const {
  std::vector<std::string> lossy;
  for (const auto& column : columns) {
    if (column.dropped || (!column.generated && !column.lossless)) lossy.push_back(column.old_name);
  }
  return lossy;
}

std::vector<std::string> ResolvedTable::lossy_kept_columns() const {
  std::vector<std::string> lossy;
  for (const auto& column : columns) {
    if (!column.dropped && !column.generated && !column.lossless) {
      lossy.push_back(old_table + "." + column.old_name);
    }
  }
  return lossy;
}

std::vector<std::pair<std::string, std::string>> ResolvedTable::written_columns() const {
  std::vector<std::pair<std::string, std::string>> written;
  for (const auto& column : columns) {
    if (column.dropped || column.generated) continue;
    written.emplace_back(column.new_name, column.forward);
  }
  for (const auto& column : new_only) {
    if (!column.forward.empty()) written.emplace_back(column.name, column.forward);
  }
  return written;
}

bool ResolvedTable::identity_always(const std::string& new_name) const {
  return std::any_of(columns.begin(), columns.end(), [&](const ResolvedColumn& column) {
    return !column.dropped && column.new_name == new_name && column.new_identity_always;
  });
}

std::string ResolvedTable::forward_select(const std::string& row_source) const {
  std::string sql;
  for (const auto& [name, forward] : written_columns()) {
    sql += (sql.empty() ? "SELECT " : ", ") + forward + " AS " + quote_identifier(name);
  }
  return sql + " FROM " + row_source;
}

std::string ResolvedTable::upsert_sql(const std::string& row_source) const {
  std::string columns, key, set, target_row, excluded_row;
  for (const auto& [name, forward] : written_columns()) {
    const std::string quoted = quote_identifier(name);
    columns += (columns.empty() ? "" : ", ") + quoted;
    if (std::find(new_key.begin(), new_key.end(), name) != new_key.end()) continue;
    if (identity_always(name)) continue;  // no UPDATE may set it
    set += (set.empty() ? "" : ", ") + quoted + " = EXCLUDED." + quoted;
    target_row += (target_row.empty() ? "" : ", ") + std::string("target.") + quoted;
    excluded_row += (excluded_row.empty() ? "" : ", ") + std::string("EXCLUDED.") + quoted;
  }
  for (const auto& name : new_key) key += (key.empty() ? "" : ", ") + quote_identifier(name);
  std::string sql = "INSERT INTO " + new_table_quoted() + " AS target (" + columns +
                    ") OVERRIDING SYSTEM VALUE " + forward_select(row_source) + " ON CONFLICT (" +
                    key + ")";
  if (set.empty()) return sql + " DO NOTHING";
  // As text: json, point and xml have no equality operator.
  return sql + " DO UPDATE SET " + set + " WHERE ROW(" + target_row +
         ")::text IS DISTINCT FROM ROW(" + excluded_row + ")::text";
}

std::string ResolvedTable::old_side_relation() const {
  std::string outer, round_trip, forward;
  for (const auto& column : columns) {
    if (column.dropped || column.generated) continue;
    const std::string quoted = quote_identifier(column.old_name);
    if (column.lossless) {
      outer += (outer.empty() ? "" : ", ") + std::string("pgdual_old_row.") + quoted;
    } else {
      outer += (outer.empty() ? "" : ", ") + std::string("pgdual_round_trip.") + quoted;
      round_trip += (round_trip.empty() ? "" : ", ") + column.inverse + " AS " + quoted;
    }
  }
  if (round_trip.empty()) return old_table_quoted();
  for (const auto& [name, expression] : written_columns()) {
    forward += (forward.empty() ? "" : ", ") + expression + " AS " + quote_identifier(name);
  }
  // The innermost SELECT reads the old row's columns (LATERAL); the inverses read the forward
  // values by their new names, which shadow an old column of the same name.
  return "(SELECT " + outer + " FROM ONLY " + old_table_quoted() +
         " AS pgdual_old_row, LATERAL (SELECT " + round_trip + " FROM (SELECT " + forward +
         ") AS pgdual_new_row) AS pgdual_round_trip) AS " + quote_identifier(view_name);
}

Resolution resolve_table(const std::string& old_table, const config::TableMapping& mapping,
                         const std::string& view_schema, const TableFacts& old_facts,
                         const TableFacts& new_facts) {
  Resolution resolution;
  ResolvedTable table;
  table.old_table = old_table;
  table.new_table = mapping.to;
  table.view_schema = view_schema;
  table.view_name = routing::split_table_name(old_table).second;
  Resolver resolver(old_table, mapping, old_facts, new_facts);
  resolver.resolve(table);
  resolution.errors = std::move(resolver.errors);
  if (resolution.errors.empty()) resolution.table = std::move(table);
  return resolution;
}

}  // namespace pgdual::jobs::mapping
