// Tests for config/loader.hpp: valid configs with their defaults, key types, listen addresses,
// required, unknown and duplicate keys. The other rules: config_loader_*_test.cpp.

#include "config_loader_test_support.hpp"

using namespace config_loader_test;

TEST_CASE("minimal config loads with the documented defaults", "[config]") {
  const LoadResult r = load(kTrust + kBackends);
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.errors.empty());
  const Config& c = *r.config;
  CHECK(c.listen_host == "127.0.0.1");
  CHECK(c.listen_port == 6432);
  CHECK(c.admin_host == "127.0.0.1");
  CHECK(c.admin_port == 9187);
  CHECK(c.workers == 0);
  CHECK(c.auth.method == AuthMethod::trust);
  CHECK(c.auth.users.empty());
  CHECK_FALSE(c.tls.has_value());
  CHECK(c.old_backend.host == "10.0.0.5");
  CHECK(c.old_backend.port == 5432);
  CHECK(c.old_backend.user == "app");
  CHECK(c.old_backend.password.empty());
  CHECK_FALSE(c.old_backend.dbname.has_value());
  CHECK(c.old_backend.sslmode == SslMode::prefer);
  CHECK(c.old_backend.connect_timeout == std::chrono::milliseconds(5000));
  CHECK(c.new_backend.host == "10.0.0.6");
  CHECK(c.limits.max_message_size == 256u << 20);
  CHECK(c.limits.startup_timeout == std::chrono::milliseconds(10000));
  CHECK(c.limits.max_client_connections == 1000);
  CHECK(c.limits.drain_timeout == std::chrono::milliseconds(30000));
  CHECK(c.limits.secondary_timeout == std::chrono::milliseconds(5000));
  CHECK(c.log.level == "info");
  CHECK(c.log.format == "text");
  CHECK_FALSE(c.log.log_parameters);
  CHECK(c.migration.phase == Phase::prepare);
  CHECK(c.migration.strategy == Strategy::sync);
  CHECK(c.migration.on_secondary_failure == OnSecondaryFailure::continue_);
  CHECK(c.migration.keep_old_in_sync);
  CHECK(c.migration.ddl == DdlPolicy::mirror);
  CHECK(c.migration.tables.empty());
  CHECK(c.migration.tenants.empty());
  CHECK(c.migration.async_queue_capacity == 10000);
  CHECK_FALSE(c.migration.confirm_cleanup);
  CHECK(c.source_path.empty());
}

