#pragma once

// Internal to routing/rewrite/: what each store evaluates for itself and no literal can replace
// (docs/dual-write.md, "What cannot be rewritten"). Such a construct is named unrewritable, so
// the write follows migration.nondeterministic:
//  - calls: a volatile function of an extension (pgcrypto's gen_random_bytes()), a function the
//    catalog does not know (created since it was read), a read of the host's own files
//    (pg_read_file(), lo_import(path), ...), a large object whose OID each store picks
//    (lo_create(0), lo_creat(), lo_import(path), lo_from_bytea(0, ...));
//  - input-time literals ('now', 'today', ...: input_time_literals.hpp) in a write;
//  - statements the site walk does not enter: DO (its body is not visible), ALTER TABLE ... ADD
//    COLUMN whose value each store computes for its existing rows (a default that is not
//    immutable, serial, identity; also ALTER COLUMN ... TYPE ... USING), COPY FROM a host file
//    or a program, COPY FROM STDIN that leaves a volatile default to each store.

#include <string>
#include <vector>

#include "routing/rewrite/sites.hpp"

struct PgQuery__FuncCall;
struct PgQuery__Node;
struct PgQuery__RangeVar;

namespace pgdual::routing::detail {

// What the caller knows about functions; either may be null.
struct KnownFunctions {
  const std::vector<std::string>* volatile_functions = nullptr;  // the application's own
  const FunctionCatalog* catalog = nullptr;
};

void note_unrewritable(StatementWalk& out, std::string name);  // once per name

// A call (`full`: its name as written) that is none of the built-ins sites.cpp knows: an
// extension's volatile function, a function the catalog does not know, a reader of the host's
// files, a large-object creator that lets the store pick the OID.
void note_per_store_call(const PgQuery__FuncCall& call, const std::string& full,
                         const KnownFunctions& functions, StatementWalk& out);

// The input-time literal in a string constant, or in one cast to a type other than a text type
// ('now'::text stays a word); empty if none. `settled`: the node was a cast of a constant, whose
// constant needs no look of its own.
std::string input_time_literal(const PgQuery__Node& node, bool& settled);

// DO, ALTER TABLE and COPY FROM: what makes them give each store values of its own.
void note_per_store_statement(const PgQuery__Node& statement, const ColumnDefaults* defaults,
                              const KnownFunctions& functions, StatementWalk& out);

// The volatile-default columns of `relation` ("s.t", then "t"); null if none.
const std::vector<ColumnDefault>* table_defaults(const ColumnDefaults* defaults,
                                                 const PgQuery__RangeVar* relation);

}  // namespace pgdual::routing::detail
