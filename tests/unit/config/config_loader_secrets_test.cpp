// Tests for config/loader.hpp: secrets (password, password_file, ${VAR}), environment
// expansion in any string value, limits, workers and log.

#include "config_loader_test_support.hpp"

using namespace config_loader_test;

TEST_CASE("secrets: password, password_file, ${VAR}", "[config]") {
  TempDir dir;
  const std::string base = dir.path().string();
  SECTION("password and password_file together") {
    dir.write("pw", "from-file");
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, password: sup3r-s3cret, password_file: pw }
  new: { host: b, user: app }
)",
                              base);
    CHECK(has_error(r,
                    "backends.old.password_file: password and password_file are both set; "
                    "give only one"));
    CHECK(all_errors(r).find("sup3r-s3cret") == std::string::npos);
    CHECK(all_errors(r).find("from-file") == std::string::npos);
  }
  SECTION("password_file: trailing newline removed, relative to base, warnings") {
    dir.write("secrets/old", "file-secret\n", 0644);
    dir.write("secrets/new", "line1\nline2\n", 0600);
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, password_file: secrets/old }
  new: { host: b, user: app, password_file: secrets/new }
)",
                              base);
    INFO(all_errors(r));
    REQUIRE(r.ok());
    CHECK(r.config->old_backend.password == "file-secret");
    CHECK(r.config->new_backend.password == "line1\nline2");
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].rfind("backends.old.password_file: ", 0) == 0);
    CHECK(r.warnings[0].find("chmod 600") != std::string::npos);
    CHECK(r.warnings[0].find("file-secret") == std::string::npos);
  }
  SECTION("password_file missing or empty") {
    dir.write("empty", "\n");
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, password_file: nope }
  new: { host: b, user: app, password_file: empty }
)",
                              base);
    CHECK(has_error_at(r, "backends.old.password_file", base + "/nope: No such file"));
    CHECK(has_error_at(r, "backends.new.password_file", "is empty"));
  }
  SECTION("a literal password is accepted with a warning") {
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, password: literal-secret }
  new: { host: b, user: app }
)");
    REQUIRE(r.ok());
    CHECK(r.config->old_backend.password == "literal-secret");
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].rfind("backends.old.password: secret written literally", 0) == 0);
    CHECK(r.warnings[0].find("literal-secret") == std::string::npos);
  }
  SECTION("a SCRAM verifier cannot log in to a backend") {
    const LoadResult r =
        load(kTrust + "backends:\n  old: { host: a, user: app, password: " + kVerifier +
             " }\n  new: { host: b, user: app }\n");
    CHECK(has_error_at(r, "backends.old.password", "verifier cannot be used"));
  }
}

TEST_CASE("environment expansion in any string value", "[config]") {
  ScopedEnv host("PGDUAL_TEST_HOST", "db.example");
  ScopedEnv port("PGDUAL_TEST_PORT", "6000");
  ScopedEnv secret("PGDUAL_TEST_SECRET", "env-secret-value");
  ::unsetenv("PGDUAL_TEST_UNSET");
  SECTION("expands in strings, numbers and lists; $${ is a literal") {
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: "${PGDUAL_TEST_HOST}", port: "${PGDUAL_TEST_PORT}", user: u, password: "${PGDUAL_TEST_SECRET}" }
  new: { host: b, user: "pre-${PGDUAL_TEST_HOST}-post", password: "a$${b}c$$d$x" }
migration:
  write_functions: ["${PGDUAL_TEST_HOST}"]
)");
    INFO(all_errors(r));
    REQUIRE(r.ok());
    CHECK(r.config->old_backend.host == "db.example");
    CHECK(r.config->old_backend.port == 6000);
    CHECK(r.config->old_backend.password == "env-secret-value");
    CHECK(r.config->new_backend.user == "pre-db.example-post");
    CHECK(r.config->new_backend.password == "a${b}c$$d$x");
    CHECK(r.config->migration.write_functions == std::vector<std::string>{"db.example"});
  }
  SECTION("an unset variable names the key and the variable") {
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, password: "${PGDUAL_TEST_UNSET}" }
  new: { host: b, user: app }
)");
    CHECK(has_error(r, "backends.old.password: environment variable PGDUAL_TEST_UNSET is not set"));
  }
  SECTION("unterminated reference") {
    const LoadResult r = load(kTrust + kBackends + "log: { level: \"${PGDUAL_TEST_HOST\" }\n");
    CHECK(has_error_at(r, "log.level", "unterminated"));
  }
}

TEST_CASE("limits", "[config]") {
  SECTION("sizes with units") {
    for (auto [text, bytes] : std::vector<std::pair<std::string, std::size_t>>{
             {"65536", 65536}, {"64kB", 64 << 10}, {"512 MB", 512u << 20}, {"1GB", 1u << 30}}) {
      const LoadResult r =
          load(kTrust + kBackends + "limits: { max_message_size: " + text + " }\n");
      INFO(text);
      REQUIRE(r.ok());
      CHECK(r.config->limits.max_message_size == bytes);
    }
  }
  SECTION("max_copy_buffer: a size, 64 kB to 1 GB, 64 MB by default") {
    REQUIRE(load(kTrust + kBackends).config->limits.max_copy_buffer == std::size_t{64} << 20);
    const LoadResult ok = load(kTrust + kBackends + "limits: { max_copy_buffer: 8MB }\n");
    REQUIRE(ok.ok());
    CHECK(ok.config->limits.max_copy_buffer == std::size_t{8} << 20);
    for (const std::string bad : {"1kB", "2GB", "lots"}) {
      INFO(bad);
      const LoadResult r = load(kTrust + kBackends + "limits: { max_copy_buffer: " + bad + " }\n");
      CHECK_FALSE(r.ok());
      CHECK(has_error_at(r, "limits.max_copy_buffer", "got \"" + bad + "\""));
    }
  }
  SECTION("out of range and malformed") {
    const LoadResult r = load(kTrust + kBackends + R"(
limits:
  max_message_size: 2GB
  startup_timeout_ms: 0
  max_client_connections: -1
  drain_timeout_ms: 1.5
  secondary_timeout_ms: 10s
)");
    CHECK(has_error_at(r, "limits.max_message_size", "got \"2GB\""));
    CHECK(has_error_at(r, "limits.startup_timeout_ms", "milliseconds between 1 and"));
    CHECK(has_error_at(r, "limits.max_client_connections", "got \"-1\""));
    CHECK(has_error_at(r, "limits.drain_timeout_ms", "got \"1.5\""));
    CHECK(has_error_at(r, "limits.secondary_timeout_ms", "got \"10s\""));
    CHECK(r.errors.size() == 5);
  }
}

TEST_CASE("workers and log", "[config]") {
  const LoadResult r = load(kTrust + kBackends + R"(
workers: 257
log:
  level: verbose
  format: xml
  log_parameters: maybe
)");
  CHECK(has_error(r, "workers: expected an integer between 0 and 256, got \"257\""));
  CHECK(has_error(r,
                  "log.level: expected one of trace, debug, info, warn, error, critical, off, "
                  "got \"verbose\""));
  CHECK(has_error(r, "log.format: expected text or json, got \"xml\""));
  CHECK(has_error(r, "log.log_parameters: expected true or false, got \"maybe\""));

  const LoadResult ok =
      load(kTrust + kBackends + "workers: 256\nlog: { level: warning, log_parameters: yes }\n");
  REQUIRE(ok.ok());
  CHECK(ok.config->workers == 256);
  CHECK(ok.config->log.level == "warn");
  CHECK(ok.config->log.log_parameters);
}
