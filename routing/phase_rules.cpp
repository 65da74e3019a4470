#include "routing/phase_rules.hpp"

#include <algorithm>
#include <cctype>

namespace pgdual::routing {

using config::Phase;

PhaseRoles roles_for(Phase phase, bool keep_old_in_sync) {
  switch (phase) {
    case Phase::prepare:
      return {Store::old_store, std::nullopt};
    case Phase::dual_write:
    case Phase::backfill:
    case Phase::shadow_read:
      return {Store::old_store, Store::new_store};
    case Phase::cutover:
      return {Store::new_store, keep_old_in_sync ? std::optional(Store::old_store) : std::nullopt};
    case Phase::cleanup:
      return {Store::new_store, std::nullopt};
  }
  return {Store::old_store, std::nullopt};
}

Phase session_phase(const config::MigrationConfig& migration, const SessionIdentity& identity) {
  for (const auto& rule : migration.tenants) {
    const auto& match = rule.match;
    if (match.database && *match.database != identity.database) continue;
    if (match.user && *match.user != identity.user) continue;
    if (match.application_name && *match.application_name != identity.application_name) continue;
    return rule.phase;
  }
  return migration.phase;
}

std::string normalize_table_name(std::string_view table) {
  std::string result;
  bool quoted = false;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const char c = table[i];
    if (c == '"') {
      // Inside quotes, "" stands for one quote character, as in SQL.
      if (quoted && i + 1 < table.size() && table[i + 1] == '"') {
        result.push_back('"');
        ++i;
      } else {
        quoted = !quoted;
      }
      continue;
    }
    result.push_back(quoted ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (result.find('.') == std::string::npos) result = "public." + result;
  return result;
}

Phase table_phase(const config::MigrationConfig& migration, Phase session, std::string_view table) {
  if (migration.tables.empty()) return session;
  auto it = migration.tables.find(normalize_table_name(table));
  return it == migration.tables.end() ? session : it->second;
}

std::string qualified_table(std::string_view table, const NameContext& names) {
  static const std::vector<std::string> kDefaultPath{"$user", "public"};
  return resolve_table(table, names.search_path ? *names.search_path : kDefaultPath, names.user,
                       names.catalog);
}

std::string_view to_string(MirrorMode mode) {
  switch (mode) {
    case MirrorMode::none:
      return "none";
    case MirrorMode::follow:
      return "follow";
    case MirrorMode::reject:
      return "reject";
  }
  return "none";
}

namespace {

bool table_is_mirrored(const config::MigrationConfig& migration, Phase session,
                       std::string_view table, const NameContext& names) {
  // Config keys are normalised like PostgreSQL stores names; the classifier
  // reports names already folded, resolved here through the search_path.
  auto it = migration.tables.find(qualified_table(table, names));
  const Phase phase = it == migration.tables.end() ? session : it->second;
  return phase != Phase::prepare && phase != Phase::cleanup;
}

// A write whose every written table is excluded from the migration by a
// table override is not mirrored.
bool writes_only_unmirrored_tables(const UnitFacts& unit, const config::MigrationConfig& migration,
                                   Phase session, const NameContext& names) {
  if (migration.tables.empty()) return false;
  bool any_table = false;
  for (const auto* statement : unit.statements) {
    if (statement->kind != StatementKind::write) return false;
    for (const auto& table : statement->write_tables) {
      any_table = true;
      if (table_is_mirrored(migration, session, table, names)) return false;
    }
  }
  return any_table;
}

// A read statement that calls a volatile function of the application's own
// (looked up in the primary's catalog) may write through it.
bool calls_volatile_user_function(const StatementInfo& statement,
                                  const config::MigrationConfig& migration,
                                  const NameContext& names) {
  if (names.catalog == nullptr) return false;
  for (const auto& function : statement.functions) {
    if (names.catalog->is_volatile_user_function(function) &&
        !function_list_contains(migration.read_only_functions, function)) {
      return true;
    }
  }
  return false;
}

bool is_commit_like(TransactionAction action) {
  return action == TransactionAction::commit || action == TransactionAction::prepare_transaction ||
         action == TransactionAction::commit_prepared;
}

}  // namespace

MirrorDecision decide_mirror(const UnitFacts& unit, char transaction_status,
                             const config::MigrationConfig& migration, Phase session,
                             const NameContext& names) {
  MirrorDecision decision;
  // Text the parser rejects goes to the primary alone: the server reports
  // the error, and nothing reaches the secondary.
  if (unit.parse_failed) return decision;

  bool only_reads = true, has_ddl = false, has_commit = false;
  bool only_listen = !unit.statements.empty();
  for (const auto* statement : unit.statements) {
    if (!statement->is_listen) only_listen = false;
    if (statement->kind != StatementKind::read) {
      only_reads = false;
    } else if (calls_volatile_user_function(*statement, migration, names)) {
      only_reads = false;
      decision.write_by_function = true;
    }
    if (statement->kind == StatementKind::ddl) has_ddl = true;
    if (statement->kind == StatementKind::transaction && is_commit_like(statement->transaction)) {
      has_commit = true;
    }
  }
  // LISTEN/UNLISTEN/NOTIFY stay on the primary: notifications come from it alone.
  if (only_listen) return decision;

  if (has_ddl) {
    if (migration.ddl == config::DdlPolicy::reject) {
      decision.mode = MirrorMode::reject;
      decision.reject_reason =
          "DDL is not allowed during the migration (migration.ddl is \"reject\")";
      return decision;
    }
    if (migration.ddl == config::DdlPolicy::primary_only) return decision;
  }
  if (only_reads && !unit.has_function_call) {
    // Reads need nothing on the secondary, unless they create statement
    // state (a named Parse or a Close) that later writes will refer to.
    if (unit.changes_statement_state) decision.mode = MirrorMode::follow;
    return decision;
  }
  if (transaction_status == 'I' && writes_only_unmirrored_tables(unit, migration, session, names)) {
    return decision;
  }
  decision.mode = MirrorMode::follow;
  decision.ends_transaction = has_commit;
  decision.is_commit = has_commit && unit.statements.size() == 1 &&
                       unit.statements.front()->transaction == TransactionAction::commit;
  return decision;
}

}  // namespace pgdual::routing
