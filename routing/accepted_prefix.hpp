#pragma once
// What the secondary must still run of a unit the primary rejected partway inside an explicit
// transaction (issue 12, class 5). The primary ran the unit's first statements, then failed,
// and the transaction went on into its failed state; the client leaves it only with ROLLBACK or
// ROLLBACK TO SAVEPOINT. A SAVEPOINT among those first statements (psycopg's pipeline with
// conn.transaction(), a driver's autosave sent in the same batch) is then the one the client
// rolls back to: without it the secondary would roll back to an older savepoint of the same
// name and undo statements the primary kept. So the secondary, and a replay of the journal, get
// exactly the statements the primary completed. No I/O here.

#include <cstddef>
#include <string>
#include <string_view>

namespace pgdual::routing {

struct AcceptedPrefix {
  enum class Kind {
    nothing,  // the primary completed none of the statements: drop the unit
    prefix,   // `bytes`: the completed statements, as a unit of their own
    unknown,  // cannot be cut (a statement string libpg_query cannot split): drop and say so
  };
  Kind kind = Kind::nothing;
  std::string bytes;
};

// `frames`: the unit's frontend messages as the secondary would have received them (a Query, or
// an extended batch ending with Sync). `completed`: how many statements the primary finished
// (CommandComplete or EmptyQueryResponse) before its ErrorResponse. An extended batch keeps its
// frames through the `completed`-th Execute and gets a Sync; a Query keeps its first
// `completed` statements.
AcceptedPrefix accepted_prefix(std::string_view frames, std::size_t completed);

}  // namespace pgdual::routing
