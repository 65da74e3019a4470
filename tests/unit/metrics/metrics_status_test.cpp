// The status watch's metrics and the registry's read-only view (metrics/status_metrics.hpp,
// metrics/metric_view.hpp).

#include <catch2/catch.hpp>

#include "metrics/metrics.hpp"

using namespace pgdual::metrics;

TEST_CASE("status metrics replace their series at every look", "[metrics]") {
  Metrics metrics;
  metrics.status().set_cutover(false, {{"backfill", "orders", false}, {"journal", "", true}});
  metrics.status().set_instances({{"a:1", "dual_write", 1.5}, {"b:2", "prepare", 0.5}});
  auto view = metrics.view();
  CHECK(view.value("pgdual_cutover_ready") == 0);
  CHECK(view.value("pgdual_cutover_criterion_ok", {{"criterion", "backfill"}}) == 0);
  CHECK(view.value("pgdual_cutover_criterion_ok", {{"criterion", "journal"}, {"database", ""}}) ==
        1);
  CHECK(view.label_values("pgdual_fleet_instance_heartbeat_age_seconds", "instance_id") ==
        std::vector<std::string>{"a:1", "b:2"});

  // The next look: a criterion and an instance gone, the verdict changed.
  metrics.status().set_cutover(true, {{"journal", "", true}});
  metrics.status().set_instances({{"a:1", "cutover", 0.2}});
  view = metrics.view();
  CHECK(view.value("pgdual_cutover_ready") == 1);
  CHECK(view.series("pgdual_cutover_criterion_ok").size() == 1);
  CHECK_FALSE(view.value("pgdual_cutover_criterion_ok", {{"criterion", "backfill"}}));
  CHECK(view.value("pgdual_fleet_instance_heartbeat_age_seconds", {{"phase", "cutover"}}) == 0.2);
  CHECK(view.series("pgdual_fleet_instance_heartbeat_age_seconds").size() == 1);

  metrics.status().set_admin_paused(true);
  CHECK(metrics.view().value("pgdual_admin_paused") == 1);
  CHECK(metrics.serialize().find("pgdual_admin_paused 1") != std::string::npos);
}

TEST_CASE("the metric view sums, matches and lists labels, histograms count", "[metrics]") {
  Metrics metrics;
  metrics.count_drift_risk("public.a", "commit_in_query");
  metrics.count_drift_risk("public.a", "commit_in_query");
  metrics.count_drift_risk("public.b", "no_journal");
  const auto view = metrics.view();
  CHECK(view.sum("pgdual_drift_risk_total") == 3);
  CHECK(view.sum("pgdual_drift_risk_total", {{"table", "public.a"}}) == 2);
  CHECK(view.sum("pgdual_drift_risk_total", {{"table", "public.c"}}) == 0);
  CHECK(view.label_values("pgdual_drift_risk_total", "table") ==
        std::vector<std::string>{"public.a", "public.b"});
  CHECK(view.series("no_such_family").empty());
  CHECK(view.value("pgdual_build_info"));

  metrics.cutover().record_write(0.002, 0.001);
  const auto after = metrics.view();
  CHECK(after.sum("pgdual_client_write_duration_seconds") == 1);  // the sample count
  REQUIRE(after.series("pgdual_client_write_duration_seconds").size() == 1);
  CHECK(after.series("pgdual_client_write_duration_seconds")[0].sum == Approx(0.002));
}
