#pragma once

// Reads what mapping resolution needs of one table from one store's catalog: its columns with
// types, NOT NULL, generation and defaults, and its usable unique keys. Blocking libpq.

#include <libpq-fe.h>

#include <string>

#include "jobs/mapping/resolved_mapping.hpp"

namespace pgdual::jobs::mapping {

// `table` is "schema.table" as config/ normalises it. On a failed query, `error` is set.
TableFacts read_table_facts(PGconn* conn, const std::string& table, std::string& error);

}  // namespace pgdual::jobs::mapping
