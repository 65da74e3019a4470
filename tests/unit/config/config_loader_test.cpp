// Tests for config/loader.hpp: valid configs, every validation rule with its key path, ${VAR}
// expansion, *_file secrets, unknown keys, error collection and keys_needing_restart.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.hpp"

namespace {

using namespace pgdual::config;
namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pgdual-config-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    ::chmod(file.c_str(), mode);
    return file.string();
  }

 private:
  fs::path path_;
};

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

const std::string kBackends = R"(
backends:
  old:
    host: 10.0.0.5
    user: app
  new:
    host: 10.0.0.6
    user: app
)";

const std::string kTrust = "auth:\n  method: trust\n";

LoadResult load(const std::string& yaml, const std::string& base_dir = "/nonexistent-base") {
  return load_config_string(yaml, base_dir);
}

bool has_error(const LoadResult& r, const std::string& exact) {
  for (const auto& e : r.errors) {
    if (e == exact) return true;
  }
  return false;
}

// An error for this key path (the text before ": ") whose message contains `fragment`.
bool has_error_at(const LoadResult& r, const std::string& path, const std::string& fragment = "") {
  for (const auto& e : r.errors) {
    if (e.rfind(path + ": ", 0) == 0 && e.find(fragment, path.size()) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e + "\n";
  return out;
}

const char* kVerifier =
    "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$nQpbZ77WudtqufPwikHXGRt6g2QJ4zns8bZLw273DRM=:"
    "jn2amWP1q1h+jgjy0YTO14S6/F02SV7taipOeB7ef20=";

}  // namespace

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

TEST_CASE("sslmode values and their requirements", "[config]") {
  SECTION("unknown sslmode") {
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, sslmode: verify_full }
  new: { host: b, user: app, sslmode: allow }
)");
    CHECK(has_error(r,
                    "backends.old.sslmode: expected one of disable, prefer, require, "
                    "verify-ca, verify-full, got \"verify_full\""));
    CHECK(has_error_at(r, "backends.new.sslmode", "got \"allow\""));
  }
  SECTION("verify-ca and verify-full need sslrootcert") {
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, sslmode: verify-full }
  new: { host: b, user: app, sslmode: verify-ca }
)");
    CHECK(has_error_at(r, "backends.old.sslrootcert", "root.crt"));
    CHECK(has_error_at(r, "backends.new.sslrootcert", "required with sslmode verify-ca"));
  }
  SECTION("sslrootcert must exist, sslcert needs sslkey") {
    TempDir dir;
    dir.write("client.crt", "x");
    const LoadResult r = load(kTrust + R"(
backends:
  old: { host: a, user: app, sslmode: verify-full, sslrootcert: missing.crt }
  new: { host: b, user: app, sslcert: client.crt }
)",
                              dir.path().string());
    CHECK(has_error_at(r, "backends.old.sslrootcert", "missing.crt: No such file"));
    CHECK(has_error_at(r, "backends.new.sslkey", "go together"));
  }
}

TEST_CASE("backend host forms", "[config]") {
  const LoadResult ok = load(kTrust + R"(
backends:
  old: { host: "[::1]", user: app }
  new: { host: "::1", user: app, port: 5433 }
)");
  INFO(all_errors(ok));
  REQUIRE(ok.ok());
  CHECK(ok.config->old_backend.host == "::1");

  const LoadResult bad = load(kTrust + R"(
backends:
  old: { host: /var/run/postgresql, user: app }
  new: { host: "two words", user: app }
)");
  CHECK(has_error_at(bad, "backends.old.host", "Unix-domain sockets are not supported"));
  CHECK(has_error_at(bad, "backends.new.host", "expected a host name"));
}

TEST_CASE("both backends on the same database is an error", "[config]") {
  const std::string same = kTrust + R"(
backends:
  old: { host: db, user: app }
  new: { host: db, user: app }
)";
  CHECK(has_error_at(load(same), "backends.new", "applied twice"));
  const std::string other_db = kTrust + R"(
backends:
  old: { host: db, user: app, dbname: a }
  new: { host: db, user: app, dbname: b }
)";
  CHECK(load(other_db).ok());
}

