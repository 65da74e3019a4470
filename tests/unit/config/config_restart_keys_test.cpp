// Tests of the one table of restart-only keys (config/restart_keys.cpp):
// keys_needing_restart names every key a live reload cannot apply, and
// keep_restart_only_keys puts back exactly those keys, so a reload keeps the
// running listeners, TLS, backends and journal store while the backend
// passwords, the phase and every other reloadable key take the new values.

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

using namespace pgdual::config;
using namespace std::chrono_literals;

namespace {

Config running_config() {
  Config config;
  config.listen_host = "127.0.0.1";
  config.listen_port = 6432;
  config.admin_host = "127.0.0.1";
  config.admin_port = 9187;
  config.workers = 2;
  config.tls = ServerTlsConfig{"/etc/pgdual/cert.pem", "/etc/pgdual/key.pem", "", false};
  config.auth.method = AuthMethod::scram_sha_256;
  config.auth.users = {{"app", "secret"}};
  for (auto* backend : {&config.old_backend, &config.new_backend}) {
    backend->host = "10.0.0.1";
    backend->port = 5432;
    backend->user = "pgdual";
    backend->password = "old-password";
    backend->sslmode = SslMode::prefer;
  }
  config.new_backend.host = "10.0.0.2";
  config.migration.phase = Phase::dual_write;
  config.migration.journal.store = JournalStore::table;
  config.migration.journal.schema = "pgdual";
  config.migration.journal.instance = "pod-1";
  return config;
}

using Change = std::function<void(Config&)>;

// One change per restart-only key (or per part of a combined key), with the path the table
// names it by, in the table's order.
std::vector<std::pair<std::string, Change>> restart_only_changes() {
  std::vector<std::pair<std::string, Change>> changes = {
      {"listen", [](Config& c) { c.listen_host = "0.0.0.0"; }},
      {"listen", [](Config& c) { c.listen_port = 7432; }},
      {"admin_listen", [](Config& c) { c.admin_host = "0.0.0.0"; }},
      {"admin_listen", [](Config& c) { c.admin_port = 9999; }},
      {"workers", [](Config& c) { c.workers = 16; }},
      {"tls.cert_file", [](Config& c) { c.tls->cert_file = "/other/cert.pem"; }},
      {"tls.key_file", [](Config& c) { c.tls->key_file = "/other/key.pem"; }},
      {"tls.ca_file", [](Config& c) { c.tls->ca_file = "/other/ca.pem"; }},
      {"tls.require", [](Config& c) { c.tls->require = true; }},
      {"auth.method", [](Config& c) { c.auth.method = AuthMethod::md5; }},
  };
  for (const auto& [name, member] :
       {std::pair{std::string("backends.old"), &Config::old_backend},
        std::pair{std::string("backends.new"), &Config::new_backend}}) {
    auto add = [&changes, name = name, member = member](const std::string& key,
                                                        std::function<void(BackendConfig&)> edit) {
      changes.emplace_back(name + "." + key, [member, edit](Config& c) { edit(c.*member); });
    };
    add("host", [](BackendConfig& b) { b.host = "192.168.1.9"; });
    add("port", [](BackendConfig& b) { b.port = 6543; });
    add("user", [](BackendConfig& b) { b.user = "someone_else"; });
    add("dbname", [](BackendConfig& b) { b.dbname = "fixed_db"; });
    add("sslmode", [](BackendConfig& b) { b.sslmode = SslMode::verify_full; });
    add("sslrootcert", [](BackendConfig& b) { b.sslrootcert = "/ca/root.pem"; });
    add("sslcert", [](BackendConfig& b) { b.sslcert = "/client/cert.pem"; });
    add("sslkey", [](BackendConfig& b) { b.sslkey = "/client/key.pem"; });
    add("connect_timeout_ms", [](BackendConfig& b) { b.connect_timeout = 1234ms; });
  }
  const std::vector<std::pair<std::string, Change>> journal = {
      {"migration.journal.store",
       [](Config& c) { c.migration.journal.store = JournalStore::file; }},
      {"migration.journal.schema", [](Config& c) { c.migration.journal.schema = "other"; }},
      {"migration.journal.directory",
       [](Config& c) { c.migration.journal.directory = "/srv/other/journal"; }},
      {"migration.journal.instance", [](Config& c) { c.migration.journal.instance = "pod-2"; }},
  };
  changes.insert(changes.end(), journal.begin(), journal.end());
  return changes;
}

// Keys a reload applies live: changing them needs no restart and keep leaves them alone.
void change_reloadable_keys(Config& c) {
  c.old_backend.password = "rotated-old";
  c.new_backend.password = "rotated-new";
  c.migration.phase = Phase::shadow_read;
  c.auth.users = {{"app", "new-secret"}, {"reporting", "r"}};
  c.limits.secondary_timeout = 750ms;
  c.limits.max_message_size = 1 << 20;
}

void check_reloadable_keys_are_new(const Config& kept) {
  CHECK(kept.old_backend.password == "rotated-old");
  CHECK(kept.new_backend.password == "rotated-new");
  CHECK(kept.migration.phase == Phase::shadow_read);
  REQUIRE(kept.auth.users.size() == 2);
  CHECK(kept.auth.users[0].password == "new-secret");
  CHECK(kept.auth.users[1].name == "reporting");
  CHECK(kept.limits.secondary_timeout == 750ms);
  CHECK(kept.limits.max_message_size == std::size_t{1} << 20);
}

std::vector<std::string> distinct(const std::vector<std::pair<std::string, Change>>& changes) {
  std::vector<std::string> names;
  for (const auto& [name, change] : changes) {
    if (names.empty() || names.back() != name) names.push_back(name);
  }
  return names;
}

}  // namespace

