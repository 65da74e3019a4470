// Tests of the cutover gate's pure parts: the fleet's totals from instance samples (baseline
// before the window, restarts, stopped and stale instances), the fine latency buckets and their
// p99, and the fleet-wide criteria (measured, not measured, failing).

#include <catch2/catch.hpp>

#include "cutover/gate.hpp"
#include "cutover/instance_samples.hpp"
#include "metrics/cutover_metrics.hpp"

using namespace pgdual;
using cutover::InstanceSample;
using metrics::WriteLatency;

namespace {

InstanceSample sample(const std::string& instance, double age, std::uint64_t compared,
                      std::uint64_t matched, std::uint64_t writes_ok = 0) {
  InstanceSample s;
  s.instance = instance;
  s.age_seconds = age;
  s.journal_depth = 0;
  s.counters.shadow_compared = compared;
  s.counters.shadow_matched = matched;
  s.counters.secondary_writes_ok = writes_ok;
  return s;
}

}  // namespace

TEST_CASE("fleet totals: growth since the newest sample before the window, per live instance") {
  // a: 400 s ago (before a 300 s window) 100 compared, now 1100: 1000 in the window.
  // b: started inside the window: all of its 50 count.
  const std::vector<InstanceSample> samples = {
      sample("a", 400, 100, 100), sample("a", 350, 300, 299), sample("a", 1, 1100, 1090),
      sample("b", 100, 20, 20),   sample("b", 2, 50, 49),
  };
  const auto totals = cutover::fleet_totals(samples, 300, 7);
  CHECK(totals.live == std::vector<std::string>{"a", "b"});
  CHECK(totals.counters.shadow_compared == 800 + 50);
  CHECK(totals.counters.shadow_matched == 791 + 49);
}

TEST_CASE("fleet totals: a restart, a stopped instance and a silent one") {
  auto stopped = sample("c", 1, 900, 0);
  stopped.stopped = true;
  const std::vector<InstanceSample> samples = {
      sample("a", 400, 5000, 5000), sample("a", 1, 30, 30),   // restarted: counters went back
      sample("b", 400, 0, 0),       sample("b", 60, 500, 0),  // no sample for a minute: gone
      sample("c", 400, 0, 0),       stopped,
  };
  const auto totals = cutover::fleet_totals(samples, 300, 7);
  CHECK(totals.live == std::vector<std::string>{"a"});
  CHECK(totals.counters.shadow_compared == 30);
  // Every instance's newest sample, live or not, for the status page's fleet (no counters).
  REQUIRE(totals.newest.size() == 3);
  CHECK(totals.newest[0].instance == "a");
  CHECK(totals.newest[0].age_seconds == 1);
  CHECK(totals.newest[0].counters.shadow_compared == 0);
  CHECK(totals.newest[1].instance == "b");
  CHECK(totals.newest[1].age_seconds == 60);
  CHECK(totals.newest[2].instance == "c");
  CHECK(totals.newest[2].stopped);
}

TEST_CASE("fleet totals: the deepest journal, and an unknown depth") {
  auto a = sample("a", 1, 0, 0);
  a.journal_depth = 3;
  auto b = sample("b", 1, 0, 0);
  b.journal_depth = 7;
  CHECK(cutover::fleet_totals({a, b}, 300, 7).journal_depth == 7);
  b.journal_depth = -1;
  CHECK_FALSE(cutover::fleet_totals({a, b}, 300, 7).journal_depth_known);
}

TEST_CASE("bigint arrays round-trip through their text form") {
  const std::vector<std::uint64_t> values{0, 7, 18446744073709551615ULL};
  CHECK(cutover::bigint_array(values) == "{0,7,18446744073709551615}");
  CHECK(cutover::parse_bigint_array("{0,7,18446744073709551615}") == values);
  CHECK(cutover::parse_bigint_array("{}").empty());
}