TEST_CASE("server TLS: cert and key together, files must exist", "[config]") {
  TempDir dir;
  dir.write("server.crt", "cert");
  dir.write("server.key", "key");
  const std::string base = dir.path().string();
  SECTION("cert without key") {
    const LoadResult r = load(kTrust + kBackends + "tls: { cert_file: server.crt }\n", base);
    CHECK(has_error_at(r, "tls.key_file", "required with tls.cert_file"));
  }
  SECTION("key without cert") {
    const LoadResult r = load(kTrust + kBackends + "tls: { key_file: server.key }\n", base);
    CHECK(has_error_at(r, "tls.cert_file", "required with tls.key_file"));
  }
  SECTION("only require") {
    const LoadResult r = load(kTrust + kBackends + "tls: { require: true }\n", base);
    CHECK(has_error_at(r, "tls.cert_file", "required"));
  }
  SECTION("missing files") {
    const LoadResult r = load(
        kTrust + kBackends + "tls: { cert_file: nope.crt, key_file: server.key, ca_file: ca }\n",
        base);
    CHECK(has_error_at(r, "tls.cert_file", "nope.crt: No such file or directory"));
    CHECK(has_error_at(r, "tls.ca_file", "No such file"));
  }
  SECTION("a directory is not a certificate") {
    const LoadResult r =
        load(kTrust + kBackends + "tls: { cert_file: ., key_file: server.key }\n", base);
    CHECK(has_error_at(r, "tls.cert_file", "is a directory"));
  }
  SECTION("valid, and an empty tls section means no TLS") {
    const LoadResult r =
        load(kTrust + kBackends + "tls: { cert_file: server.crt, key_file: server.key }\n", base);
    REQUIRE(r.ok());
    CHECK(r.config->tls->cert_file == base + "/server.crt");
    CHECK_FALSE(r.config->tls->require);
    const LoadResult empty = load(kTrust + kBackends + "tls:\n", base);
    REQUIRE(empty.ok());
    CHECK_FALSE(empty.config->tls.has_value());
  }
}

TEST_CASE("client authentication rules", "[config]") {
  TempDir dir;
  dir.write("server.crt", "cert");
  dir.write("server.key", "key");
  const std::string base = dir.path().string();
  ScopedEnv pw("PGDUAL_TEST_APP_PASSWORD", "app-secret");
  const std::string users =
      "  users:\n    - name: app\n      password: ${PGDUAL_TEST_APP_PASSWORD}\n";

  SECTION("cleartext without TLS") {
    const LoadResult r = load("auth:\n  method: password\n" + users + kBackends, base);
    CHECK(has_error_at(r, "auth.method", "cleartext passwords are only allowed over TLS"));
  }
  SECTION("cleartext with TLS that is not required") {
    const LoadResult r = load("auth:\n  method: password\n" + users + kBackends +
                                  "tls: { cert_file: server.crt, key_file: server.key }\n",
                              base);
    CHECK(has_error_at(r, "auth.method", "tls.require: true"));
  }
  SECTION("cleartext with required TLS") {
    const LoadResult r =
        load("auth:\n  method: password\n" + users + kBackends +
                 "tls: { cert_file: server.crt, key_file: server.key, require: true }\n",
             base);
    INFO(all_errors(r));
    CHECK(r.ok());
  }
  SECTION("unknown method") {
    const LoadResult r = load("auth:\n  method: scram\n" + users + kBackends);
    CHECK(has_error(r,
                    "auth.method: expected one of trust, password, md5, scram-sha-256, got "
                    "\"scram\""));
  }
  SECTION("users without passwords under md5 and scram") {
    for (const char* method : {"md5", "scram-sha-256"}) {
      const LoadResult r = load(std::string("auth:\n  method: ") + method +
                                "\n  users:\n    - name: app\n    - name: empty\n"
                                "      password: \"\"\n" +
                                kBackends);
      INFO(method);
      CHECK(has_error_at(r, "auth.users[0].password", "has no password"));
      CHECK(has_error_at(r, "auth.users[1].password", "\"empty\" has no password"));
    }
    const LoadResult trust =
        load("auth:\n  method: trust\n  users:\n    - name: app\n" + kBackends);
    CHECK(trust.ok());
  }
  SECTION("no users at all under scram (the default method)") {
    const LoadResult r = load(kBackends);
    CHECK(has_error_at(r, "auth.users", "no users configured"));
  }
  SECTION("user entries: name required, no duplicates") {
    const LoadResult r =
        load("auth:\n  method: trust\n  users:\n    - password: x\n    - name: a\n    - name: a\n" +
             kBackends);
    CHECK(has_error(r, "auth.users[0].name: required"));
    CHECK(has_error_at(r, "auth.users[2].name", "listed twice"));
  }
  SECTION("SCRAM verifiers") {
    const std::string verifier_user =
        "  users:\n    - name: app\n      password: " + std::string(kVerifier) + "\n";
    CHECK(load("auth:\n  method: scram-sha-256\n" + verifier_user + kBackends).ok());
    const LoadResult md5 = load("auth:\n  method: md5\n" + verifier_user + kBackends);
    CHECK(has_error_at(md5, "auth.users[0].password", "cannot answer md5"));
    const LoadResult malformed = load(
        "auth:\n  method: scram-sha-256\n  users:\n    - name: app\n"
        "      password: SCRAM-SHA-256$4096:c2FsdA==$notbase64:tooshort\n" +
        kBackends);
    CHECK(has_error_at(malformed, "auth.users[0].password", "malformed"));
    CHECK(all_errors(malformed).find("notbase64") == std::string::npos);
  }
}

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

