#pragma once

// Internal to routing/: the protobuf-c plumbing of the statement rewrite. Parsing into a tree
// that can be changed, building nodes, replacing a node in place, deparsing one statement.
//
// Ownership: protobuf-c frees an unpacked tree with its default allocator (malloc/free), string
// fields included unless they point at protobuf_c_empty_string. So every message, array and
// string built here is malloc'd too, and a node attached to the tree is freed with it.

#include <pg_query/pg_query.pb-c.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "routing/classify/protobuf_walk.hpp"

namespace pgdual::routing::detail {

struct MessageDeleter {
  void operator()(PgQuery__Node* node) const;
  void operator()(PgQuery__ParseResult* tree) const;
};
using NodePtr = std::unique_ptr<PgQuery__Node, MessageDeleter>;
using TreePtr = std::unique_ptr<PgQuery__ParseResult, MessageDeleter>;

// The parse tree of `text`; null with `error` set when the parser rejects it. `text` must not
// contain a NUL byte (the parser would stop there).
TreePtr parse_to_tree(const std::string& text, std::string& error);

// Runs `work` on a stack deep enough to parse, walk and deparse `text` (see parse_guard.hpp):
// the caller's own when the text is shallow, else a helper thread's. False with `error` set
// when the text is nested too deeply to handle safely (PostgreSQL would refuse it too).
bool with_parse_stack(const std::string& text, const std::function<void()>& work,
                      std::string& error);

// SQL for one statement of a tree (no trailing semicolon); false with `error` set when the
// deparser refuses the tree.
bool deparse_statement(std::int32_t version, PgQuery__RawStmt& statement, std::string& sql,
                       std::string& error);

// Node builders. Each returns a Node owning its whole subtree.
NodePtr make_string_const(std::string_view value);    // 'value'
NodePtr make_number_const(std::string_view literal);  // a numeric literal, e.g. 0.25 or 1e-05
NodePtr make_integer_const(std::int32_t value);
NodePtr make_param_ref(int number);  // $number
// schema.name(arg)
NodePtr make_func_call(const char* schema, const char* name, NodePtr arg);
NodePtr make_coalesce(NodePtr first, NodePtr second);  // COALESCE(first, second)
// arg::pg_catalog.<type>, with (precision) when precision >= 0.
NodePtr make_cast(NodePtr arg, const char* type, int precision = -1);
NodePtr make_column_target(std::string_view column);  // a column of an INSERT's column list
NodePtr make_list();                                  // an empty List (a VALUES row)
NodePtr make_values_select();                         // VALUES with no row yet

// Node readers.
// "a.b.c" from a list of String nodes (a function's or type's qualified name); empty if a part
// is not a String.
std::string dotted_name(PgQuery__Node* const* parts, std::size_t count);
// The last part of a dotted name: "f" of "s.f".
std::string_view bare_name(std::string_view name);
bool is_default(const PgQuery__Node* node);  // the DEFAULT keyword (SetToDefault)
// The index of the ResTarget naming `column` in an INSERT column list or SET list; -1 if none.
int target_index(PgQuery__Node* const* targets, std::size_t count, std::string_view column);
// Row `row` of a VALUES list; null if that item is not a List.
const PgQuery__List* values_row(const PgQuery__SelectStmt& select, std::size_t row);
// "schema.table" or "table", as written.
std::string relation_name(const PgQuery__RangeVar& relation);
// The text of 'name' or 'name'::regclass (nextval's usual argument); empty for anything else.
std::string regclass_literal(const PgQuery__Node* node);
// The number of columns a query gives when its target list shows it (no *); else -1.
int select_width(const PgQuery__Node* query);
// The VALUES lists of an INSERT ... VALUES; null for DEFAULT VALUES and INSERT ... SELECT.
const PgQuery__SelectStmt* values_of(const PgQuery__InsertStmt& insert);

// Puts `replacement`'s content into `target` (same address, so the parent needs no change)
// and frees what `target` held before.
void replace_node(PgQuery__Node& target, NodePtr replacement);

// Appends to a repeated Node field (items, count).
void append_node(PgQuery__Node**& items, std::size_t& count, NodePtr node);

}  // namespace pgdual::routing::detail
