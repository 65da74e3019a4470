// Tests for config/loader.hpp: error collection, YAML syntax errors and unreadable files,
// keys_needing_restart and the enum names.

#include "config_loader_test_support.hpp"

using namespace config_loader_test;

TEST_CASE("all errors are collected, not just the first", "[config]") {
  const LoadResult r = load(R"(
listen: nowhere
workers: many
auth: { method: md5, users: [ { name: app } ] }
backends:
  old: { host: a, port: 0, sslmode: bogus }
log: { level: loud }
migration: { phase: cleanup }
)");
  CHECK_FALSE(r.ok());
  INFO(all_errors(r));
  CHECK(has_error_at(r, "listen"));
  CHECK(has_error_at(r, "workers"));
  CHECK(has_error_at(r, "auth.users[0].password"));
  CHECK(has_error_at(r, "backends.old.port"));
  CHECK(has_error_at(r, "backends.old.sslmode"));
  CHECK(has_error_at(r, "backends.old.user"));
  CHECK(has_error_at(r, "backends.new"));
  CHECK(has_error_at(r, "log.level"));
  CHECK(has_error_at(r, "migration.phase"));
  CHECK(r.errors.size() == 9);
}

TEST_CASE("YAML syntax errors and unreadable files", "[config]") {
  const LoadResult syntax = load("backends: [unclosed\n");
  REQUIRE(syntax.errors.size() == 1);
  CHECK(syntax.errors[0].find("invalid YAML") != std::string::npos);

  const LoadResult not_a_map = load("- a\n- b\n");
  CHECK(has_error_at(not_a_map, "(top level)", "expected a mapping"));

  const LoadResult missing = load_config_file("/nonexistent/pgdual.yaml");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].find("/nonexistent/pgdual.yaml: cannot read") == 0);
}

TEST_CASE("keys_needing_restart lists exactly the keys a reload cannot apply", "[config]") {
  TempDir dir;
  dir.write("a.crt", "x");
  dir.write("a.key", "x");
  dir.write("b.crt", "x");
  const std::string base = dir.path().string();
  const LoadResult a = load(kTrust + kBackends, base);
  REQUIRE(a.ok());
  CHECK(keys_needing_restart(*a.config, *a.config).empty());

  // Everything that reloads live may change without a restart.
  const LoadResult live = load(R"(
auth:
  method: trust
  users: [ { name: x } ]
limits: { max_message_size: 1MB, max_client_connections: 5, secondary_timeout_ms: 1 }
log: { level: debug, log_parameters: true }
migration: { phase: dual_write, strategy: async, tables: { t: { phase: cutover } } }
)" + kBackends,
                               base);
  REQUIRE(live.ok());
  CHECK(keys_needing_restart(*a.config, *live.config).empty());

  const LoadResult journal = load(kTrust + kBackends + R"(
migration:
  journal: { store: file, schema: other, directory: /tmp/j, instance: pod-2, max_attempts: 2 }
)",
                                  base);
  REQUIRE(journal.ok());
  CHECK(keys_needing_restart(*a.config, *journal.config) ==
        std::vector<std::string>{"migration.journal.store", "migration.journal.schema",
                                 "migration.journal.directory", "migration.journal.instance"});

  ScopedEnv pw("PGDUAL_TEST_RESTART_PW", "pw");
  const LoadResult b = load(R"(
auth: { method: md5, users: [ { name: x, password: "${PGDUAL_TEST_RESTART_PW}" } ] }
listen: 127.0.0.1:7000
admin_listen: 127.0.0.1:7001
workers: 3
tls: { cert_file: a.crt, key_file: a.key }
log: { format: json }
backends:
  old: { host: 10.0.0.5, user: app, port: 5433 }
  new: { host: 10.0.0.7, user: app, password: "${PGDUAL_TEST_RESTART_PW}" }
)",
                            base);
  INFO(all_errors(b));
  REQUIRE(b.ok());
  CHECK(keys_needing_restart(*a.config, *b.config) ==
        std::vector<std::string>{"listen", "admin_listen", "workers", "tls", "auth.method",
                                 "backends.old.port", "backends.new.host"});

  const LoadResult c = load(R"(
auth: { method: md5, users: [ { name: x, password: "${PGDUAL_TEST_RESTART_PW}" } ] }
listen: 127.0.0.1:7000
admin_listen: 127.0.0.1:7001
workers: 3
tls: { cert_file: b.crt, key_file: a.key, require: true }
log: { format: json }
backends:
  old: { host: 10.0.0.5, user: app, port: 5433 }
  new: { host: 10.0.0.7, user: app, password: "${PGDUAL_TEST_RESTART_PW}" }
)",
                            base);
  REQUIRE(c.ok());
  CHECK(keys_needing_restart(*b.config, *c.config) ==
        std::vector<std::string>{"tls.cert_file", "tls.require"});
}

TEST_CASE("enum names round-trip", "[config]") {
  for (Phase p : {Phase::prepare, Phase::dual_write, Phase::backfill, Phase::shadow_read,
                  Phase::cutover, Phase::cleanup}) {
    CHECK(parse_phase(to_string(p)) == p);
  }
  for (SslMode m : {SslMode::disable, SslMode::prefer, SslMode::require, SslMode::verify_ca,
                    SslMode::verify_full}) {
    CHECK(parse_ssl_mode(to_string(m)) == m);
  }
  for (AuthMethod m :
       {AuthMethod::trust, AuthMethod::password, AuthMethod::md5, AuthMethod::scram_sha_256}) {
    CHECK(parse_auth_method(to_string(m)) == m);
  }
  CHECK(to_string(OnSecondaryFailure::continue_) == "continue");
  CHECK(parse_on_secondary_failure("fail") == OnSecondaryFailure::fail);
  CHECK(parse_strategy("async") == Strategy::async);
  CHECK(parse_ddl_policy("primary_only") == DdlPolicy::primary_only);
  CHECK_FALSE(parse_phase("Cutover").has_value());
  CHECK(format_host_port("::1", 6432) == "[::1]:6432");
  CHECK(format_host_port("db", 5432) == "db:5432");
}
