#pragma once

// The new store's copy of a statement under migration.mapping (docs/schema-mapping.md): every
// reference to a mapped table is pointed at pgdual's view of it, which has the old table's
// name, columns and types; PostgreSQL's own analyzer then binds every column through the view,
// and the view's triggers write the new table. What the view cannot answer exactly is reported
// as untranslatable (the caller applies migration.nondeterministic), never sent silently:
//   - a read of a dropped column (the view shows NULL), or `*` over a table with one where the
//     rows are used (not in a top-level RETURNING of a write, whose rows nobody compares);
//   - INSERT ... ON CONFLICT and MERGE into a mapped table (PostgreSQL supports neither on a
//     view with INSTEAD OF triggers);
//   - DDL, TRUNCATE and COPY ... TO naming a mapped table;
//   - a WITH query named like a mapped table (the name would not mean the table).
// Names inside strings (format(), EXECUTE, function bodies) are invisible: documented.
// Pure, no I/O.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/mapping/schema_mapping.hpp"

namespace pgdual::routing {

enum class MappingUse {
  mirrored,  // the secondary's copy of a client unit before cutover: its rows are not compared
  compared,  // a shadow read, or the primary's copy after cutover: every row counts
};

struct MappedStatement {
  bool ok = false;       // false: untranslatable, `error` says why
  bool changed = false;  // a mapped table was named: `sql` differs from the input
  // The translation; when untranslatable, the closest text (tables renamed, nothing else), or
  // empty when even that failed.
  std::string sql;
  std::string error;
  std::string table;  // the first mapped table named (for counters and the reconcile queue)
  bool ddl = false;   // untranslatable because it is DDL (or TRUNCATE, GRANT, ...)
  // Non-empty when rows this statement reads from the new store would differ from the old
  // store's (a dropped column): it must not be compared (shadow read) or answered from there.
  std::string unreadable;
};

// "schema.table" for a table name as written ("t" or "s.t"): the session resolves unqualified
// names through its search_path.
using TableResolver = std::function<std::string(std::string_view written)>;

// Translates every statement of `sql`; statements naming no mapped table keep their bytes.
MappedStatement map_statement_text(const std::string& sql, const SchemaMapping& mapping,
                                   const TableResolver& resolve, MappingUse use);

// True when `sql` may name a mapped table (a case-insensitive search for the bare names): the
// cheap test before a parse.
bool may_name_mapped_table(std::string_view sql, const SchemaMapping& mapping);

}  // namespace pgdual::routing
