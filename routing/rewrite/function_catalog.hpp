#pragma once

// What the primary's catalog says about functions, beyond the application's own volatile ones,
// for the write analysis (routing/rewrite/sites.hpp). Filled from the catalog query
// (routing/classify/catalog_facts.hpp); read routing does not use it.

#include <string>
#include <string_view>
#include <unordered_set>

namespace pgdual::routing {

struct FunctionCatalog {
  // Volatile functions that belong to an extension (uuid-ossp's uuid_generate_v1(), pgcrypto's
  // gen_random_bytes(), ...): "schema.name" and bare "name".
  std::unordered_set<std::string> extension_volatile;
  // Every function of the database, pg_catalog's too, and every type (uuid('...') is a cast
  // written as a call): "schema.name" and bare "name". Empty when the catalog was not read:
  // then no function counts as unknown.
  std::unordered_set<std::string> names;

  // `call` as written ("f" or "s.f"); a bare name matches the function in any schema.
  bool is_extension_volatile(std::string_view call) const;
  // False only for a call of one or two parts that names no function the catalog holds: a
  // function created since it was read (by another pgdual, or around pgdual), or none at all.
  bool knows(std::string_view call) const;
};

}  // namespace pgdual::routing
