#pragma once

// Internal to routing/: keeps a hostile statement from overflowing the stack.
//
// libpg_query 15-4.0.0 serializes the parse tree recursively and protobuf-c unpacks it
// recursively, about 2 KB of stack per nesting level, with no depth check of their own (fixed
// upstream only in later releases). "SELECT 1+1+...+1" with 4000 terms, 8 KB of text, needs
// ~8 MB of stack: a whole thread stack. So before parsing, classify() bounds the nesting from
// the token stream and, when the bound exceeds what the caller's stack can spare, parses on a
// helper thread whose stack is sized for it.

#include <cstddef>
#include <functional>
#include <string>

namespace pgdual::routing::detail {

// An upper bound on the parse tree's nesting, in tokens, from libpg_query's scanner (which does
// not recurse). Each open parenthesis, bracket or CASE is a level. Within a level, operators and
// keywords count until the next comma, AND or OR: list elements are siblings, and AND/OR bind
// loosest and are flattened by the grammar, so whatever an operator opened is closed there.
// UNION/INTERSECT/EXCEPT, JOIN and BETWEEN nest across those and count until the level closes.
// Literals, identifiers and parameters are leaves. The bound is the largest sum over the open
// levels, plus their number. Text the scanner rejects yields 0: the parser rejects it too,
// before building any tree.
std::size_t estimate_nesting(const std::string& text);

// Runs `work` on a new thread with a stack of at least `stack_bytes` and waits for it; an
// exception from `work` is rethrown here. False if the thread could not be created.
bool run_with_stack(std::size_t stack_bytes, const std::function<void()>& work);

// Runs `work`, which parses `text` (and may deparse it), on a stack deep enough for the text's
// nesting: the caller's own for ordinary statements, else a helper thread's. Not at all when the
// nesting is beyond what PostgreSQL itself accepts (too_deep) or no thread could be started.
enum class ParseStack { ran, too_deep, no_thread };
ParseStack run_on_parse_stack(const std::string& text, const std::function<void()>& work);

}  // namespace pgdual::routing::detail