TEST_CASE("full config: every key is read, relative files resolve against the config file",
          "[config]") {
  TempDir dir;
  dir.write("tls/server.crt", "cert");
  dir.write("tls/server.key", "key");
  dir.write("tls/clients-ca.crt", "ca");
  dir.write("ca.crt", "ca");
  dir.write("client.crt", "cert");
  dir.write("client.key", "key");
  dir.write("secrets/new-password", "new-secret\n");
  dir.write("secrets/app-password", "app-secret\r\n");
  ScopedEnv old_pw("PGDUAL_TEST_OLD_PASSWORD", "old-secret");
  ScopedEnv new_host("PGDUAL_TEST_NEW_HOST", "db-new.internal");
  const std::string path = dir.write("pgdual.yaml", R"(
listen: "[::1]:7432"
admin_listen: 0.0.0.0:9999
workers: 4
auth:
  method: scram-sha-256
  users:
    - name: app
      password_file: secrets/app-password
    - name: reporting
      password: )" + std::string(kVerifier) + R"(
tls:
  cert_file: tls/server.crt
  key_file: tls/server.key
  ca_file: tls/clients-ca.crt
  require: true
backends:
  old:
    host: 10.0.0.5
    port: 5433
    user: app_old
    password: ${PGDUAL_TEST_OLD_PASSWORD}
    dbname: legacy
    sslmode: verify-full
    sslrootcert: ca.crt
    sslcert: client.crt
    sslkey: client.key
    connect_timeout_ms: 2500
  new:
    host: ${PGDUAL_TEST_NEW_HOST}
    port: 6543
    user: app_new
    password_file: secrets/new-password
    sslmode: verify-ca
    sslrootcert: /absolute/is/kept/../ca.crt
limits:
  max_message_size: 64MB
  startup_timeout_ms: 3000
  max_client_connections: 2000
  drain_timeout_ms: 0
  secondary_timeout_ms: 750
log:
  level: debug
  format: json
  log_parameters: true
migration:
  phase: shadow_read
  strategy: async
  on_secondary_failure: continue
  keep_old_in_sync: false
  ddl: primary_only
  tables:
    public.orders: { phase: cutover }
    Invoices: { phase: backfill }
    '"Sales"."Q1"': { phase: dual_write }
  tenants:
    - match: { database: tenant_42 }
      phase: cutover
    - match: { user: batch, application_name: nightly }
      phase: prepare
  async_queue_capacity: 50000
  write_functions: [my_audit, Util.Touch]
  read_only_functions: [pg_catalog.now_plus]
  confirm_cleanup: false
)");
  // The absolute sslrootcert does not exist: that one error is expected and proves absolute
  // paths are not rebased.
  LoadResult r = load_config_file(path);
  REQUIRE(r.errors.size() == 1);
  CHECK(has_error_at(r, "backends.new.sslrootcert", "cannot read /absolute/is/kept/../ca.crt"));

  // Point it at a real file and load again.
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("/absolute/is/kept/../ca.crt"), 27, "ca.crt");
  dir.write("pgdual.yaml", text);
  r = load_config_file(path);
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Config& c = *r.config;
  const std::string d = dir.path().string();
  CHECK(c.source_path == path);
  CHECK(c.listen_host == "::1");
  CHECK(c.listen_port == 7432);
  CHECK(c.admin_host == "0.0.0.0");
  CHECK(c.admin_port == 9999);
  CHECK(c.workers == 4);
  CHECK(c.auth.method == AuthMethod::scram_sha_256);
  REQUIRE(c.auth.users.size() == 2);
  CHECK(c.auth.users[0].name == "app");
  CHECK(c.auth.users[0].password == "app-secret");
  CHECK(c.auth.users[1].name == "reporting");
  CHECK(c.auth.users[1].password == kVerifier);
  CHECK(is_scram_verifier(c.auth.users[1].password));
  REQUIRE(c.tls.has_value());
  CHECK(c.tls->cert_file == d + "/tls/server.crt");
  CHECK(c.tls->key_file == d + "/tls/server.key");
  CHECK(c.tls->ca_file == d + "/tls/clients-ca.crt");
  CHECK(c.tls->require);
  CHECK(c.old_backend.port == 5433);
  CHECK(c.old_backend.user == "app_old");
  CHECK(c.old_backend.password == "old-secret");
  CHECK(c.old_backend.dbname == std::optional<std::string>("legacy"));
  CHECK(c.old_backend.sslmode == SslMode::verify_full);
  CHECK(c.old_backend.sslrootcert == d + "/ca.crt");
  CHECK(c.old_backend.sslcert == d + "/client.crt");
  CHECK(c.old_backend.sslkey == d + "/client.key");
  CHECK(c.old_backend.connect_timeout == std::chrono::milliseconds(2500));
  CHECK(c.new_backend.host == "db-new.internal");
  CHECK(c.new_backend.port == 6543);
  CHECK(c.new_backend.password == "new-secret");
  CHECK(c.new_backend.sslmode == SslMode::verify_ca);
  CHECK(c.limits.max_message_size == 64u << 20);
  CHECK(c.limits.startup_timeout == std::chrono::milliseconds(3000));
  CHECK(c.limits.max_client_connections == 2000);
  CHECK(c.limits.drain_timeout == std::chrono::milliseconds(0));
  CHECK(c.limits.secondary_timeout == std::chrono::milliseconds(750));
  CHECK(c.log.level == "debug");
  CHECK(c.log.format == "json");
  CHECK(c.log.log_parameters);
  const MigrationConfig& m = c.migration;
  CHECK(m.phase == Phase::shadow_read);
  CHECK(m.strategy == Strategy::async);
  CHECK_FALSE(m.keep_old_in_sync);
  CHECK(m.ddl == DdlPolicy::primary_only);
  CHECK(m.tables.size() == 3);
  CHECK(m.tables.at("public.orders") == Phase::cutover);
  CHECK(m.tables.at("public.invoices") == Phase::backfill);
  CHECK(m.tables.at("Sales.Q1") == Phase::dual_write);
  REQUIRE(m.tenants.size() == 2);
  CHECK(m.tenants[0].match.database == std::optional<std::string>("tenant_42"));
  CHECK_FALSE(m.tenants[0].match.user.has_value());
  CHECK(m.tenants[0].phase == Phase::cutover);
  CHECK(m.tenants[1].match.user == std::optional<std::string>("batch"));
  CHECK(m.tenants[1].match.application_name == std::optional<std::string>("nightly"));
  CHECK(m.tenants[1].phase == Phase::prepare);
  CHECK(m.async_queue_capacity == 50000);
  CHECK(m.write_functions == std::vector<std::string>{"my_audit", "util.touch"});
  CHECK(m.read_only_functions == std::vector<std::string>{"pg_catalog.now_plus"});
  // keep_old_in_sync: false during cutover is legal but risky.
  CHECK_FALSE(r.warnings.empty());
}

