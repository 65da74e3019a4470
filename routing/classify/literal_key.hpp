#pragma once
// A cache key for statement classification: the text with its literal values
// (numbers, strings, dollar-quoted bodies) replaced by '?'. Statements that
// differ only in values classify the same (values never change a statement's
// kind, tables or functions), so they share one parse.
// A lexical pass only, a few hundred nanoseconds for a typical statement.

#include <cstddef>
#include <string>
#include <string_view>

namespace pgdual::routing {

std::string literal_key(std::string_view sql);

namespace detail {

// The lexer's pieces, shared with other lexical passes (routing/rewrite/input_time_literals.cpp).
bool is_identifier_char(char c);
// End of a '...' literal starting at `quote` (the index of the quote); backslash escapes only in
// E'' strings. Returns sql.size() if unterminated.
std::size_t end_of_string(std::string_view sql, std::size_t quote, bool backslash_escapes);
// A dollar-quote opener ($$ or $tag$) at `start`: its length, or 0 if there is none.
std::size_t dollar_tag_length(std::string_view sql, std::size_t start);

}  // namespace detail

}  // namespace pgdual::routing
