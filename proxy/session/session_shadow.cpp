// Shadow reads (docs/shadow-reads.md), the session's side: the hook
// (proxy/shadow/shadow_reads.hpp) decides, captures and compares; the session
// gives it the legs and runs the watchdog that cancels a slow other run.

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/net/cancel_sender.hpp"
#include "proxy/net/use_tuple.hpp"
#include "proxy/server/logging.hpp"
#include "proxy/session/client_session.hpp"
#include "routing/shadow_eligibility.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {

constexpr auto kCancelConfirmTimeout = std::chrono::milliseconds(2000);

}  // namespace

std::unique_ptr<shadow::ShadowReads> ClientSession::make_shadow_reads() {
  shadow::ShadowReportContext report;
  report.catalog = [this] { return catalog_.get(); };
  report.log_discrepancy = [](std::string_view line) { log_discrepancy(line); };
  report.backend_pid = [this] { return std::to_string(cancel_key_ ? cancel_key_->process_id : 0); };
  return std::make_unique<shadow::ShadowReads>(
      runtime_.metrics(), runtime_.shadow_reads_in_flight(), shadow_legs_, std::move(report));
}

void ClientSession::ShadowLegView::rerun_on_primary(
    UnitId unit, std::shared_ptr<shadow::ResultCapture> capture) {
  PrimaryUnit rerun;
  rerun.id = session_.next_unit_++;
  rerun.sent = Clock::now();
  rerun.origin = UnitOrigin::shadow_rerun;
  rerun.capture = std::move(capture);
  rerun.shadow_of = unit;
  session_.primary_leg_.append(std::move(rerun));
  session_.primary_out_.append(session_.shadow_aa_bytes_);
}

void ClientSession::ShadowLegView::run_on_secondary(
    UnitId unit, std::shared_ptr<shadow::ResultCapture> capture) {
  session_.secondary_->enqueue_shadow(unit, session_.secondary_unit_bytes_, std::move(capture));
}

void ClientSession::start_shadow(PrimaryUnit& unit, const routing::UnitFacts& facts) {
  auto candidate = routing::shadow_candidate(facts, unit.decision, predicted_status_,
                                             config_->config.migration, phase_, name_context());
  if (!candidate) return;
  if (unit_mapping_unreadable_) {
    // The new store's view cannot give back a column the read asks for (migration.mapping
    // drops it): comparing would report a difference that is the mapping's, not drift.
    runtime_.metrics().rewrite().count_untranslatable(unit_mapping_table_, "skipped");
    runtime_.metrics().shadow().record(unit_mapping_table_, metrics::ShadowOutcome::skipped,
                                       config_->config.migration.shadow_read.match_window);
    return;
  }
  const bool was_idle = shadow_reads_->empty();
  unit.capture =
      shadow_reads_->on_dispatch(unit.id, unit.text, std::move(*candidate),
                                 config_->config.migration.shadow_read, config_->compare_rules);
  if (was_idle && !shadow_reads_->empty() && shadow_timer_) {
    shadow_timer_->cancel();  // the watchdog starts watching
  }
}

asio::awaitable<void> ClientSession::shadow_watchdog() {
  for (;;) {
    const auto timeout = config_->config.migration.shadow_read.timeout;
    if (shadow_reads_->empty()) {
      shadow_timer_->expires_at(asio::steady_timer::time_point::max());
    } else {
      shadow_timer_->expires_after(std::max(std::chrono::milliseconds(10), timeout / 4));
    }
    co_await shadow_timer_->async_wait(use_tuple);
    if (!secondary_usable()) continue;
    const auto in_flight = secondary_->shadow_in_flight();
    if (!in_flight || Clock::now() - in_flight->second < timeout) continue;
    // Over its time: cancel the statement on the secondary. Nothing is sent
    // behind it until the server has taken the cancel (see SecondaryLeg).
    if (!shadow_reads_->time_out(in_flight->first)) continue;
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
