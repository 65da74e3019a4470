#include "routing/rewrite/function_catalog.hpp"

#include <algorithm>

namespace pgdual::routing {

bool FunctionCatalog::is_extension_volatile(std::string_view call) const {
  return !extension_volatile.empty() && extension_volatile.contains(std::string(call));
}

bool FunctionCatalog::knows(std::string_view call) const {
  if (names.empty() || call.empty()) return true;
  // db.schema.f is refused by PostgreSQL itself (cross-database reference).
  if (std::count(call.begin(), call.end(), '.') > 1) return true;
  return names.contains(std::string(call));
}

}  // namespace pgdual::routing
