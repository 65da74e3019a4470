#include "proxy/shadow/shadow_reads.hpp"

#include <spdlog/spdlog.h>

#include <random>

#include "proxy/shadow/discrepancy_log.hpp"
#include "proxy/shadow/result_compare.hpp"
#include "routing/classify/statement_fingerprint.hpp"

namespace pgdual::proxy::shadow {

namespace {

bool sampled(double rate) {
  if (rate >= 1.0) return true;
  thread_local std::minstd_rand engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine) < rate;
}

metrics::ShadowOutcome to_metric(Outcome outcome) {
  switch (outcome) {
    case Outcome::match:
      return metrics::ShadowOutcome::match;
    case Outcome::mismatch:
      return metrics::ShadowOutcome::mismatch;
    case Outcome::error:
      return metrics::ShadowOutcome::error;
  }
  return metrics::ShadowOutcome::error;
}

}  // namespace

// A shadowed read until both sides have answered. The settings it reports under are the ones it
// started with: a reload since must not mix two sets of rules in one comparison.
struct ShadowReads::Read {
  std::shared_ptr<ResultCapture> primary, secondary;
  routing::ShadowCandidate candidate;
  std::string text;
  bool aa = false;  // the other side is the primary itself
  bool primary_done = false, secondary_done = false, timed_out = false;
  double primary_seconds = 0, secondary_seconds = 0;
  std::size_t match_window = 0;
  bool full_values = false;
};

ShadowReads::ShadowReads(metrics::Metrics& metrics, std::atomic<std::size_t>& in_flight,
                         ShadowLegs& legs, ShadowReportContext report)
    : metrics_(metrics), in_flight_(in_flight), legs_(legs), report_(std::move(report)) {}

ShadowReads::~ShadowReads() {
  // A session that ends with reads in flight gives their budget back.
  if (reads_.empty()) return;
  in_flight_.fetch_sub(reads_.size());
  metrics_.shadow().in_flight().Decrement(static_cast<double>(reads_.size()));
}

std::shared_ptr<ResultCapture> ShadowReads::on_dispatch(ShadowUnitId unit, std::string text,
                                                        routing::ShadowCandidate candidate,
                                                        const config::ShadowReadConfig& settings,
                                                        const CompareRules& rules) {
  if (!sampled(settings.sample_rate)) return nullptr;
  auto& shadow_metrics = metrics_.shadow();
  const bool aa = settings.mode == config::ShadowMode::aa;
  if (!aa && !legs_.secondary_usable()) {
    shadow_metrics.record(candidate.table, metrics::ShadowOutcome::skipped, settings.match_window);
    return nullptr;
  }
  if (in_flight_.fetch_add(1) >= settings.max_concurrent) {
    in_flight_.fetch_sub(1);
    shadow_metrics.record(candidate.table, metrics::ShadowOutcome::skipped, settings.match_window);
    return nullptr;
  }
  shadow_metrics.in_flight().Increment();

  auto read = std::make_unique<Read>();
  read->primary = std::make_shared<ResultCapture>(rules);
  read->secondary = std::make_shared<ResultCapture>(rules);
  read->candidate = std::move(candidate);
  read->text = std::move(text);
  read->aa = aa;
  read->match_window = settings.match_window;
  read->full_values = settings.log_values == config::LogValues::full;
  if (aa) {
    legs_.rerun_on_primary(unit, read->secondary);
  } else {
    legs_.run_on_secondary(unit, read->secondary);
  }
  metrics_.routing_decisions(metrics::RoutingDecision::shadow).Increment();
  auto primary = read->primary;
  reads_.emplace(unit, std::move(read));
  return primary;
}

void ShadowReads::on_primary_done(ShadowUnitId unit, double seconds) {
  on_side_done(unit, true, seconds);
}

void ShadowReads::on_secondary_result(ShadowUnitId unit, double seconds) {
  on_side_done(unit, false, seconds);
}

