#pragma once
// Which store answers and which one follows, per migration phase, tenant and
// table, and how a unit of client work (one simple Query, or an extended
// batch up to Sync) reaches the secondary. Pure decisions: no I/O.
//
// The rules (docs/dual-write.md explains them for users):
// - A session's phase is the first tenant rule that matches its database,
//   user or application_name, else migration.phase. It is re-read only at a
//   transaction boundary, so a reload never splits a transaction.
// - The session's phase picks the primary (old before cutover, new from
//   cutover on) and whether there is a secondary.
// - A table override decides only whether writes to that table are mirrored
//   (a table at prepare or cleanup is not); it never changes which store
//   answers, so a transaction never sees two stores.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "routing/classify/catalog_facts.hpp"
#include "routing/classify/statement_classifier.hpp"

namespace pgdual::routing {

enum class Store { old_store, new_store };

struct PhaseRoles {
  Store primary = Store::old_store;
  std::optional<Store> secondary;  // the store that follows the primary's writes
};

PhaseRoles roles_for(config::Phase phase, bool keep_old_in_sync);

struct SessionIdentity {
  std::string database;
  std::string user;
  std::string application_name;
};

config::Phase session_phase(const config::MigrationConfig& migration,
                            const SessionIdentity& identity);

// "orders" -> "public.orders"; "Sales.Orders" -> "sales.orders" (unquoted
// names fold to lower case, as PostgreSQL does).
std::string normalize_table_name(std::string_view table);

config::Phase table_phase(const config::MigrationConfig& migration, config::Phase session,
                          std::string_view table);

// What the session knows for resolving names: the primary's catalog (null
// until fetched) and its search_path (null: PostgreSQL's default,
// "$user", public).
struct NameContext {
  const CatalogFacts* catalog = nullptr;
  const std::vector<std::string>* search_path = nullptr;
  std::string_view user;
};

// "schema.table" for a table name as the classifier reports it.
std::string qualified_table(std::string_view table, const NameContext& names);

// How a unit reaches the secondary.
//
// The secondary follows the primary: a unit goes to the secondary only after
// the primary executed it, and only if the primary accepted it. Locks are
// therefore always taken on the primary first, so two sessions can never wait
// for each other across the stores (a deadlock no server could detect), and
// conflicting writes reach the secondary in the primary's order. Inside a
// transaction the client's replies do not wait for the secondary; the
// transaction's COMMIT does (see ClientSession): the secondary must have
// caught up before the primary commits, and commits right after it.
enum class MirrorMode {
  none,    // primary only
  follow,  // sent to the secondary once the primary accepted it
  reject,  // refused with an error (migration.ddl: reject)
};

std::string_view to_string(MirrorMode mode);

struct UnitFacts {
  std::vector<const StatementInfo*> statements;  // statements the unit executes
  bool parse_failed = false;                     // some text the parser rejected
  bool changes_statement_state = false;          // named Parse, or Close
  bool has_function_call = false;                // fastpath FunctionCall
};

struct MirrorDecision {
  MirrorMode mode = MirrorMode::none;
  bool ends_transaction =
      false;               // COMMIT/END/PREPARE TRANSACTION: the secondary must catch up first
  bool is_commit = false;  // a lone COMMIT/END: becomes ROLLBACK if the primary rolled back
  // A read that calls a volatile user function (it may write): mirrored as a write.
  bool write_by_function = false;
  std::string reject_reason;
};

// transaction_status: the primary's predicted status before the unit ('I',
// 'T' or 'E').
MirrorDecision decide_mirror(const UnitFacts& unit, char transaction_status,
                             const config::MigrationConfig& migration, config::Phase session,
                             const NameContext& names = {});

}  // namespace pgdual::routing
