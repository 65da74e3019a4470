// Shadow reads (docs/shadow-reads.md): in the shadow_read phase a read
// outside a transaction also runs on the secondary, or, in A/A mode, once
// more on the primary. The client gets the primary's reply and never waits
// for the other run; both replies are captured as they pass and compared
// when both are complete. The other run is bounded by a per-instance
// concurrency budget and a timeout (then its statement is cancelled).

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "proxy/net/cancel_sender.hpp"
#include "proxy/net/use_tuple.hpp"
#include "proxy/server/logging.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/shadow/discrepancy_log.hpp"
#include "proxy/shadow/result_compare.hpp"
#include "routing/classify/statement_fingerprint.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {

constexpr auto kCancelConfirmTimeout = std::chrono::milliseconds(2000);

bool sampled(double rate) {
  if (rate >= 1.0) return true;
  thread_local std::minstd_rand engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine) < rate;
}

ShadowOutcome to_metric(shadow::Outcome outcome) {
  switch (outcome) {
    case shadow::Outcome::match:
      return ShadowOutcome::match;
    case shadow::Outcome::mismatch:
      return ShadowOutcome::mismatch;
    case shadow::Outcome::error:
      return ShadowOutcome::error;
  }
  return ShadowOutcome::error;
}

}  // namespace

bool ClientSession::shadow_eligible(const routing::UnitFacts& facts,
                                    const routing::MirrorDecision& decision, std::string& table) {
  // Only reads outside a transaction: inside one, the secondary could not
  // see the same snapshot (nor the transaction's own uncommitted writes).
  if (decision.mode != routing::MirrorMode::none || predicted_status_ != protocol::TxnStatus::idle)
    return false;
  if (facts.parse_failed || facts.has_function_call || facts.changes_statement_state ||
      facts.statements.empty()) {
    return false;
  }
  const auto& migration = config_->config.migration;
  const auto names = name_context();
  const auto& ignored = migration.shadow_read.ignore_tables;
  bool any_table = false;
  for (const auto* statement : facts.statements) {
    if (statement->kind != routing::StatementKind::read) return false;
    for (const auto& name : statement->tables) {
      const std::string qualified = routing::qualified_table(name, names);
      // A table is shadowed only in the shadow_read phase (its own, else the session's).
      auto it = migration.tables.find(qualified);
      if ((it == migration.tables.end() ? phase_ : it->second) != config::Phase::shadow_read) {
        return false;
      }
      if (std::find(ignored.begin(), ignored.end(), qualified) != ignored.end()) return false;
      if (!any_table) table = qualified;
      any_table = true;
    }
  }
  if (!any_table) {
    if (phase_ != config::Phase::shadow_read) return false;
    table = "(none)";
  }
  return true;
}

void ClientSession::start_shadow(PrimaryUnit& unit, const routing::UnitFacts& facts) {
  std::string table;
  if (!shadow_eligible(facts, unit.decision, table)) return;
  const auto& settings = config_->config.migration.shadow_read;
  if (!sampled(settings.sample_rate)) return;
  auto& metrics = runtime_.metrics().shadow();
  const bool aa = settings.mode == config::ShadowMode::aa;
  if (!aa && !secondary_usable()) {
    metrics.record(table, ShadowOutcome::skipped, settings.match_window);
    return;
  }
  auto& in_flight = runtime_.shadow_reads_in_flight();
  if (in_flight.fetch_add(1) >= settings.max_concurrent) {
    in_flight.fetch_sub(1);
    metrics.record(table, ShadowOutcome::skipped, settings.match_window);
    return;
  }
  metrics.in_flight().Increment();

  ShadowRead read;
  read.primary = std::make_shared<shadow::ResultCapture>(config_->compare_rules);
  read.secondary = std::make_shared<shadow::ResultCapture>(config_->compare_rules);
  read.table = std::move(table);
  read.text = unit.text;
  read.aa = aa;
  read.ordered = std::all_of(facts.statements.begin(), facts.statements.end(),
                             [](const auto* statement) { return statement->has_order_by; });
  unit.capture = read.primary;
  if (aa) {
    // The same bytes once more on the primary, right behind the client's
    // unit; the replies are captured and never reach the client.
    PrimaryUnit rerun;
    rerun.id = next_unit_++;
    rerun.sent = Clock::now();
    rerun.origin = UnitOrigin::shadow_rerun;
    rerun.capture = read.secondary;
    rerun.shadow_of = unit.id;
    primary_leg_.append(std::move(rerun));
    primary_out_.append(shadow_aa_bytes_);
  } else {
    secondary_->enqueue_shadow(unit.id, secondary_unit_bytes_, read.secondary);
  }
  runtime_.metrics().routing_decisions(RoutingDecision::shadow).Increment();
  const bool was_idle = shadows_.empty();
  shadows_.emplace(unit.id, std::move(read));
  if (was_idle && shadow_timer_) shadow_timer_->cancel();  // the watchdog starts watching
}

