#pragma once
// copy_data: pgdual (docs/cdc.md, "Initial copy"). The forward slot is created over a
// replication connection that exports its snapshot: every row committed before the slot's
// consistent point is visible in that snapshot, every change committed after it is streamed
// by the slot. A copy read under the snapshot plus the slot's stream therefore carries each
// row exactly once, with no lock on the application's rows. PostgreSQL keeps the snapshot
// importable (SET TRANSACTION SNAPSHOT) only while the exporting connection stays open and
// runs nothing else: this object is that connection, and it only waits.

#include <string>

#include "config/config.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cdc {

class ExportedSlot {
 public:
  // Creates slot names_for(database).forward (pgoutput) on the old store as backends.old's
  // user (it needs REPLICATION). On failure ok() is false and error() says why. The caller
  // holds lock_replication and has checked that no such slot exists.
  ExportedSlot(const config::Config& config, const std::string& database,
               const pg::Cancelled& cancelled);

  bool ok() const { return !snapshot_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& slot() const { return slot_; }
  const std::string& snapshot() const { return snapshot_; }  // for SET TRANSACTION SNAPSHOT
  const std::string& consistent_point() const { return consistent_point_; }  // an LSN

  // Ends the export (the snapshot can no longer be imported); the slot stays.
  void release() { conn_.reset(); }

 private:
  pg::Conn conn_;
  std::string slot_, snapshot_, consistent_point_, error_;
};

// `SET TRANSACTION SNAPSHOT '...'` for an exported snapshot's name (pure; unit-tested).
std::string import_snapshot_sql(const std::string& snapshot);

}  // namespace pgdual::cdc
