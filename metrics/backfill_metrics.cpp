#include "metrics/backfill_metrics.hpp"

#include <algorithm>
#include <set>

namespace pgdual::metrics {

namespace {

constexpr std::array<std::string_view, kBackfillStateCount> kStateNames{"pending", "copying",
                                                                        "paused", "done", "failed"};

// Lower is more pressing: the state a table shows when its databases disagree.
int urgency(BackfillState state) {
  switch (state) {
    case BackfillState::failed:
      return 0;
    case BackfillState::paused:
      return 1;
    case BackfillState::copying:
      return 2;
    case BackfillState::pending:
      return 3;
    case BackfillState::done:
      return 4;
  }
  return 5;
}

}  // namespace

std::string_view to_string(BackfillState state) {
  const auto index = static_cast<std::size_t>(state);
  return index < kBackfillStateCount ? kStateNames[index] : std::string_view{"invalid"};
}

std::optional<BackfillState> parse_backfill_state(std::string_view text) {
  for (std::size_t i = 0; i < kBackfillStateCount; ++i) {
    if (kStateNames[i] == text) return static_cast<BackfillState>(i);
  }
  return std::nullopt;
}

double backfill_ratio(const BackfillRow& row) {
  if (parse_backfill_state(row.state) == BackfillState::done) return 1;
  if (!row.estimated_rows || *row.estimated_rows <= 0) return 0;
  const double moved = static_cast<double>(row.rows_copied) + static_cast<double>(row.rows_skipped);
  return std::clamp(moved / static_cast<double>(*row.estimated_rows), 0.0, 1.0);
}

std::int64_t backfill_delta(std::optional<std::int64_t> previous, std::int64_t current) {
  const std::int64_t base = previous.value_or(0);
  return current > base ? current - base : 0;
}

std::map<std::string, BackfillTableView> aggregate_backfill(const std::vector<BackfillRow>& rows) {
  std::map<std::string, BackfillTableView> views;
  std::map<std::string, std::size_t> counts;
  for (const auto& row : rows) {
    auto& view = views[row.table];
    ++counts[row.table];
    view.ratio += backfill_ratio(row);  // a sum until divided below
    view.rows_per_second += row.rows_per_second;
    const auto state = parse_backfill_state(row.state);
    if (state != BackfillState::done && view.rows_remaining >= 0) {
      if (row.estimated_rows && *row.estimated_rows > 0) {
        view.rows_remaining += static_cast<double>(
            std::max<std::int64_t>(0, *row.estimated_rows - row.rows_copied - row.rows_skipped));
      } else {
        view.rows_remaining = -1;  // unknown from now on
      }
    }
    if (state && (!view.state || urgency(*state) < urgency(*view.state))) view.state = state;
  }
  for (auto& [table, view] : views) view.ratio /= static_cast<double>(counts[table]);
  return views;
}

BackfillMetrics::BackfillMetrics(prometheus::Registry& registry)
    : ratio_(prometheus::BuildGauge()
                 .Name("pgdual_backfill_progress_ratio")
                 .Help("Share of a table the backfill job has copied (or found on the new store "
                       "already) against the old table's estimated rows; 1 when done.")
                 .Register(registry)),
      rows_(prometheus::BuildCounter()
                .Name("pgdual_backfill_rows_total")
                .Help("Rows the backfill job copied to the new store, or skipped because live "
                      "writes had put them there, per table, as read from backfill_progress.")
                .Register(registry)),
      state_(prometheus::BuildGauge()
                 .Name("pgdual_backfill_state")
                 .Help("1 for the backfill job's current state of a table (pending, copying, "
                       "paused, done, failed), 0 for the others.")
                 .Register(registry)),
      rows_per_second_(prometheus::BuildGauge()
                           .Name("pgdual_backfill_rows_per_second")
                           .Help("The backfill job's copy rate of a table, as it records it.")
                           .Register(registry)),
      rows_remaining_(prometheus::BuildGauge()
                          .Name("pgdual_backfill_rows_remaining")
                          .Help("Estimated rows of a table the backfill job has not copied yet "
                                "(0 once done; -1 while a database's estimate is unknown).")
                          .Register(registry)) {}

BackfillMetrics::TableSeries& BackfillMetrics::series_for(const std::string& table) {
  auto it = tables_.find(table);
  if (it != tables_.end()) return it->second;
  const std::string label = tables_.size() < kMaxTables ? table : std::string("_other");
  it = tables_.find(label);
  if (it != tables_.end()) return it->second;
  TableSeries& series = tables_[label];
  series.copied = &rows_.Add({{"table", label}, {"result", "copied"}});
  series.skipped = &rows_.Add({{"table", label}, {"result", "skipped"}});
  return series;
}

void BackfillMetrics::show(const std::string& label, TableSeries& series,
                           const BackfillTableView& view) {
  if (!series.ratio) {
    series.ratio = &ratio_.Add({{"table", label}});
    series.rows_per_second = &rows_per_second_.Add({{"table", label}});
    series.rows_remaining = &rows_remaining_.Add({{"table", label}});
    for (std::size_t i = 0; i < kBackfillStateCount; ++i) {
      series.states[i] = &state_.Add({{"table", label}, {"state", std::string(kStateNames[i])}});
    }
  }
  series.ratio->Set(view.ratio);
  series.rows_per_second->Set(view.rows_per_second);
  series.rows_remaining->Set(view.rows_remaining);
  for (std::size_t i = 0; i < kBackfillStateCount; ++i) {
    series.states[i]->Set(view.state && static_cast<std::size_t>(*view.state) == i ? 1 : 0);
  }
}

void BackfillMetrics::hide(TableSeries& series) {
  if (!series.ratio) return;
  ratio_.Remove(series.ratio);
  rows_per_second_.Remove(series.rows_per_second);
  rows_remaining_.Remove(series.rows_remaining);
  series.rows_remaining = nullptr;
  for (auto*& gauge : series.states) {
    state_.Remove(gauge);
    gauge = nullptr;
  }
  series.ratio = nullptr;
  series.rows_per_second = nullptr;
}

void BackfillMetrics::publish(const std::vector<BackfillRow>& rows) {
  std::lock_guard lock(mutex_);
  std::map<std::pair<std::string, std::string>, Baseline> seen;
  for (const auto& row : rows) {
    const auto key = std::make_pair(row.database, row.table);
    if (seen.contains(key)) continue;  // source_table is the primary key: not expected
    const auto previous = baselines_.find(key);
    const bool known = previous != baselines_.end();
    auto& series = series_for(row.table);
    series.copied->Increment(static_cast<double>(backfill_delta(
        known ? std::optional(previous->second.copied) : std::nullopt, row.rows_copied)));
    series.skipped->Increment(static_cast<double>(backfill_delta(
        known ? std::optional(previous->second.skipped) : std::nullopt, row.rows_skipped)));
    seen.emplace(key, Baseline{row.rows_copied, row.rows_skipped});
  }
  // A row gone from the table (or its database) starts afresh if it comes back.
  baselines_ = std::move(seen);

  const auto views = aggregate_backfill(rows);
  std::set<std::string, std::less<>> shown;
  for (const auto& [table, view] : views) {
    if (!tables_.contains(table)) continue;  // counted under "_other": no gauges
    show(table, tables_.find(table)->second, view);
    shown.insert(table);
  }
  for (auto& [label, series] : tables_) {
    if (!shown.contains(label)) hide(series);
  }
}

}  // namespace pgdual::metrics
