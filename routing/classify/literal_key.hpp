#pragma once
// A cache key for statement classification: the text with its literal values
// (numbers, strings, dollar-quoted bodies) replaced by '?'. Statements that
// differ only in values classify the same (values never change a statement's
// kind, tables or functions), so they share one parse.
// A lexical pass only, a few hundred nanoseconds for a typical statement.

#include <string>
#include <string_view>

namespace pgdual::routing {

std::string literal_key(std::string_view sql);

}  // namespace pgdual::routing
