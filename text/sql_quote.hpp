#pragma once
// Quoting for SQL that pgdual writes itself (journal statements, rewritten values, job queries):
// one place, so every layer escapes alike.

#include <string>
#include <string_view>

namespace pgdual::text {

// "name", with embedded double quotes doubled. NUL bytes, which PostgreSQL refuses in any text,
// are dropped.
std::string quote_identifier(std::string_view name);

// 'text' with quotes doubled; when the text holds a backslash, E'...' with backslashes doubled
// too, so the literal means the same whatever standard_conforming_strings says. NULs dropped.
std::string quote_literal(std::string_view text);
// "schema.table" as config/ normalises names (the first dot separates; no schema: public) ->
// "schema"."table".
std::string quote_qualified(std::string_view qualified);

}  // namespace pgdual::text
