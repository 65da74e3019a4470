#pragma once

// Internal to routing/: human-readable command names ("DROP TABLE", "CREATE EXTENSION") for
// statements, close to PostgreSQL's command tags.

#include <string>
#include <string_view>

namespace pgdual::routing::detail {

// "MATERIALIZED VIEW" for PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW, "TABLE" for OBJECT_TABLE, ...
std::string object_type_words(int object_type);

// "CREATE EXTENSION" from the node type name "CreateExtensionStmt".
std::string command_from_type_name(std::string_view type_name);

// Whether a statement node type (by name) changes the schema: Create*, Alter*, Drop*, ...
bool is_schema_change_type(std::string_view type_name);

}  // namespace pgdual::routing::detail
