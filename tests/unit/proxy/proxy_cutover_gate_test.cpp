// Tests of which databases a configuration reload must pass the cutover gate for
// (proxy/server/cutover_gate.hpp): only changes into cutover count; a tenant rule names its
// database; migration.phase and table entries concern every database the instance served.

#include <catch2/catch.hpp>

#include "proxy/server/cutover_gate.hpp"

using namespace pgdual;
using config::Phase;

namespace {

config::Config with_phase(Phase phase) {
  config::Config config;
  config.migration.phase = phase;
  return config;
}

}  // namespace

TEST_CASE("a reload into cutover is gated for the databases it concerns") {
  const std::set<std::string> seen{"app", "billing"};
  SECTION("migration.phase into cutover: every database served") {
    CHECK(proxy::databases_entering_cutover(with_phase(Phase::shadow_read),
                                            with_phase(Phase::cutover),
                                            seen) == std::vector<std::string>{"app", "billing"});
  }
  SECTION("no database served yet: the control database") {
    auto next = with_phase(Phase::cutover);
    next.old_backend.dbname = "shop";
    CHECK(proxy::databases_entering_cutover(with_phase(Phase::dual_write), next, {}) ==
          std::vector<std::string>{"shop"});
  }
  SECTION("already in cutover, or moving elsewhere: no gate") {
    CHECK(proxy::databases_entering_cutover(with_phase(Phase::cutover), with_phase(Phase::cutover),
                                            seen)
              .empty());
    CHECK(proxy::databases_entering_cutover(with_phase(Phase::cutover),
                                            with_phase(Phase::shadow_read), seen)
              .empty());
    CHECK(proxy::databases_entering_cutover(with_phase(Phase::dual_write),
                                            with_phase(Phase::shadow_read), seen)
              .empty());
  }
  SECTION("a tenant rule on one database") {
    auto running = with_phase(Phase::shadow_read);
    auto next = running;
    config::TenantRule rule{.match = {.database = "billing"}, .phase = Phase::cutover};
    next.migration.tenants.push_back(rule);
    CHECK(proxy::databases_entering_cutover(running, next, seen) ==
          std::vector<std::string>{"billing"});
    running.migration.tenants.push_back(rule);
    CHECK(proxy::databases_entering_cutover(running, next, seen).empty());
  }
  SECTION("around the gate: cleanup straight from shadow_read, a table entry removed") {
    CHECK(proxy::databases_entering_cutover(with_phase(Phase::shadow_read),
                                            with_phase(Phase::cleanup), seen)
              .size() == 2);
    auto running = with_phase(Phase::cutover);
    running.migration.tables["public.orders"] = Phase::shadow_read;
    CHECK(proxy::databases_entering_cutover(running, with_phase(Phase::cutover), seen).size() == 2);
    auto tenant_before = with_phase(Phase::cutover);
    tenant_before.migration.tenants.push_back(
        {.match = {.database = "billing"}, .phase = Phase::dual_write});
    CHECK(proxy::databases_entering_cutover(tenant_before, with_phase(Phase::cutover), seen) ==
          std::vector<std::string>{"billing"});
  }
  SECTION("a table entry into cutover") {
    auto running = with_phase(Phase::shadow_read);
    auto next = running;
    next.migration.tables["public.orders"] = Phase::cutover;
    CHECK(proxy::databases_entering_cutover(running, next, seen).size() == 2);
  }
}
