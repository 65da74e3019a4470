#pragma once
// The names of the replication objects pgdual creates for one database under strategy cdc
// (docs/cdc.md, "Objects"). Slot names are cluster-wide on the publisher and may hold only
// lower-case letters, digits and underscores, at most 63 bytes; the publication and the
// subscription share the slot's name so that one name finds all three. The "pgdual_" prefix
// says who owns them; cleanup drops exactly these.

#include <string>
#include <string_view>

namespace pgdual::cdc {

struct ReplicationNames {
  std::string forward;  // publication on the old store, subscription and slot on the new one
  std::string reverse;  // after cutover: publication on the new store, subscription on the old
};

// "pgdual_<database>" with the database name folded to [a-z0-9_]; a name that had to be
// changed or shortened gets a hash of the original, so two databases never share a name.
ReplicationNames names_for(std::string_view database);

// The prefix every pgdual-owned slot, publication and subscription starts with.
inline constexpr std::string_view kNamePrefix = "pgdual_";

}  // namespace pgdual::cdc
