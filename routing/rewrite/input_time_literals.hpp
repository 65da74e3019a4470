#pragma once

// Input-time literals: PostgreSQL reads the strings 'now', 'today', 'tomorrow' and 'yesterday'
// with the clock of the server that converts them to a date or time type ('today 10:00' too).
// The same text gives each store its own value, and pgdual does not know which type a bare
// string becomes, so a write that holds one is unrewritable (routing/rewrite/sites.hpp).
// Parameters of a Bind are values the analysis never sees: they are not looked at.

#include <string_view>

namespace pgdual::routing {

// Whether a string constant reads the clock once it is a date or time: one of the four words,
// case-insensitive, with surrounding white space, alone or with parts that start with a digit or
// a sign ('today 10:00', 'tomorrow 9am').
bool is_input_time_literal(std::string_view value);

// A lexical pass without a parse, true for every text whose parse holds such a constant (and for
// some others: a string with escapes, or a constant the parser joins from two). The cheap test
// before the analysis; it also keeps such a text from sharing the cached analysis of its shape
// (the shape of 'now' is that of 'x').
bool may_hold_input_time_literal(std::string_view sql);

}  // namespace pgdual::routing
