#pragma once
// The statement that makes one row of the secondary equal to the primary's: an upsert with the
// primary's values (every value a literal cast to its column's type: the text forms of the
// job's sessions round-trip exactly), or a DELETE of a row only the secondary has. What
// `--repair dry-run` prints and `--repair execute` runs. Pure.

#include <optional>
#include <string>
#include <vector>

#include "jobs/reconcile/compare_sql.hpp"

namespace pgdual::jobs::reconcile {

using Value = std::optional<std::string>;  // nullopt: NULL

// INSERT ... OVERRIDING SYSTEM VALUE VALUES (...) ON CONFLICT (key) DO UPDATE SET every
// non-key column (GENERATED ALWAYS identity columns outside the key cannot be set: an UPDATE
// leaves them, and the row stays reported).
std::string upsert_sql(const TablePlan& plan, const std::vector<Value>& values);
std::string delete_sql(const TablePlan& plan, const Key& key);

// A repair of a table of migration.mapping: to the new store, through the forward
// expressions into the new table; to the old store (after cutover), the old table directly, and
// refused (a statement that raises the reason) when a kept column has no lossless inverse.
std::string mapped_repair_sql(const TablePlan& plan, const std::vector<Value>& values,
                              const Key& key, bool remove, bool to_old_store);

}  // namespace pgdual::jobs::reconcile
