#pragma once

// One mapped table as both stores' catalogs and migration.mapping make it (docs/schema-mapping.md):
// every old column with its forward expression (the new value, from the old row) and its inverse
// (the old value, from the new row), the columns only the new store has, and the key both stores
// share. Everything that moves a row across the stores takes its SQL from here: the new store's
// view and triggers (mapping_ddl), the backfill's merge, the reconcile's comparison and repairs.
// Resolving is pure; the catalog facts come from mapping_catalog.

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace pgdual::jobs::mapping {

// One column as a store's catalog has it.
struct ColumnFacts {
  std::string name;
  std::string type;  // format_type()
  bool not_null = false;
  bool generated = false;
  std::string default_sql;       // pg_get_expr() of its default; "" when none
  bool identity_always = false;  // GENERATED ALWAYS AS IDENTITY
  std::string sequence;          // pg_get_serial_sequence(): its serial's or identity's; "" none
};

struct TableFacts {
  bool exists = false;
  std::vector<ColumnFacts> columns;            // attnum order
  std::vector<std::vector<std::string>> keys;  // usable unique keys, primary key first
};

struct ResolvedColumn {
  std::string old_name, old_type;
  bool dropped = false;
  bool generated = false;  // generated on the old store: read, never written
  std::string new_name, new_type;
  std::string forward;  // the new value from the old row (bare old names), typed as new_type
  std::string inverse;  // the old value from the new row (bare new names); as old_type unless plain
  bool plain = false;   // the inverse is the new column itself (same text form: index-friendly)
  bool lossless = false;
  bool new_identity_always = false;  // written only by INSERT ... OVERRIDING SYSTEM VALUE
  std::string view_default;          // the view column's default; "" when none
};

struct ResolvedNewColumn {
  std::string name, type;
  std::string forward;  // "" : the new store's own default
};

struct ResolvedTable {
  std::string old_table, new_table;  // "schema.table"
  std::string view_schema, view_name;
  std::vector<ResolvedColumn> columns;  // the old table's, in attnum order
  std::vector<ResolvedNewColumn> new_only;
  std::vector<std::string> old_key;  // old column names
  std::vector<std::string> new_key;  // their new names, same order

  std::string view_quoted() const;
  std::string new_table_quoted() const;
  std::string old_table_quoted() const;
  // Old columns whose mapping loses information: dropped ones, and kept ones without a lossless
  // inverse (lossy_kept_columns: what a rollback of cutover refuses).
  std::vector<std::string> lossy_columns() const;
  std::vector<std::string> lossy_kept_columns() const;
  // The new columns a row from the old store fills, and the forward expression of each.
  std::vector<std::pair<std::string, std::string>> written_columns() const;
  // "SELECT <forward> AS <new>, ... FROM <row_source>": the new row of each old row in
  // row_source (a relation or a subquery with an alias whose columns have the old names).
  std::string forward_select(const std::string& row_source) const;
  // A new column GENERATED ALWAYS AS IDENTITY: INSERTs override it, no UPDATE sets it.
  bool identity_always(const std::string& new_name) const;
  // INSERT ... ON CONFLICT into the new table of every row of row_source (old column names):
  // a changed row is overwritten, an equal one left alone. The backfill's merge and the
  // reconcile's repairs.
  std::string upsert_sql(const std::string& row_source) const;
  // What the old store's side of a comparison reads, as a FROM item with the old column names:
  // the old table itself when every column is lossless, else each lossy column taken through
  // its round trip (the inverse of the forward value), the value the new store's view shows for
  // a row the mapping wrote.
  std::string old_side_relation() const;
};

struct Resolution {
  std::optional<ResolvedTable> table;
  std::vector<std::string> errors;  // "<key path>: <message>", naming the column
};

// `old_facts` / `new_facts` for config's old table and its `to`.
Resolution resolve_table(const std::string& old_table, const config::TableMapping& mapping,
                         const std::string& view_schema, const TableFacts& old_facts,
                         const TableFacts& new_facts);

// Whether a value of old_type reads the same as text after the cast to new_type: integer
// widenings, varchar to text or a longer varchar, numeric to numeric of the same scale.
bool same_text_widening(const std::string& old_type, const std::string& new_type);

}  // namespace pgdual::jobs::mapping
