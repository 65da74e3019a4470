#pragma once
// Strategy cdc: the new store receives the old store's row changes from PostgreSQL's logical
// replication, so the session sends it only what replication does not carry (docs/cdc.md):
//   - DDL (migration.ddl as under the other strategies): logical replication carries rows, not
//     schema, and rows that need a new column fail to apply until the new store has it;
//   - REFRESH MATERIALIZED VIEW: materialized views are not replicated;
//   - session state (SET ...), so that mirrored DDL resolves names as on the primary;
//   - named prepared statements of reads (a named Parse, a Close), which shadow reads use;
//   - the end of a transaction in which pgdual opened one on the secondary for DDL.
// Everything else (every row write, COPY, function calls) stays on the primary: a second copy
// would collide with the replicated one. A unit that mixes DDL with row writes, and DDL that
// also fills a table (CREATE TABLE AS, SELECT INTO), cannot be split exactly: it is refused.
// Pure decisions: no I/O.

#include <optional>
#include <string>
#include <vector>

#include "routing/phase_rules.hpp"

namespace pgdual::routing {

// Why statements (one SQL text, or a whole unit) cannot run under strategy cdc with the
// `ddl` policy in force: DDL together with row writes, or DDL that fills a table; nullopt when
// they can. The session refuses such a text before it reaches the primary.
std::optional<std::string> cdc_refusal(const std::vector<const StatementInfo*>& statements,
                                       config::DdlPolicy ddl);

// Whether the statements write rows or change the schema (what replication, or pgdual's DDL
// mirroring, would have to carry).
bool cdc_writes(const std::vector<const StatementInfo*>& statements);

// `secondary_in_transaction`: pgdual opened a transaction on the secondary for DDL inside the
// client's transaction block, which the unit's COMMIT or ROLLBACK must end there too.
MirrorDecision decide_cdc_mirror(const UnitFacts& unit, const config::MigrationConfig& migration,
                                 bool secondary_in_transaction);

}  // namespace pgdual::routing