TEST_CASE("migration rules", "[config]") {
  SECTION("cleanup needs confirm_cleanup, wherever it appears") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  phase: cleanup
  tables:
    orders: { phase: cleanup }
  tenants:
    - match: { database: t1 }
      phase: cleanup
)");
    CHECK(has_error_at(r, "migration.phase", "cannot be rolled back"));
    CHECK(has_error_at(r, "migration.tables[\"public.orders\"].phase", "confirm_cleanup: true"));
    CHECK(has_error_at(r, "migration.tenants[0].phase", "cannot be rolled back"));
    const LoadResult confirmed =
        load(kTrust + kBackends + "migration: { phase: cleanup, confirm_cleanup: true }\n");
    CHECK(confirmed.ok());
  }
  SECTION("tenant rules") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  tenants:
    - match: {}
      phase: cutover
    - match: { database: x }
    - phase: cutover
    - match: { schema: x }
      phase: cutover
)");
    CHECK(has_error_at(r, "migration.tenants[0].match", "empty match would apply to every"));
    CHECK(has_error(r, "migration.tenants[1].phase: required"));
    CHECK(has_error_at(r, "migration.tenants[2].match", "required"));
    CHECK(has_error_at(r, "migration.tenants[3].match.schema", "unknown key"));
  }
  SECTION("enums") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  phase: dual-write
  strategy: eventual
  on_secondary_failure: ignore
  ddl: allow
  keep_old_in_sync: sometimes
)");
    CHECK(has_error(r,
                    "migration.phase: expected one of prepare, dual_write, backfill, "
                    "shadow_read, cutover, cleanup, got \"dual-write\""));
    CHECK(has_error_at(r, "migration.strategy", "sync, async, outbox"));
    CHECK(has_error_at(r, "migration.on_secondary_failure", "continue, fail"));
    CHECK(has_error_at(r, "migration.ddl", "mirror, primary_only, reject"));
    CHECK(has_error_at(r, "migration.keep_old_in_sync", "true or false"));
  }
  SECTION("tables: names, duplicates, shape") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  tables:
    orders: { phase: cutover }
    public.orders: { phase: backfill }
    a.b.c: { phase: cutover }
    items: cutover
    lines: {}
)");
    CHECK(has_error_at(r, "migration.tables[\"public.orders\"]", "already listed"));
    CHECK(has_error_at(r, "migration.tables[\"a.b.c\"]", "not a valid table name"));
    CHECK(has_error_at(r, "migration.tables.items", "expected a mapping"));
    CHECK(has_error(r, "migration.tables.lines.phase: required"));
  }
  SECTION("async cannot fail the client; function lists") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  strategy: async
  on_secondary_failure: fail
  write_functions: [audit, "bad name"]
  read_only_functions: [AUDIT]
)");
    CHECK(has_error_at(r, "migration.on_secondary_failure", "fail needs strategy sync"));
    CHECK(has_error_at(r, "migration.write_functions[1]", "not a valid function name"));
    CHECK(has_error_at(r, "migration.read_only_functions", "also listed"));
  }
}

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

TEST_CASE("migration.shadow_read: defaults, every key, and bad values", "[config]") {
  {
    const LoadResult r = load(kTrust + kBackends);
    REQUIRE(r.ok());
    const auto& s = r.config->migration.shadow_read;
    CHECK(s.sample_rate == 1.0);
    CHECK(s.mode == ShadowMode::compare);
    CHECK(s.timeout == std::chrono::milliseconds(2000));
    CHECK(s.log_values == LogValues::redacted);
    CHECK(s.max_buffered_bytes == std::size_t{1} << 20);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  shadow_read:
    sample_rate: 0.25
    mode: aa
    timeout_ms: 300
    max_concurrent: 8
    log_values: full
    ignore_columns: [updated_at]
    ignore_tables: [Sessions, audit.log]
    float_tolerance: 1e-9
    timestamp_precision: 3
    max_detail_rows: 5
    max_buffered_bytes: 64kB
    match_window: 100
)");
    INFO(all_errors(r));
    REQUIRE(r.ok());
    const auto& s = r.config->migration.shadow_read;
    CHECK(s.sample_rate == 0.25);
    CHECK(s.mode == ShadowMode::aa);
    CHECK(s.timeout == std::chrono::milliseconds(300));
    CHECK(s.max_concurrent == 8);
    CHECK(s.log_values == LogValues::full);
    CHECK(s.ignore_columns == std::vector<std::string>{"updated_at"});
    CHECK(s.ignore_tables == std::vector<std::string>{"public.sessions", "audit.log"});
    CHECK(s.float_tolerance == 1e-9);
    CHECK(s.timestamp_precision == 3);
    CHECK(s.max_detail_rows == 5);
    CHECK(s.max_buffered_bytes == 64 * 1024);
    CHECK(s.match_window == 100);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  shadow_read:
    sample_rate: 1.5
    mode: sometimes
    timestamp_precision: 9
    surprise: 1
)");
    CHECK_FALSE(r.ok());
    CHECK(has_error_at(r, "migration.shadow_read.sample_rate", "between 0 and 1"));
    CHECK(has_error_at(r, "migration.shadow_read.mode", "compare, aa"));
    CHECK(has_error_at(r, "migration.shadow_read.timestamp_precision"));
    CHECK(has_error_at(r, "migration.shadow_read.surprise"));
  }
}

