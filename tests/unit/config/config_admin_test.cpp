// admin: the console's users and database, and SHOW CONFIG's rows (config/describe.hpp).

#include <catch2/catch.hpp>

#include "config/describe.hpp"
#include "config_loader_test_support.hpp"

using namespace config_loader_test;

namespace {

const std::string kUsers = R"(
auth:
  method: scram-sha-256
  users:
    - name: app
      password: app-secret-1
    - name: ops
      password: ops-secret-2
)";

const ConfigRow* row(const std::vector<ConfigRow>& rows, const std::string& key) {
  for (const auto& r : rows) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("admin: off by default, on with users", "[config]") {
  const auto off = load(kTrust + kBackends);
  REQUIRE(off.ok());
  CHECK_FALSE(off.config->admin.console_enabled());
  CHECK(off.config->admin.database == "pgdual");
  CHECK(off.config->admin.status_interval == std::chrono::milliseconds(30000));

  const auto on = load(kUsers + kBackends +
                       "admin:\n  users: [ops]\n  database: console\n  pause_timeout_ms: 500\n"
                       "  status_interval_ms: 0\n");
  REQUIRE(on.ok());
  CHECK(on.config->admin.console_enabled());
  CHECK(on.config->admin.is_admin("ops"));
  CHECK_FALSE(on.config->admin.is_admin("app"));
  CHECK(on.config->admin.database == "console");
  CHECK(on.config->admin.pause_timeout == std::chrono::milliseconds(500));
  CHECK(on.config->admin.status_interval == std::chrono::milliseconds(0));
}

TEST_CASE("admin: a user that could not authenticate, and bad values", "[config]") {
  const auto unknown = load(kUsers + kBackends + "admin:\n  users: [ops, root]\n");
  CHECK(has_error_at(unknown, "admin.users", "\"root\" is not in auth.users"));
  // Under trust no password is needed, so any name will do, with a warning.
  const auto trusted = load(kTrust + kBackends + "admin:\n  users: [root]\n");
  CHECK(trusted.ok());
  REQUIRE(trusted.warnings.size() == 1);
  CHECK(trusted.warnings[0].find("admin.users") != std::string::npos);
  CHECK(has_error_at(load(kTrust + kBackends + "admin:\n  pause_timeout_ms: 5\n"),
                     "admin.pause_timeout_ms"));
  CHECK(has_error_at(load(kTrust + kBackends + "admin:\n  user: [x]\n"), "admin.user"));
  CHECK(has_error_at(load(kTrust + kBackends + "admin:\n  users: ops\n"), "admin.users"));
}

TEST_CASE("SHOW CONFIG rows: every section, no secret, restart-only keys marked", "[config]") {
  const auto loaded = load(kUsers +
                           "backends:\n  old: {host: 10.0.0.5, user: app, password: "
                           "old-secret-3}\n  new: {host: 10.0.0.6, user: app}\n"
                           "admin:\n  users: [ops]\n"
                           "migration:\n  tables:\n    orders: {phase: backfill}\n");
  REQUIRE(loaded.ok());
  const auto rows = describe(*loaded.config);
  for (const auto& r : rows) {
    CHECK(r.value.find("secret") == std::string::npos);
  }
  REQUIRE(row(rows, "backends.old.password"));
  CHECK(row(rows, "backends.old.password")->value == "(set)");
  CHECK(row(rows, "backends.new.password")->value == "(none)");
  CHECK(row(rows, "auth.users")->value == "app,ops");
  CHECK(row(rows, "admin.users")->value == "ops");
  CHECK(row(rows, "migration.tables[\"public.orders\"].phase")->value == "backfill");
  CHECK(row(rows, "listen")->restart);
  CHECK(row(rows, "backends.old.host")->restart);
  CHECK_FALSE(row(rows, "migration.phase")->restart);
  CHECK_FALSE(row(rows, "admin.users")->restart);
  // Every restart-only key that describe() shows is marked (the table is the one source).
  for (const auto& path : restart_only_key_paths()) {
    if (const auto* r = row(rows, path)) CHECK(r->restart);
  }
}
