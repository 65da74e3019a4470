#pragma once
// Shadow reads (docs/shadow-reads.md): which units of client work are also run on the other
// side and compared. A pure decision, made once per unit at dispatch; the data path
// (proxy/shadow/shadow_reads.hpp) then samples, budgets and runs it.

#include <optional>
#include <string>

#include "config/config.hpp"
#include "protocol/constants.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::routing {

struct ShadowCandidate {
  std::string table;     // the first table the unit reads ("(none)" for a read of no table)
  bool ordered = false;  // every statement has an ORDER BY: rows are compared in order
};

// A unit is shadowed when it is a read outside a transaction (inside one, the other side could
// not see the same snapshot, nor the transaction's own uncommitted writes), not mirrored, with no
// fastpath call or statement-state change, whose every table is in the shadow_read phase (its
// own, else the session's) and not in migration.shadow_read.ignore_tables.
std::optional<ShadowCandidate> shadow_candidate(const UnitFacts& facts,
                                                const MirrorDecision& decision,
                                                protocol::TxnStatus status_before,
                                                const config::MigrationConfig& migration,
                                                config::Phase session_phase,
                                                const NameContext& names);

}  // namespace pgdual::routing
