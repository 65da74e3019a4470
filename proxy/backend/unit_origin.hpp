#pragma once
// Who put a unit on the primary's queue. Every unit but the client's own is a statement of
// pgdual's, sent between the client's units: its replies never reach the client.

namespace pgdual::proxy {

enum class UnitOrigin {
  client,            // the client's unit
  client_wrapped,    // outbox and sync: the client's autocommit write inside pgdual's
                     // BEGIN ... COMMIT; its ReadyForQuery waits for that COMMIT
  wrapper_begin,     // outbox and sync: pgdual's BEGIN of that wrapper
  wrapper_insert,    // outbox: the journal INSERT inside that wrapper
  wrapper_commit,    // outbox and sync: pgdual's COMMIT of that wrapper (its errors reach the
                     // client, then the held ReadyForQuery); under sync it waits for the secondary
  journal_insert,    // outbox: the journal INSERT just before the client's COMMIT
  values_query,      // the primary's values for a deterministic rewrite (session_rewrite.cpp)
  shadow_rerun,      // A/A shadow read: the client's read once more on the primary
  abort_statement,   // on_secondary_failure: fail: makes the primary's transaction fail
  serialize_unlock,  // migration.nondeterministic: serialize: releases the advisory locks
};

// pgdual's own statement: its replies are dropped (or captured for pgdual).
constexpr bool swallowed(UnitOrigin origin) {
  return origin != UnitOrigin::client && origin != UnitOrigin::client_wrapped;
}

// pgdual's journal INSERT on the primary (outbox): its error is counted.
constexpr bool is_journal_insert(UnitOrigin origin) {
  return origin == UnitOrigin::journal_insert || origin == UnitOrigin::wrapper_insert;
}

}  // namespace pgdual::proxy
