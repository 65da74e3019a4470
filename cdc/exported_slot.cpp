#include "cdc/exported_slot.hpp"

#include "cdc/names.hpp"
#include "cdc/preflight.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::cdc {

ExportedSlot::ExportedSlot(const config::Config& config, const std::string& database,
                           const pg::Cancelled& cancelled)
    : slot_(names_for(database).forward) {
  // A walsender for logical replication: it speaks the replication commands and SQL.
  // It stays idle for the whole copy: no server-side idle timeout may end it (and with it the
  // snapshot).
  const std::string conninfo =
      old_store_conninfo(config, database) +
      " replication=database options='-c idle_in_transaction_session_timeout=0' keepalives=1 "
      "keepalives_idle=30";
  conn_ = pg::connect(conninfo, config.old_backend.connect_timeout, cancelled, error_);
  if (!conn_) {
    error_ = "old store (replication connection): " + error_;
    return;
  }
  // Before the slot exists: any command after it would end the export.
  if (PQserverVersion(conn_.get()) >= 140000) {
    pg::exec(conn_.get(), "SET idle_session_timeout = 0", cancelled);
  }
  // The slot's name is ours ([a-z0-9_], names.hpp), so it needs no quoting beyond this.
  const pg::Reply created =
      pg::exec(conn_.get(),
               "CREATE_REPLICATION_SLOT " + text::quote_identifier(slot_) +
                   " LOGICAL pgoutput EXPORT_SNAPSHOT",  // also accepted before PostgreSQL 15
               cancelled);
  if (!created.ok || created.rows() != 1) {
    error_ = "old store: creating replication slot " + slot_ +
             " failed: " + (created.ok ? std::string("no reply row") : created.error) +
             " (backends.old's user needs REPLICATION, and a free slot and WAL sender)";
    conn_.reset();
    return;
  }
  consistent_point_ = created.value(0, 1);
  snapshot_ = created.value(0, 2);
  if (snapshot_.empty()) error_ = "old store: the slot exported no snapshot";
}

std::string import_snapshot_sql(const std::string& snapshot) {
  return "SET TRANSACTION SNAPSHOT " + text::quote_literal(snapshot);
}

}  // namespace pgdual::cdc
