#pragma once
// What the backfill knows about one table before it copies a row: where the rows come from (a
// table, or one leaf of a partitioned table, on the old store), where they go (the same table,
// or the partitioned root, on the new store), which columns travel, which key orders the chunks
// and whether binary COPY is safe. Built by catalog_reader from both stores' catalogs; plain
// data.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgdual::jobs::mapping {
struct ResolvedTable;
}

namespace pgdual::jobs::backfill {

struct KeyColumn {
  std::string quoted;  // quote_ident(name)
  std::string type;    // format_type(), for casting the text of a key value back
};

struct TablePlan {
  std::string source;         // "schema.table" as stored (unquoted): labels, state, config lookups
  std::string source_quoted;  // "schema"."table" for SQL
  std::string target;         // the new store's table: the partitioned root for a leaf
  std::string target_quoted;
  std::vector<std::string> columns_quoted;  // what is copied: every column but generated ones
  std::vector<std::string> column_types;    // format_type() of each of columns_quoted
  std::vector<KeyColumn> key;               // the chunk order; empty: no usable key
  std::vector<std::string> update_columns_quoted;  // what a chunk may overwrite: not the key
  // GENERATED ALWAYS identity columns outside the key: no UPDATE may set them, so a chunk only
  // counts the rows where they differ (the table then needs a reconciliation).
  std::vector<std::string> identity_columns_quoted;
  bool binary = false;                         // binary COPY (built-in types, same major version)
  bool locked_copy = false;                    // keyless: one locked copy of the whole table
  std::optional<std::int64_t> estimated_rows;  // pg_class.reltuples; nullopt: never analysed
  std::vector<std::string> parents;  // targets this one's foreign keys reference on the new store
  // migration.mapping (docs/schema-mapping.md): the new store keeps this table under another
  // shape. `target_quoted` is then pgdual's view of it there, in the old shape; the backfill
  // merges into the new table through the forward expressions, and a comparison's old side reads
  // `old_relation` (the old table, with lossy columns taken through their round trip).
  std::shared_ptr<const mapping::ResolvedTable> mapping;
  std::string old_relation;
};

// The plan as the old store's side of a comparison reads it: target_quoted is old_relation for a
// mapped table, else the plan itself.
TablePlan old_store_side(const TablePlan& plan);

// A table the backfill will not copy, and why, in words for the report.
struct Refusal {
  std::string table;
  std::string reason;
};

}  // namespace pgdual::jobs::backfill
