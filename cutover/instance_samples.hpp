#pragma once
// The fleet's measurements for the cutover gate (docs/cutover.md, "The gate"). Every pgdual
// instance appends a sample of its cumulative counters every few seconds to
// <journal schema>.instance_samples on the old store (cutover/stats_publisher.hpp), so that the
// gate judges the whole fleet, not the one pod `pgdual cutover check` happens to ask. Counters
// are cumulative since the instance started: the gate takes, per live instance, the newest
// sample minus the newest one older than the window (zero when the instance started inside
// it, the newest sample alone when the counters went backwards: a restart).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::cutover {

struct InstanceCounters {
  std::uint64_t shadow_compared = 0;  // shadow reads compared (match + mismatch)
  std::uint64_t shadow_matched = 0;
  std::uint64_t secondary_writes_ok = 0;  // writes the new store took (dual-write phases)
  std::uint64_t secondary_writes_failed = 0;
  std::vector<std::uint64_t> client_latency;   // metrics::WriteLatency buckets
  std::vector<std::uint64_t> primary_latency;  // the same writes on the primary alone
};

struct InstanceSample {
  std::string instance;
  double age_seconds = 0;           // how long ago it was taken, by the old store's clock
  std::string phase;                // the instance's migration.phase then
  std::int64_t journal_depth = -1;  // transactions in its journal; -1: unknown or no journal
  bool stopped = false;             // the instance's last sample before a clean stop
  InstanceCounters counters;
};

// The fleet over the window: the counters' growth summed over the live instances.
struct FleetTotals {
  InstanceCounters counters;
  std::vector<std::string> live;  // instances with a fresh sample, not stopped
  // Every instance's newest sample read (live, stale or stopped), without its counters.
  std::vector<InstanceSample> newest;
  std::int64_t journal_depth = 0;   // the largest newest depth among them
  bool journal_depth_known = true;  // false when a live instance did not know its depth
};

// ---- SQL (pure; the schema is the journal's) ----
std::string samples_ddl(std::string_view schema);
// $1 instance, $2 phase, $3 journal_depth, $4 stopped, $5..$8 counters, $9 $10 bigint[] text.
std::string insert_sample_sql(std::string_view schema);
// $1 seconds to keep.
std::string prune_samples_sql(std::string_view schema);
// Every sample of the last $1 seconds, oldest first per instance, with its age.
std::string read_samples_sql(std::string_view schema);

// "{1,2,3}" and back.
std::string bigint_array(const std::vector<std::uint64_t>& values);
std::vector<std::uint64_t> parse_bigint_array(std::string_view text);

// ---- the arithmetic (pure; unit-tested) ----
// `samples` ordered by instance, then oldest first. An instance is live when its newest sample
// is at most `fresh_seconds` old and not a stop.
FleetTotals fleet_totals(const std::vector<InstanceSample>& samples, double window_seconds,
                         double fresh_seconds);

}  // namespace pgdual::cutover
