// Tests for config/loader.hpp: the backends (sslmode, host forms, distinct databases), the
// server's TLS and the client authentication rules.

#include "config_loader_test_support.hpp"

using namespace config_loader_test;

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
