#include "routing/cdc_rules.hpp"

namespace pgdual::routing {
namespace {

bool fills_table(const StatementInfo& statement) {
  return statement.is_select_into || statement.command == "CREATE TABLE AS";
}

bool writes_rows(const StatementInfo& statement) {
  if (statement.command == "REFRESH MATERIALIZED VIEW") return false;
  return statement.kind == StatementKind::write || statement.has_modifying_cte ||
         statement.calls_write_function;
}

}  // namespace

std::optional<std::string> cdc_refusal(const std::vector<const StatementInfo*>& statements,
                                       config::DdlPolicy ddl) {
  if (ddl != config::DdlPolicy::mirror) return std::nullopt;  // nothing goes to the new store
  bool has_ddl = false, has_row_write = false;
  for (const auto* statement : statements) {
    if (fills_table(*statement)) {
      return "under strategy cdc a table cannot be created and filled in one statement (CREATE "
             "TABLE AS, SELECT INTO): create it with CREATE TABLE, then fill it with INSERT ... "
             "SELECT";
    }
    if (statement->kind == StatementKind::ddl ||
        statement->command == "REFRESH MATERIALIZED VIEW") {
      has_ddl = true;
    } else if (writes_rows(*statement)) {
      has_row_write = true;
    }
  }
  if (has_ddl && has_row_write) {
    return "under strategy cdc DDL must be sent apart from row writes (not in the same query "
           "string or batch): the new store gets the DDL from pgdual and the rows from "
           "replication";
  }
  return std::nullopt;
}

bool cdc_writes(const std::vector<const StatementInfo*>& statements) {
  for (const auto* statement : statements) {
    if (statement->kind == StatementKind::ddl || writes_rows(*statement) ||
        fills_table(*statement) || statement->command == "REFRESH MATERIALIZED VIEW") {
      return true;
    }
  }
  return false;
}

MirrorDecision decide_cdc_mirror(const UnitFacts& unit, const config::MigrationConfig& migration,
                                 bool secondary_in_transaction) {
  MirrorDecision decision;
  if (unit.parse_failed || unit.has_function_call) return decision;
  bool mirrors_schema = false, has_row_write = false, has_session = false, has_commit = false;
  bool only_transaction = !unit.statements.empty(), only_reads = true;
  for (const auto* statement : unit.statements) {
    if (statement->kind != StatementKind::transaction) only_transaction = false;
    if (statement->kind != StatementKind::read || writes_rows(*statement)) only_reads = false;
    if (statement->kind == StatementKind::ddl ||
        statement->command == "REFRESH MATERIALIZED VIEW") {
      mirrors_schema = true;
    } else if (writes_rows(*statement)) {
      has_row_write = true;
    }
    if (statement->kind == StatementKind::session && !statement->is_listen) has_session = true;
    if (statement->kind == StatementKind::transaction &&
        (statement->transaction == TransactionAction::commit ||
         statement->transaction == TransactionAction::prepare_transaction)) {
      has_commit = true;
    }
  }
  if (mirrors_schema && migration.ddl == config::DdlPolicy::reject) {
    decision.mode = MirrorMode::reject;
    decision.reject_reason =
        "DDL is not allowed during the migration (migration.ddl is \"reject\")";
    return decision;
  }
  if (mirrors_schema && migration.ddl == config::DdlPolicy::primary_only) return decision;
  if (auto refusal = cdc_refusal(unit.statements, migration.ddl)) {
    decision.mode = MirrorMode::reject;
    decision.reject_reason = std::move(*refusal);
    return decision;
  }
  // A named Parse (or Close) of a read: shadow reads Bind it on the secondary later.
  const bool statement_state = only_reads && unit.changes_statement_state;
  if (mirrors_schema || statement_state || (has_session && !has_row_write)) {
    decision.mode = MirrorMode::follow;
  } else if (only_transaction && secondary_in_transaction) {
    // COMMIT, ROLLBACK and savepoints alike, while the secondary's transaction is open: DDL
    // after a ROLLBACK TO must meet the same schema on both stores.
    decision.mode = MirrorMode::follow;
  } else {
    return decision;
  }
  decision.ends_transaction = has_commit;
  decision.is_commit = has_commit && unit.statements.size() == 1 &&
                       unit.statements.front()->transaction == TransactionAction::commit;
  return decision;
}

}  // namespace pgdual::routing
