#pragma once

// The SQL that installs one mapped table on the new store (docs/schema-mapping.md, "What pgdual
// installs"): a view in the old table's shape, over the new table through the inverse
// expressions, and a PL/pgSQL trigger function behind INSTEAD OF triggers that writes the new
// table through the forward expressions. Pure text; mapping_install runs it.
//
// PostgreSQL then does what a parse-tree translation would get wrong: it binds every column of
// a client's statement (subqueries, joins, aliases, RETURNING, DEFAULT) against the view, so
// pgdual only points the statement at the view (routing/mapping/statement_mapping.hpp).

#include <string>
#include <vector>

#include "jobs/mapping/resolved_mapping.hpp"

namespace pgdual::jobs::mapping {

// CREATE VIEW, the view's column defaults, the trigger function and the trigger, in order.
// Assumes the view does not exist (the install drops the old one first).
std::vector<std::string> install_statements(const ResolvedTable& table);

// The name of the trigger function, schema-qualified and quoted.
std::string write_function_name(const ResolvedTable& table);

}  // namespace pgdual::jobs::mapping
