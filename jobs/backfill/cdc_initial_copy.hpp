#pragma once
// `pgdual backfill` under strategy cdc with copy_data: pgdual: the initial copy that PostgreSQL's
// table sync would otherwise make, done by pgdual's own chunked, throttled, resumable-per-chunk
// copier with its progress bars (docs/cdc.md, "Initial copy"). Under the replication advisory
// lock on the old store:
//
//   1. setup as `pgdual cdc setup` does it (preflight, which requires the tables on the new
//      store to be empty; the publication), leaving the subscription out;
//   2. the forward slot, created over a replication connection that exports its snapshot;
//   3. every published table copied under that snapshot (TableCopier, no row locks);
//   4. the subscription created on the slot without a copy of its own: it streams every
//      change committed after the snapshot, so each row arrives exactly once;
//   5. the sequences moved past the old store's (replication does not carry them).
//
// A copy that does not finish (a failure, a signal) cannot be continued: its snapshot went with
// the connection that exported it. The slot is dropped (it would keep the old store's WAL) and
// the rows this run wrote are truncated on the new store, so the next run starts from the
// empty tables the preflight found.

#include <atomic>
#include <functional>

#include "jobs/backfill/backfill_job.hpp"

namespace pgdual::jobs::backfill {

BackfillReport run_cdc_initial_copy(
    const config::Config& config, const BackfillOptions& options, const std::atomic<bool>& stop,
    const std::function<void(const std::vector<TableStatus>&)>& draw);

}  // namespace pgdual::jobs::backfill