TEST_CASE("a wrong type names the key path and the value", "[config]") {
  const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, port: abc }
  new: { host: b, user: app, port: 70000 }
)");
  CHECK_FALSE(r.ok());
  CHECK(has_error(r, "backends.old.port: expected an integer between 1 and 65535, got \"abc\""));
  CHECK(has_error(r, "backends.new.port: expected an integer between 1 and 65535, got \"70000\""));
  CHECK(r.errors.size() == 2);
}

TEST_CASE("listen addresses", "[config]") {
  SECTION("IPv4 and port 0") {
    const LoadResult r = load(kTrust + kBackends + "listen: 0.0.0.0:0\n");
    REQUIRE(r.ok());
    CHECK(r.config->listen_host == "0.0.0.0");
    CHECK(r.config->listen_port == 0);
  }
  SECTION("invalid forms") {
    for (const char* bad : {"6432", "localhost", "::1:6432", "[::1]", "host:99999", ":6432"}) {
      const LoadResult r = load(kTrust + kBackends + "listen: \"" + bad + "\"\n");
      INFO(bad);
      CHECK(has_error_at(r, "listen", "expected host:port"));
    }
  }
  SECTION("listen and admin_listen must differ") {
    const LoadResult r =
        load(kTrust + kBackends + "listen: 127.0.0.1:7000\nadmin_listen: 127.0.0.1:7000\n");
    CHECK(has_error_at(r, "admin_listen", "same address as listen"));
  }
}

TEST_CASE("required keys", "[config]") {
  SECTION("no backends at all") {
    const LoadResult r = load(kTrust);
    CHECK(has_error_at(r, "backends.old", "required"));
    CHECK(has_error_at(r, "backends.new", "required"));
  }
  SECTION("host and user") {
    const LoadResult r = load(kTrust + "backends:\n  old: { port: 5432 }\n  new: { host: b }\n");
    CHECK(has_error(r, "backends.old.host: required"));
    CHECK(has_error(r, "backends.old.user: required"));
    CHECK(has_error(r, "backends.new.user: required"));
    CHECK_FALSE(has_error_at(r, "backends.new.host"));
  }
  SECTION("empty document") {
    const LoadResult r = load("");
    CHECK_FALSE(r.ok());
    CHECK(r.errors.size() == 1);
  }
}

TEST_CASE("unknown keys are errors naming the path", "[config]") {
  const LoadResult r = load(kTrust + R"(
lisen: 127.0.0.1:6432
backends:
  old: { host: a, user: app, pasword: hunter2 }
  new: { host: b, user: app, colour: blue }
migration:
  phase: prepare
  tables:
    public.orders: { phase: prepare, mode: fast }
)");
  CHECK_FALSE(r.ok());
  CHECK(has_error(r, "lisen: unknown key (did you mean \"listen\"?)"));
  CHECK(has_error(r, "backends.old.pasword: unknown key (did you mean \"password\"?)"));
  CHECK(has_error_at(r, "backends.new.colour", "unknown key (expected one of: host, port"));
  CHECK(has_error_at(r, "migration.tables[\"public.orders\"].mode", "unknown key"));
  CHECK(all_errors(r).find("hunter2") == std::string::npos);
}

TEST_CASE("duplicate keys are errors", "[config]") {
  const LoadResult r = load(kTrust + kBackends + "workers: 2\nworkers: 3\n");
  CHECK(has_error_at(r, "workers", "duplicate key"));
}