void ShadowReads::on_side_done(ShadowUnitId unit, bool primary_side, double seconds) {
  auto it = reads_.find(unit);
  if (it == reads_.end()) return;
  auto& read = *it->second;
  if (primary_side) {
    read.primary_done = true;
    read.primary_seconds = seconds;
  } else {
    read.secondary_done = true;
    read.secondary_seconds = seconds;
  }
  if (!read.primary_done || !read.secondary_done) return;
  finish(read);
  reads_.erase(it);
}

void ShadowReads::on_leg_broken(bool secondary_side_only) {
  for (auto it = reads_.begin(); it != reads_.end();) {
    auto& read = *it->second;
    if (secondary_side_only && (read.aa || read.secondary_done)) {
      ++it;
      continue;
    }
    read.timed_out = true;  // counted as skipped
    finish(read);
    it = reads_.erase(it);
  }
}

bool ShadowReads::time_out(ShadowUnitId unit) {
  auto it = reads_.find(unit);
  if (it == reads_.end() || it->second->timed_out) return false;
  it->second->timed_out = true;
  return true;
}

std::vector<std::size_t> ShadowReads::key_columns(const ResultCapture& capture) const {
  // The entity id of a differing row: the primary key of a table whose key columns all appear in
  // the result (RowDescription names each column's table and attribute number).
  const routing::CatalogFacts* catalog = report_.catalog ? report_.catalog() : nullptr;
  if (!catalog || capture.result_sets().empty()) return {};
  const auto& columns = capture.result_sets().front().columns;
  for (const auto& candidate : columns) {
    if (candidate.table_oid == 0) continue;
    auto key = catalog->primary_keys.find(static_cast<std::uint32_t>(candidate.table_oid));
    if (key == catalog->primary_keys.end()) continue;
    std::vector<std::size_t> indexes;
    for (int attnum : key->second) {
      for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].table_oid == candidate.table_oid && columns[i].attnum == attnum) {
          indexes.push_back(i);
          break;
        }
      }
    }
    if (!indexes.empty() && indexes.size() == key->second.size()) return indexes;
  }
  return {};
}

void ShadowReads::finish(Read& read) {
  auto& shadow_metrics = metrics_.shadow();
  in_flight_.fetch_sub(1);
  shadow_metrics.in_flight().Decrement();
  const std::string& table = read.candidate.table;
  if (read.timed_out) {
    shadow_metrics.record(table, metrics::ShadowOutcome::skipped, read.match_window);
    return;
  }
  shadow_metrics.primary_duration().Observe(read.primary_seconds);
  shadow_metrics.secondary_duration().Observe(read.secondary_seconds);
  const auto& rules = read.primary->rules();
  const auto result = compare_results(*read.primary, *read.secondary, rules, read.candidate.ordered,
                                      key_columns(*read.primary));
  shadow_metrics.record(table, to_metric(result.outcome), read.match_window);
  if (result.outcome != Outcome::match) report_differences(read, result);
}

void ShadowReads::report_differences(const Read& read, const ComparisonResult& result) {
  auto& shadow_metrics = metrics_.shadow();
  const routing::CatalogFacts* catalog = report_.catalog ? report_.catalog() : nullptr;
  for (const auto& column : result.column_differences) {
    std::string table = read.candidate.table;
    if (catalog && column.table_oid != 0) {
      auto name = catalog->relation_names.find(static_cast<std::uint32_t>(column.table_oid));
      if (name != catalog->relation_names.end()) table = name->second;
    }
    shadow_metrics.count_field_mismatches(table, column.column, static_cast<double>(column.count));
  }
  const auto identity = routing::identify_statement(read.text);
  DiscrepancyContext context{identity.fingerprint, identity.normalized, read.candidate.table,
                             report_.backend_pid ? report_.backend_pid() : std::string()};
  if (report_.log_discrepancy) {
    for (const auto& difference : result.differences) {
      report_.log_discrepancy(discrepancy_json(difference, context, read.full_values));
    }
  }
  if (result.differing_rows > result.differences.size()) {
    spdlog::info(
        "shadow read of {} differs in {}{} rows; {} logged (migration.shadow_read."
        "max_detail_rows)",
        read.candidate.table, result.differing_rows_exact ? "" : "at least ", result.differing_rows,
        result.differences.size());
  }
}

}  // namespace pgdual::proxy::shadow
