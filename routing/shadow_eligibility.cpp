#include "routing/shadow_eligibility.hpp"

#include <algorithm>

namespace pgdual::routing {

namespace {

bool is_plain_read_unit(const UnitFacts& facts, const MirrorDecision& decision,
                        protocol::TxnStatus status_before) {
  if (decision.mode != MirrorMode::none || status_before != protocol::TxnStatus::idle) return false;
  if (facts.parse_failed || facts.has_function_call || facts.changes_statement_state) return false;
  if (facts.statements.empty()) return false;
  return std::all_of(facts.statements.begin(), facts.statements.end(),
                     [](const auto* statement) { return statement->kind == StatementKind::read; });
}

}  // namespace

std::optional<ShadowCandidate> shadow_candidate(const UnitFacts& facts,
                                                const MirrorDecision& decision,
                                                protocol::TxnStatus status_before,
                                                const config::MigrationConfig& migration,
                                                config::Phase session_phase,
                                                const NameContext& names) {
  if (!is_plain_read_unit(facts, decision, status_before)) return std::nullopt;
  const auto& ignored = migration.shadow_read.ignore_tables;
  ShadowCandidate candidate;
  bool any_table = false;
  for (const auto* statement : facts.statements) {
    for (const auto& name : statement->tables) {
      const std::string qualified = qualified_table(name, names);
      auto it = migration.tables.find(qualified);
      const config::Phase phase = it == migration.tables.end() ? session_phase : it->second;
      if (phase != config::Phase::shadow_read) return std::nullopt;
      if (std::find(ignored.begin(), ignored.end(), qualified) != ignored.end()) {
        return std::nullopt;
      }
      if (!any_table) candidate.table = qualified;
      any_table = true;
    }
  }
  if (!any_table) {
    if (session_phase != config::Phase::shadow_read) return std::nullopt;
    candidate.table = "(none)";
  }
  candidate.ordered = std::all_of(facts.statements.begin(), facts.statements.end(),
                                  [](const auto* statement) { return statement->has_order_by; });
  return candidate;
}

}  // namespace pgdual::routing
