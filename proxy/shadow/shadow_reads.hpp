#pragma once
// Shadow reads (docs/shadow-reads.md), the session's hook: in the shadow_read phase a read outside
// a transaction also runs on the secondary, or, in A/A mode, once more on the primary. The client
// gets the primary's reply and never waits for the other run; both replies are captured as they
// pass and compared when both are complete. The other run is bounded by a per-instance
// concurrency budget and a timeout (the session's watchdog then cancels its statement).
//
// The session calls the hook at four named points, and the hook reaches the legs only through
// ShadowLegs, so it runs in a unit test with fake legs (tests/unit/proxy/proxy_shadow_reads_test):
//   on_dispatch          a unit the routing layer found eligible (routing/shadow_eligibility.hpp)
//   on_primary_done      the primary's reply to the unit is complete
//   on_secondary_result  the other run's reply is complete (secondary, or the A/A re-run)
//   on_leg_broken        a leg is gone: its reads are counted as skipped, never compared

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "proxy/shadow/result_capture.hpp"
#include "routing/classify/catalog_facts.hpp"
#include "routing/shadow_eligibility.hpp"

namespace pgdual::proxy::shadow {

using ShadowUnitId = std::uint64_t;
struct ComparisonResult;

// What the hook needs from the session's two legs.
class ShadowLegs {
 public:
  virtual ~ShadowLegs() = default;
  virtual bool secondary_usable() const = 0;
  // A/A: the unit's bytes once more on the primary, right behind the client's unit; the replies
  // are captured and never reach the client.
  virtual void rerun_on_primary(ShadowUnitId unit, std::shared_ptr<ResultCapture> capture) = 0;
  virtual void run_on_secondary(ShadowUnitId unit, std::shared_ptr<ResultCapture> capture) = 0;
};

// Where finished comparisons are reported besides the metrics.
struct ShadowReportContext {
  // The primary's catalog (null until fetched): entity keys and table names of differing rows.
  std::function<const routing::CatalogFacts*()> catalog;
  std::function<void(std::string_view json_line)> log_discrepancy;
  // The client's backend process id, in every discrepancy line (known only after startup).
  std::function<std::string()> backend_pid;
};

class ShadowReads {
 public:
  // in_flight: the instance's budget of shadow reads, shared by its sessions.
  ShadowReads(metrics::Metrics& metrics, std::atomic<std::size_t>& in_flight, ShadowLegs& legs,
              ShadowReportContext report);
  ~ShadowReads();
  ShadowReads(const ShadowReads&) = delete;
  ShadowReads& operator=(const ShadowReads&) = delete;

  // Starts the shadow read of `unit` unless sampling, the budget or an unusable secondary says
  // no (counted as skipped). Returns the capture for the primary's reply, or null.
  std::shared_ptr<ResultCapture> on_dispatch(ShadowUnitId unit, std::string text,
                                             routing::ShadowCandidate candidate,
                                             const config::ShadowReadConfig& settings,
                                             const CompareRules& rules);
  void on_primary_done(ShadowUnitId unit, double seconds);
  void on_secondary_result(ShadowUnitId unit, double seconds);
  // secondary_side_only: the secondary broke; A/A reads and reads the secondary already answered
  // still finish. Otherwise every read in flight is abandoned.
  void on_leg_broken(bool secondary_side_only);

  // The watchdog gave up on the other run of `unit`: its comparison is skipped. False when the
  // unit has no shadow read waiting (finished, or already timed out).
  bool time_out(ShadowUnitId unit);
  bool empty() const { return reads_.empty(); }
  std::size_t size() const { return reads_.size(); }

 private:
  struct Read;
  void on_side_done(ShadowUnitId unit, bool primary_side, double seconds);
  void finish(Read& read);
  void report_differences(const Read& read, const ComparisonResult& result);
  std::vector<std::size_t> key_columns(const ResultCapture& capture) const;

  metrics::Metrics& metrics_;
  std::atomic<std::size_t>& in_flight_;
  ShadowLegs& legs_;
  ShadowReportContext report_;
  std::unordered_map<ShadowUnitId, std::unique_ptr<Read>> reads_;
};

}  // namespace pgdual::proxy::shadow
