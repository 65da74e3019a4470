#pragma once
// What routing needs to know from the primary's catalog, and how names are
// resolved with it. Pure: the session fetches the rows (proxy/catalog_cache)
// and hands them here.
//
// - Volatile user functions: a read that calls one may write (a plpgsql
//   function that INSERTs), so the read is mirrored like a write. Functions
//   in pg_catalog and information_schema are PostgreSQL's own (their write
//   side effects are listed in routing/classify/function_lists.cpp); functions that
//   belong to an extension (uuid-ossp, pgcrypto, ...) are known code and not
//   listed either. migration.read_only_functions / write_functions override.
// - Relations per schema: an unqualified table name is resolved through the
//   session's search_path the way PostgreSQL does, so a table override such
//   as `app.orders` applies to `INSERT INTO orders` under `SET search_path
//   TO app`.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "routing/rewrite/function_catalog.hpp"
#include "routing/rewrite/sites.hpp"

namespace pgdual::routing {

struct CatalogFacts {
  // "schema.name" and bare "name" of every volatile user function.
  std::unordered_set<std::string> volatile_functions;
  // relation name -> the schemas that hold a relation of that name.
  std::unordered_map<std::string, std::vector<std::string>> relation_schemas;
  // relation oid -> "schema.name", and the attribute numbers of its primary key.
  std::unordered_map<std::uint32_t, std::string> relation_names;
  std::unordered_map<std::uint32_t, std::vector<int>> primary_keys;
  // "schema.table" -> its volatile-default columns (serial, identity, now(), uuid), for the
  // deterministic rewrite (routing/rewrite/sites.hpp).
  ColumnDefaults column_defaults;
  // Extensions' volatile functions and every function name, for the write analysis
  // (routing/rewrite/function_catalog.hpp). Read routing does not look at them.
  FunctionCatalog functions;

  // `call` as the classifier reports it ("f" or "app.f"); a bare name
  // matches a volatile function of that name in any schema (the path that
  // PostgreSQL would pick is not tracked for functions: conservative).
  bool is_volatile_user_function(std::string_view call) const;
};

// The query whose rows build CatalogFacts: nine text columns, (kind, schema,
// name, extra, ...). kind 'f': volatile function; 'r': relation (extra = oid);
// 'k': primary key (name = relation oid, extra = attribute numbers); 'd': a
// column with a default or an identity (extra = column, then identity kind,
// position, default expression, sequence, whether it calls anything not immutable);
// 'e': a volatile function of an extension; 'n': every function and type name of a
// schema (name = the names, quote_ident'ed and joined with commas: one row per schema).
extern const char* const kCatalogQuery;

using TextRow = std::vector<std::optional<std::string>>;
CatalogFacts catalog_facts_from_rows(const std::vector<TextRow>& rows);

// The column defaults as a session sees them: every "schema.table" entry, plus
// the bare table name for the table the session's search_path selects.
ColumnDefaults defaults_for_session(const CatalogFacts& facts,
                                    const std::vector<std::string>& search_path,
                                    std::string_view user);

// search_path as current_setting() reports it: `"$user", public, "My Schema"`
// -> {"$user", "public", "My Schema"} (quotes removed, unquoted names folded).
std::vector<std::string> parse_search_path(std::string_view text);

// The search_path a `SET [SESSION] search_path ...` statement sets (empty
// vector for TO DEFAULT); nullopt when `sql` is not such a statement.
std::optional<std::vector<std::string>> search_path_from_set(std::string_view sql);

// "schema.table" for a table name as the classifier reports it. A qualified
// name is returned as is; an unqualified one takes the first schema of
// pg_catalog + search_path that holds it ("$user" is `user`); a name the
// catalog does not know (created since) takes the first schema of the path
// that is not "$user", else "public".
std::string resolve_table(std::string_view table, const std::vector<std::string>& search_path,
                          std::string_view user, const CatalogFacts* facts);

}  // namespace pgdual::routing
