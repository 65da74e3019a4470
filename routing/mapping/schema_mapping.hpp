#pragma once

// What the data path needs of migration.mapping (docs/schema-mapping.md): which old tables the
// new store serves through pgdual's views, and which of their columns it cannot give back. The
// views and triggers themselves are built by jobs/mapping/; this is the naming contract the two
// sides share. Pure, no I/O.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pgdual::routing {

struct MappedTable {
  std::string old_table;    // "schema.table" on the old store (the name clients use)
  std::string new_table;    // "schema.table" on the new store
  std::string view_schema;  // the view standing in for the old table on the new store
  std::string view_name;    // the old table's own name, so that `t.column` still resolves
  // Old columns the new store does not keep: the view shows them as NULL, so reading one there
  // would give another answer than the old store.
  std::set<std::string> dropped;
  // Old columns computed by an expression or a NULL rule without `lossless: true`: the view
  // gives back an approximation (NULL for ''), so reading one where it feeds a write, or in a
  // compared read, could give another answer than the old store. (A lossy cast is judged with
  // the catalogs, by jobs/mapping; the data path does not see it.)
  std::set<std::string> lossy;
};

class SchemaMapping {
 public:
  SchemaMapping() = default;
  explicit SchemaMapping(const config::MappingConfig& config);

  bool empty() const { return tables_.empty(); }
  // By the old table's "schema.table"; null when the table is not mapped.
  const MappedTable* find(std::string_view old_table) const;
  // True when some mapped table is called `name` (without its schema): a cheap first test.
  bool names_table(std::string_view name) const;
  const std::map<std::string, MappedTable, std::less<>>& tables() const { return tables_; }
  // The tables' own names in lower case, for may_name_mapped_table's search.
  const std::vector<std::string>& lowered_names() const { return lowered_names_; }

 private:
  std::map<std::string, MappedTable, std::less<>> tables_;
  std::set<std::string, std::less<>> bare_names_;
  std::vector<std::string> lowered_names_;
};

struct CatalogFacts;

// Once the new store is primary its catalog is what routing reads, and it knows the mapped
// tables only as pgdual's views: their column defaults (the deterministic rewrite's sequences
// and clocks) and their names are made known under the old names the clients use.
void alias_mapped_tables(CatalogFacts& facts, const SchemaMapping& mapping);

// "schema.table" -> {"schema", "table"} for names as config/ normalises them.
std::pair<std::string, std::string> split_table_name(std::string_view qualified);

}  // namespace pgdual::routing
