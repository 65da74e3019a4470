#pragma once
// Metrics of the backfill job (`pgdual backfill`, docs/backfill.md) as every pgdual instance
// exports them. The job records its progress per table in <schema>.backfill_progress on the new
// store; the proxy's backfill watch (journal/backfill_watch.hpp) reads that table in every
// database it knows every few seconds and hands each complete read to publish():
//
//   pgdual_backfill_progress_ratio{table}      (rows_copied + rows_skipped) / estimated_rows
//   pgdual_backfill_rows_total{table,result}   rows copied or skipped, moved by each read's delta
//   pgdual_backfill_rows_remaining{table}      estimated rows not copied yet; -1 when unknown
//   pgdual_backfill_state{table,state}         1 for the table's state, 0 for the other four
//   pgdual_backfill_rows_per_second{table}     the job's own rate for the table
//
// `table` is the row's source_table ("schema.table" on the old store, a partition leaf for a
// partitioned table). Rows of the same source_table in several databases make one series
// (aggregate_backfill says how). At most kMaxTables table labels: the rows of further tables
// count under table="_other", and their gauges are not exported.
//
// The arithmetic is in free functions (backfill_ratio, backfill_delta, aggregate_backfill) so it
// is tested without a registry or a database.
//
// Thread safety: every member may be called from any thread.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgdual::metrics {

// backfill_progress.state; the order is the label order of pgdual_backfill_state.
enum class BackfillState : std::uint8_t { pending, copying, paused, done, failed };
inline constexpr std::size_t kBackfillStateCount = 5;
std::string_view to_string(BackfillState state);
// nullopt for a value this version does not know (all five state series of the table show 0).
std::optional<BackfillState> parse_backfill_state(std::string_view text);

// One row of <schema>.backfill_progress as the watch read it.
struct BackfillRow {
  std::string database;  // where it was read: the counters' baselines are per database and table
  std::string table;     // source_table
  std::string state;
  std::int64_t rows_copied = 0;
  std::int64_t rows_skipped = 0;
  std::optional<std::int64_t> estimated_rows;  // NULL in the table
  double rows_per_second = 0;                  // 0 when NULL
};

// (rows_copied + rows_skipped) / estimated_rows, clamped to [0, 1]; exactly 1 when the state is
// done; 0 when the estimate is unknown (NULL, 0, or reltuples' -1 of a table never analysed) and
// the table is not done.
double backfill_ratio(const BackfillRow& row);

// How far a counter moves when a value last read as `previous` (nullopt: not read before) is now
// `current`: the growth; all of it on a first read (a fresh pgdual shows the job's totals); 0
// when it went down (a restarted backfill: the lower value becomes the baseline, and the counter
// never decreases).
std::int64_t backfill_delta(std::optional<std::int64_t> previous, std::int64_t current);

// What the gauges of one table label show.
struct BackfillTableView {
  double ratio = 0;
  std::optional<BackfillState> state;  // nullopt: no row of the table has a known state
  double rows_per_second = 0;
  // estimated_rows - (rows_copied + rows_skipped), at least 0, summed over the databases; 0 for
  // a done row; -1 when a row not done has no estimate (the status page's ETA reads it).
  double rows_remaining = 0;
};
// One view per source_table. The same source_table in several databases: the mean of their
// ratios, the sum of their rates, and the state that most needs attention (failed, paused,
// copying, pending, done, in that order).
std::map<std::string, BackfillTableView> aggregate_backfill(const std::vector<BackfillRow>& rows);

class BackfillMetrics {
 public:
  static constexpr std::size_t kMaxTables = 1000;

  explicit BackfillMetrics(prometheus::Registry& registry);

  // One complete read of every database: sets the gauges of each table in `rows`, removes the
  // gauges of tables no longer there (their counters stay), and counts the rows copied and
  // skipped since the previous read of the same database and table.
  void publish(const std::vector<BackfillRow>& rows);

 private:
  struct TableSeries {
    prometheus::Counter* copied = nullptr;
    prometheus::Counter* skipped = nullptr;
    // Null while the table is absent from the last read (and always for "_other").
    prometheus::Gauge* ratio = nullptr;
    prometheus::Gauge* rows_per_second = nullptr;
    prometheus::Gauge* rows_remaining = nullptr;
    std::array<prometheus::Gauge*, kBackfillStateCount> states{};
  };
  struct Baseline {
    std::int64_t copied = 0;
    std::int64_t skipped = 0;
  };

  // The table's series, or "_other"'s once kMaxTables labels are taken.
  TableSeries& series_for(const std::string& table);
  void show(const std::string& label, TableSeries& series, const BackfillTableView& view);
  void hide(TableSeries& series);

  prometheus::Family<prometheus::Gauge>& ratio_;
  prometheus::Family<prometheus::Counter>& rows_;
  prometheus::Family<prometheus::Gauge>& state_;
  prometheus::Family<prometheus::Gauge>& rows_per_second_;
  prometheus::Family<prometheus::Gauge>& rows_remaining_;

  std::mutex mutex_;
  std::map<std::string, TableSeries, std::less<>> tables_;  // by label, at most kMaxTables + 1
  std::map<std::pair<std::string, std::string>, Baseline> baselines_;  // by (database, table)
};

}  // namespace pgdual::metrics
