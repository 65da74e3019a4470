#pragma once

// Where a dotted name sits in SQL text: the byte span of each of its parts, starting at the
// location the parser reports for a relation or a column reference. The mapping edits those
// spans in the client's own text instead of deparsing the statement, so that every other byte
// (string literals under standard_conforming_strings = off, comments, spacing) is kept.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgdual::routing {

// The spans of `parts` identifiers joined by dots (whitespace allowed around each dot), from
// `location`. Unquoted and "quoted" identifiers; empty when the text there is anything else
// (U&"...", a comment between the parts), which the caller reports.
std::vector<std::pair<std::size_t, std::size_t>> name_parts_at(std::string_view sql,
                                                               std::size_t location,
                                                               std::size_t parts);

// The name a part stands for, as the parser reads it: "Quoted" unquoted, plain ASCII letters
// folded to lower case.
std::string identifier_value(std::string_view part);

}  // namespace pgdual::routing