TEST_CASE("restart keys: identical configs need no restart", "[config]") {
  const Config running = running_config();
  CHECK(keys_needing_restart(running, running).empty());
  const Config kept = keep_restart_only_keys(running, running);
  CHECK(keys_needing_restart(running, kept).empty());
}

TEST_CASE("restart keys: each restart-only key alone is named, and kept", "[config]") {
  const Config running = running_config();
  for (const auto& [name, change] : restart_only_changes()) {
    INFO("key " << name);
    Config next = running;
    change(next);
    CHECK(keys_needing_restart(running, next) == std::vector<std::string>{name});
    const Config kept = keep_restart_only_keys(running, next);
    CHECK(keys_needing_restart(running, kept).empty());
    // The change is undone in the result, not only hidden from the comparison.
    CHECK(keys_needing_restart(next, kept) == std::vector<std::string>{name});
  }
}

TEST_CASE("restart keys: a config that differs in every restart-only key is kept whole",
          "[config]") {
  const Config running = running_config();
  Config next = running;
  const auto changes = restart_only_changes();
  for (const auto& [name, change] : changes) change(next);
  change_reloadable_keys(next);
  // Every key is reported once, in the table's stable order (the order of the changes above).
  CHECK(keys_needing_restart(running, next) == distinct(changes));
  const Config kept = keep_restart_only_keys(running, next);
  CHECK(keys_needing_restart(running, kept).empty());
  // What keep put back is the running value itself.
  CHECK(kept.listen_host == running.listen_host);
  CHECK(kept.listen_port == running.listen_port);
  CHECK(kept.admin_port == running.admin_port);
  CHECK(kept.workers == running.workers);
  REQUIRE(kept.tls);
  CHECK(kept.tls->cert_file == running.tls->cert_file);
  CHECK(kept.tls->require == running.tls->require);
  CHECK(kept.auth.method == running.auth.method);
  CHECK(kept.old_backend.host == running.old_backend.host);
  CHECK(kept.new_backend.host == running.new_backend.host);
  CHECK(kept.new_backend.connect_timeout == running.new_backend.connect_timeout);
  CHECK_FALSE(kept.old_backend.dbname);
  CHECK(kept.migration.journal.store == JournalStore::table);
  CHECK(kept.migration.journal.instance == "pod-1");
  // ...while the reloadable keys take the new values.
  check_reloadable_keys_are_new(kept);
}

TEST_CASE("restart keys: backend passwords and the phase reload live", "[config]") {
  const Config running = running_config();
  Config next = running;
  change_reloadable_keys(next);
  CHECK(keys_needing_restart(running, next).empty());
  const Config kept = keep_restart_only_keys(running, next);
  check_reloadable_keys_are_new(kept);
  CHECK(kept.old_backend.password != running.old_backend.password);
  CHECK(kept.migration.phase != running.migration.phase);
}

TEST_CASE("restart keys: adding or removing the tls section is the key tls", "[config]") {
  const Config with_tls = running_config();
  Config without_tls = with_tls;
  without_tls.tls.reset();
  SECTION("removed") {
    CHECK(keys_needing_restart(with_tls, without_tls) == std::vector<std::string>{"tls"});
    const Config kept = keep_restart_only_keys(with_tls, without_tls);
    REQUIRE(kept.tls);
    CHECK(kept.tls->cert_file == with_tls.tls->cert_file);
    CHECK(keys_needing_restart(with_tls, kept).empty());
  }
  SECTION("added") {
    CHECK(keys_needing_restart(without_tls, with_tls) == std::vector<std::string>{"tls"});
    const Config kept = keep_restart_only_keys(without_tls, with_tls);
    CHECK_FALSE(kept.tls);
    CHECK(keys_needing_restart(without_tls, kept).empty());
  }
  SECTION("added with other changes: the section stays away, the passwords still change") {
    Config next = with_tls;
    next.tls->require = true;  // inside the new section: covered by "tls" alone
    change_reloadable_keys(next);
    CHECK(keys_needing_restart(without_tls, next) == std::vector<std::string>{"tls"});
    const Config kept = keep_restart_only_keys(without_tls, next);
    CHECK_FALSE(kept.tls);
    check_reloadable_keys_are_new(kept);
  }
}

TEST_CASE("switching to or from strategy cdc needs a restart, among the others it is live",
          "[config]") {
  Config running = running_config();
  running.migration.strategy = Strategy::sync;
  Config next = running;
  next.migration.strategy = Strategy::async;
  CHECK(keys_needing_restart(running, next).empty());
  next.migration.strategy = Strategy::cdc;
  CHECK(keys_needing_restart(running, next) == std::vector<std::string>{"migration.strategy"});
  CHECK(keep_restart_only_keys(running, next).migration.strategy == Strategy::sync);
  running.migration.strategy = Strategy::cdc;
  next.migration.strategy = Strategy::outbox;
  CHECK(keep_restart_only_keys(running, next).migration.strategy == Strategy::cdc);
  next = running;
  next.migration.cdc.wait = CdcWait::commit;  // live
  CHECK(keys_needing_restart(running, next).empty());
  next.migration.cdc.copy_data = CdcCopyData::none;
  next.migration.cdc.publisher = BackendConfig{};
  CHECK(keys_needing_restart(running, next) ==
        std::vector<std::string>{"migration.cdc.copy_data", "migration.cdc.publisher"});
}