TEST_CASE("latency buckets are 10 % wide and the p99 is the bucket's upper bound") {
  CHECK(WriteLatency::bucket_of(0) == 0);
  CHECK(WriteLatency::bucket_of(0.00001) == 0);
  CHECK(WriteLatency::upper_bound(WriteLatency::bucket_of(0.001)) >= 0.001);
  CHECK(WriteLatency::upper_bound(WriteLatency::bucket_of(0.001)) < 0.0011);
  CHECK(WriteLatency::bucket_of(1e9) == WriteLatency::kBuckets - 1);

  WriteLatency latency;
  for (int i = 0; i < 99; ++i) latency.record(0.001, 0.001);
  latency.record(0.050, 0.002);
  const auto p99_client = metrics::bucket_quantile(latency.client_counts(), 0.99);
  const auto p100_client = metrics::bucket_quantile(latency.client_counts(), 1.0);
  REQUIRE(p99_client);
  CHECK(*p99_client == Approx(WriteLatency::upper_bound(WriteLatency::bucket_of(0.001))));
  CHECK(*p100_client > 0.049);
  CHECK_FALSE(metrics::bucket_quantile(std::vector<std::uint64_t>(10, 0), 0.99));
}

TEST_CASE("fleet criteria: measured, not measured and failing") {
  config::CutoverCriteria criteria;
  criteria.min_comparisons = 100;
  criteria.min_writes = 100;
  cutover::FleetTotals totals;
  totals.live = {"a"};
  totals.counters.client_latency.assign(WriteLatency::kBuckets, 0);
  totals.counters.primary_latency.assign(WriteLatency::kBuckets, 0);

  SECTION("too few comparisons and writes: not measured, failing") {
    totals.counters.shadow_compared = 99;
    totals.counters.shadow_matched = 99;
    const auto out = cutover::fleet_criteria(criteria, config::Strategy::sync, totals);
    REQUIRE(out.size() == 4);
    CHECK_FALSE(out[0].ok);
    CHECK(out[0].measured.rfind("not measured: 99 compared reads", 0) == 0);
    CHECK_FALSE(out[1].ok);
    CHECK_FALSE(out[2].ok);
    CHECK(out[3].ok);  // the journal: 0 waiting
    // Under cdc pgdual does not write the new store: no write rate to measure.
    const auto cdc = cutover::fleet_criteria(criteria, config::Strategy::cdc, totals);
    CHECK(cdc[1].ok);
    CHECK(cdc[1].measured.rfind("not applicable", 0) == 0);
  }
  SECTION("every criterion met") {
    totals.counters.shadow_compared = 10000;
    totals.counters.shadow_matched = 9995;  // 99.95 %
    totals.counters.secondary_writes_ok = 20000;
    totals.counters.secondary_writes_failed = 1;
    totals.counters.client_latency[WriteLatency::bucket_of(0.0011)] = 200;
    totals.counters.primary_latency[WriteLatency::bucket_of(0.001)] = 200;
    const auto out = cutover::fleet_criteria(criteria, config::Strategy::sync, totals);
    for (const auto& c : out) {
      INFO(c.name << ": " << c.measured);
      CHECK(c.ok);
    }
    CHECK(out[0].measured == "99.95% (9995 of 10000)");
  }
  SECTION("a match rate under 99.9 % and a p99 30 % slower fail") {
    totals.counters.shadow_compared = 1000;
    totals.counters.shadow_matched = 998;
    totals.counters.client_latency[WriteLatency::bucket_of(0.0013)] = 200;
    totals.counters.primary_latency[WriteLatency::bucket_of(0.001)] = 200;
    const auto out = cutover::fleet_criteria(criteria, config::Strategy::sync, totals);
    CHECK_FALSE(out[0].ok);
    CHECK(out[0].measured == "99.8% (998 of 1000)");
    CHECK_FALSE(out[2].ok);
    CHECK(out[2].measured.find("ms as clients saw it") != std::string::npos);
  }
}
