#pragma once
// The values a deterministic rewrite substitutes (routing/rewrite/pipeline.hpp) that pgdual
// makes itself, and the query that takes the others from the primary. Pure apart from the
// clock and the random generator.

#include <optional>
#include <string>
#include <vector>

#include "routing/rewrite/pipeline.hpp"

namespace pgdual::routing {

// Now, as "YYYY-MM-DD HH:MM:SS.ffffff+00": read the same whatever DateStyle and TimeZone say.
std::string utc_timestamp_now();
// Uniform in [0, 1), like PostgreSQL's random().
double random_unit_double();
// A version 4 (random) UUID, 8-4-4-4-12 lower-case hex digits.
std::string random_uuid_v4();

// What must come from the primary before a statement can be rewritten: the open transaction's
// timestamp (now() is constant within a transaction, and the client may read it back) and the
// sequence values (they must come from the primary's sequences).
struct PrimaryValuesRequest {
  bool transaction_timestamp = false;
  std::vector<std::string> sequences;  // one nextval per entry, in order
  bool empty() const { return !transaction_timestamp && sequences.empty(); }
};
// One row: the timestamp (if asked), then one value per sequence. Sequence names are passed as
// written in the statement, so the primary resolves them through the same search_path.
std::string primary_values_query(const PrimaryValuesRequest& request);

// The values for one execution. `transaction_timestamp`: the primary's, for slots of the
// transaction the statement runs in (null: the statement runs outside a transaction, and
// pgdual's clock stands in: nobody can read that transaction's now() back).
// `sequence_values`: one per analysis.sequences entry. False if they do not fit.
bool build_rewrite_values(const RewriteAnalysis& analysis,
                          const std::optional<std::string>& transaction_timestamp,
                          const std::vector<std::int64_t>& sequence_values, RewriteValues& values);

}  // namespace pgdual::routing