TEST_CASE("migration.rewrite and migration.nondeterministic", "[config]") {
  {
    const LoadResult r = load(kTrust + kBackends);
    REQUIRE(r.ok());
    CHECK(r.config->migration.rewrite);
    CHECK(r.config->migration.nondeterministic == Nondeterministic::allow);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  rewrite: false
  nondeterministic: reject
)");
    INFO(all_errors(r));
    REQUIRE(r.ok());
    CHECK_FALSE(r.config->migration.rewrite);
    CHECK(r.config->migration.nondeterministic == Nondeterministic::reject);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  nondeterministic: sometimes
)");
    CHECK(has_error_at(r, "migration.nondeterministic", "allow, serialize, reject"));
  }
}

TEST_CASE("migration.journal and strategy outbox", "[config]") {
  SECTION("defaults") {
    const LoadResult r = load(kTrust + kBackends);
    REQUIRE(r.ok());
    const auto& j = r.config->migration.journal;
    CHECK(j.enabled);
    CHECK(j.store == JournalStore::table);
    CHECK(j.schema == "pgdual");
    CHECK(j.instance.empty());
    CHECK(j.max_attempts == 5);
    CHECK(j.retry_base == std::chrono::milliseconds(100));
    CHECK(j.retry_max == std::chrono::milliseconds(30000));
  }
  SECTION("every key") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  strategy: outbox
  journal:
    store: table
    schema: mig_state
    instance: pod-7
    databases: [app, billing]
    max_attempts: 3
    retry_base_ms: 10
    retry_max_ms: 500
    poll_interval_ms: 50
    permanent_sqlstates: ["23505", "22"]
)");
    REQUIRE(r.ok());
    const auto& m = r.config->migration;
    CHECK(m.strategy == Strategy::outbox);
    CHECK(m.journal.schema == "mig_state");
    CHECK(m.journal.instance == "pod-7");
    CHECK(m.journal.databases == std::vector<std::string>{"app", "billing"});
    CHECK(m.journal.max_attempts == 3);
    CHECK(m.journal.poll_interval == std::chrono::milliseconds(50));
    CHECK(m.journal.permanent_sqlstates == std::vector<std::string>{"23505", "22"});
  }
  SECTION("bad values are refused with the key") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  journal:
    schema: "Bad-Schema"
    permanent_sqlstates: ["2350", "x"]
    retry_base_ms: 1000
    retry_max_ms: 10
    store: disk
)");
    CHECK(has_error_at(r, "migration.journal.schema", "plain lower-case identifier"));
    CHECK(has_error_at(r, "migration.journal.permanent_sqlstates[0]", "SQLSTATE"));
    CHECK(has_error_at(r, "migration.journal.permanent_sqlstates[1]", "SQLSTATE"));
    CHECK(has_error_at(r, "migration.journal.retry_max_ms", "retry_base_ms"));
    CHECK(has_error_at(r, "migration.journal.store", "table, file"));
  }
  SECTION("outbox needs the table journal and continue") {
    CHECK(has_error_at(
        load(kTrust + kBackends + "migration: { strategy: outbox, journal: { enabled: false } }\n"),
        "migration.strategy", "journal.enabled"));
    CHECK(has_error_at(
        load(kTrust + kBackends + "migration: { strategy: outbox, journal: { store: file } }\n"),
        "migration.strategy", "store: table"));
    CHECK(has_error_at(
        load(kTrust + kBackends + "migration: { strategy: outbox, on_secondary_failure: fail }\n"),
        "migration.on_secondary_failure", "outbox"));
  }
}
