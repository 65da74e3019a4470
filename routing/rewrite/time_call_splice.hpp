#pragma once
// The rewrite's fast path for the commonest case: a single statement whose only sites are
// calls of the clock (now(), CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP, ...). Instead of
// parsing the text again, changing the tree and deparsing it (most of the rewrite's cost:
// pgbench's TPC-B history INSERT spent about a third of pgdual's CPU there), each call is
// found in the text by a small lexer and replaced by the same typed literal the pipeline would
// put in its place.
//
// Exact or nothing: the lexer skips strings, quoted identifiers, dollar quotes and comments,
// and the splice is used only when it finds exactly the analysis's sites, function by function
// (a call it cannot read with certainty, a qualified name, a precision, a backslash anywhere,
// a second statement: the caller falls back to the full rewrite). Every site of one function
// name takes one value in a single statement (one transaction timestamp, one statement
// timestamp), so the order in which the parse tree lists the sites does not matter.

#include <optional>
#include <string>
#include <string_view>

#include "routing/rewrite/pipeline.hpp"
#include "routing/rewrite/sites.hpp"

namespace pgdual::routing {

// The rewritten text, or nullopt when the fast path does not apply (use rewrite_parsed).
std::optional<std::string> splice_time_calls(std::string_view sql, const RewriteAnalysis& analysis,
                                             const RewriteValues& values);

}  // namespace pgdual::routing
