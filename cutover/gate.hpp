#pragma once
// The cutover gate (docs/cutover.md, "The gate"): the seed pattern's cutover criteria, measured,
// plus what the switch itself needs. Fleet-wide criteria come from every live instance's samples
// (cutover/instance_samples.hpp); per-database ones from both stores:
//
//   shadow_match_rate        fleet   matched / compared shadow reads in the window
//   secondary_write_success  fleet   the new store's successful writes / all, in the window
//   p99_latency_increase     fleet   client-observed write p99 / the primary's own p99 - 1
//   journal                  fleet + database: transactions still waiting in a journal
//   backfill                 database: every table in a dual-write phase copied (backfill_progress
//                            done), or under cdc every subscribed table ready
//   reconciliation           database: unresolved marks in the reconcile queue
//   replication_lag          database, strategy cdc: WAL the new store has not applied
//   sequences                database: every new-store sequence at or past the old store's
//   rollback_path            database: a rollback of the cutover would lose nothing (the old
//                            store keeps the writes, or under cdc the new one can publish back)
//
// A fleet rate with fewer samples than its minimum fails as "not measured": a gate that passes
// on no evidence would be an assertion. Blocking libpq, for the CLI and the proxy's own thread.

#include <string>
#include <vector>

#include "config/config.hpp"
#include "cutover/instance_samples.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cutover {

struct Criterion {
  std::string name;
  std::string database;  // "" for a fleet-wide criterion
  bool ok = false;
  std::string measured;   // the value, or why it could not be measured
  std::string threshold;  // what it must be
  std::string source;     // where the value comes from
};

struct GateReport {
  std::vector<std::string> databases;
  std::vector<std::string> instances;   // the live instances whose samples count
  std::vector<InstanceSample> members;  // every instance's newest sample (FleetTotals::newest)
  std::vector<Criterion> criteria;
  std::string error;  // a store could not be read: the gate fails

  bool ok() const;
  std::vector<std::string> failed() const;  // "name" or "name (database)"
};

// How fresh an instance's newest sample must be for the instance to count as live.
double fresh_sample_seconds();

// Every criterion for `databases` (empty: the control database alone).
GateReport evaluate_gate(const config::Config& config, const std::vector<std::string>& databases,
                         const pg::Cancelled& cancelled);

// The fleet's totals over the criteria's window from the old store's samples, with the live
// instances (a fresh sample, not stopped). `error` set when the samples could not be read.
FleetTotals read_fleet(const config::Config& config, const pg::Cancelled& cancelled,
                       std::string& error);

// ---- pure parts (unit-tested) ----

// The fleet-wide criteria from the fleet's totals.
// Under strategy cdc pgdual does not write the new store: secondary_write_success does not
// apply (replication_lag stands for it).
std::vector<Criterion> fleet_criteria(const config::CutoverCriteria& criteria,
                                      config::Strategy strategy, const FleetTotals& totals);
// "99.95%" of a fraction.
std::string percent(double fraction);

}  // namespace pgdual::cutover