void ClientSession::on_shadow_side_done(UnitId id, bool primary_side, double seconds) {
  auto it = shadows_.find(id);
  if (it == shadows_.end()) return;
  auto& read = it->second;
  if (primary_side) {
    read.primary_done = true;
    read.primary_seconds = seconds;
  } else {
    read.secondary_done = true;
    read.secondary_seconds = seconds;
  }
  if (!read.primary_done || !read.secondary_done) return;
  finish_shadow(read);
  shadows_.erase(it);
}

std::vector<std::size_t> ClientSession::shadow_key_columns(
    const shadow::ResultCapture& capture) const {
  // The entity id of a differing row: the primary key of a table whose key
  // columns all appear in the result (RowDescription names each column's
  // table and attribute number).
  if (!catalog_ || capture.result_sets().empty()) return {};
  const auto& columns = capture.result_sets().front().columns;
  for (const auto& candidate : columns) {
    if (candidate.table_oid == 0) continue;
    auto key = catalog_->primary_keys.find(static_cast<std::uint32_t>(candidate.table_oid));
    if (key == catalog_->primary_keys.end()) continue;
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

void ClientSession::finish_shadow(ShadowRead& read) {
  auto& metrics = runtime_.metrics().shadow();
  const auto& settings = config_->config.migration.shadow_read;
  runtime_.shadow_reads_in_flight().fetch_sub(1);
  metrics.in_flight().Decrement();
  if (read.timed_out) {
    metrics.record(read.table, ShadowOutcome::skipped, settings.match_window);
    return;
  }
  metrics.primary_duration().Observe(read.primary_seconds);
  metrics.secondary_duration().Observe(read.secondary_seconds);
  // The captures' own rules: a reload since the read started must not mix two sets of rules.
  const auto& rules = read.primary->rules();
  const auto result = shadow::compare_results(*read.primary, *read.secondary, rules, read.ordered,
                                              shadow_key_columns(*read.primary));
  metrics.record(read.table, to_metric(result.outcome), settings.match_window);
  if (result.outcome == shadow::Outcome::match) return;

  for (const auto& column : result.column_differences) {
    std::string table = read.table;
    if (catalog_ && column.table_oid != 0) {
      auto name = catalog_->relation_names.find(static_cast<std::uint32_t>(column.table_oid));
      if (name != catalog_->relation_names.end()) table = name->second;
    }
    metrics.count_field_mismatches(table, column.column, static_cast<double>(column.count));
  }
  const auto identity = routing::identify_statement(read.text);
  shadow::DiscrepancyContext context{identity.fingerprint, identity.normalized, read.table,
                                     std::to_string(cancel_key_ ? cancel_key_->process_id : 0)};
  const bool full = settings.log_values == config::LogValues::full;
  for (const auto& difference : result.differences) {
    log_discrepancy(shadow::discrepancy_json(difference, context, full));
  }
  if (result.differing_rows > result.differences.size()) {
    spdlog::info(
        "shadow read of {} differs in {}{} rows; {} logged (migration.shadow_read."
        "max_detail_rows)",
        read.table, result.differing_rows_exact ? "" : "at least ", result.differing_rows,
        result.differences.size());
  }
}

void ClientSession::abandon_shadows(bool secondary_side_only) {
  for (auto it = shadows_.begin(); it != shadows_.end();) {
    if (secondary_side_only && (it->second.aa || it->second.secondary_done)) {
      ++it;
      continue;
    }
    it->second.timed_out = true;  // counted as skipped
    finish_shadow(it->second);
    it = shadows_.erase(it);
  }
}

asio::awaitable<void> ClientSession::shadow_watchdog() {
  for (;;) {
    const auto timeout = config_->config.migration.shadow_read.timeout;
    if (shadows_.empty()) {
      shadow_timer_->expires_at(asio::steady_timer::time_point::max());
    } else {
      shadow_timer_->expires_after(std::max(std::chrono::milliseconds(10), timeout / 4));
    }
    co_await shadow_timer_->async_wait(use_tuple);
    if (!secondary_usable()) continue;
    const auto in_flight = secondary_->shadow_in_flight();
    if (!in_flight || Clock::now() - in_flight->second < timeout) continue;
    auto it = shadows_.find(in_flight->first);
    if (it == shadows_.end() || it->second.timed_out) continue;
    // Over its time: cancel the statement on the secondary. Nothing is sent
    // behind it until the server has taken the cancel (see SecondaryLeg).
    it->second.timed_out = true;
    shadow_cancelling_ = true;
    secondary_->hold_for_cancel(true);
    auto& connection = secondary_->connection();
    const CancelTarget target{connection.config().host, connection.config().port,
                              connection.process_id(), connection.secret_key()};
    const auto delivery = co_await send_cancel_request(target, kCancelConfirmTimeout);
    shadow_cancelling_ = false;
    if (!secondary_) co_return;
    if (delivery == CancelDelivery::unconfirmed) {
      secondary_->mark_broken("the cancel of a slow shadow read could not be confirmed");
      on_secondary_broken();
    }
    secondary_->hold_for_cancel(false);
    co_await secondary_->flush();
  }
}

}  // namespace pgdual::proxy
