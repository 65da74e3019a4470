#include "config/describe.hpp"

#include <algorithm>
#include <set>

namespace pgdual::config {

namespace {

std::string ms(std::chrono::milliseconds value) { return std::to_string(value.count()); }
std::string yes_no(bool value) { return value ? "true" : "false"; }
std::string secret(const std::string& value) { return value.empty() ? "(none)" : "(set)"; }

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + v;
  return out;
}

std::string number(double value) {
  std::string text = std::to_string(value);
  while (text.size() > 1 && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

class Rows {
 public:
  void add(std::string key, std::string value) {
    rows_.push_back({std::move(key), std::move(value), false});
  }
  std::vector<ConfigRow> take() { return std::move(rows_); }

 private:
  std::vector<ConfigRow> rows_;
};

void add_backend(Rows& rows, const std::string& prefix, const BackendConfig& b) {
  rows.add(prefix + ".host", b.host);
  rows.add(prefix + ".port", std::to_string(b.port));
  rows.add(prefix + ".user", b.user);
  rows.add(prefix + ".password", secret(b.password));
  rows.add(prefix + ".dbname", b.dbname.value_or("(the client's)"));
  rows.add(prefix + ".sslmode", std::string(to_string(b.sslmode)));
}

void add_migration(Rows& rows, const MigrationConfig& m) {
  rows.add("migration.phase", std::string(to_string(m.phase)));
  rows.add("migration.strategy", std::string(to_string(m.strategy)));
  rows.add("migration.on_secondary_failure", std::string(to_string(m.on_secondary_failure)));
  rows.add("migration.keep_old_in_sync", yes_no(m.keep_old_in_sync));
  rows.add("migration.ddl", std::string(to_string(m.ddl)));
  for (const auto& [table, phase] : m.tables) {
    rows.add("migration.tables[\"" + table + "\"].phase", std::string(to_string(phase)));
  }
  for (std::size_t i = 0; i < m.tenants.size(); ++i) {
    const auto& rule = m.tenants[i];
    rows.add("migration.tenants[" + std::to_string(i) + "]",
             describe_match(rule.match) + " -> " + std::string(to_string(rule.phase)));
  }
  rows.add("migration.rewrite", yes_no(m.rewrite));
  rows.add("migration.nondeterministic", std::string(to_string(m.nondeterministic)));
  rows.add("migration.confirm_cleanup", yes_no(m.confirm_cleanup));
  const auto& s = m.shadow_read;
  rows.add("migration.shadow_read.sample_rate", number(s.sample_rate));
  rows.add("migration.shadow_read.mode", std::string(to_string(s.mode)));
  rows.add("migration.shadow_read.timeout_ms", ms(s.timeout));
  rows.add("migration.shadow_read.log_values", std::string(to_string(s.log_values)));
  rows.add("migration.shadow_read.match_window", std::to_string(s.match_window));
  const auto& j = m.journal;
  rows.add("migration.journal.enabled", yes_no(j.enabled));
  rows.add("migration.journal.store", std::string(to_string(j.store)));
  rows.add("migration.journal.schema", j.schema);
  rows.add("migration.journal.max_attempts", std::to_string(j.max_attempts));
  rows.add("migration.cdc.wait", std::string(to_string(m.cdc.wait)));
  rows.add("migration.cdc.copy_data", std::string(to_string(m.cdc.copy_data)));
  const auto& c = m.cutover;
  rows.add("migration.cutover.coordination", std::string(to_string(c.coordination)));
  rows.add("migration.cutover.force", yes_no(c.force));
  rows.add("migration.cutover.pause_timeout_ms", ms(c.pause_timeout));
  rows.add(
      "migration.cutover.criteria.window_s",
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(c.criteria.window).count()));
  rows.add("migration.cutover.criteria.min_match_rate", number(c.criteria.min_match_rate));
  rows.add("migration.cutover.criteria.min_secondary_success_rate",
           number(c.criteria.min_secondary_success_rate));
  rows.add("migration.cutover.criteria.max_p99_latency_increase",
           number(c.criteria.max_p99_latency_increase));
}

}  // namespace

std::string describe_match(const TenantMatch& match) {
  std::string out;
  const auto add = [&](const char* name, const std::optional<std::string>& value) {
    if (value) out += (out.empty() ? "" : ",") + std::string(name) + "=" + *value;
  };
  add("database", match.database);
  add("user", match.user);
  add("application_name", match.application_name);
  return out;
}

std::vector<ConfigRow> describe(const Config& c) {
  Rows rows;
  rows.add("listen", format_host_port(c.listen_host, c.listen_port));
  rows.add("admin_listen", format_host_port(c.admin_host, c.admin_port));
  rows.add("workers", std::to_string(c.workers));
  rows.add("auth.method", std::string(to_string(c.auth.method)));
  std::vector<std::string> users;
  for (const auto& u : c.auth.users) users.push_back(u.name);
  rows.add("auth.users", joined(users));
  rows.add("admin.database", c.admin.database);
  rows.add("admin.users", joined(c.admin.users));
  rows.add("admin.pause_timeout_ms", ms(c.admin.pause_timeout));
  rows.add("admin.status_interval_ms", ms(c.admin.status_interval));
  rows.add("tls", c.tls ? "on" + std::string(c.tls->require ? " (required)" : "") : "off");
  add_backend(rows, "backends.old", c.old_backend);
  add_backend(rows, "backends.new", c.new_backend);
  rows.add("limits.max_client_connections", std::to_string(c.limits.max_client_connections));
  rows.add("limits.startup_timeout_ms", ms(c.limits.startup_timeout));
  rows.add("limits.drain_timeout_ms", ms(c.limits.drain_timeout));
  rows.add("limits.secondary_timeout_ms", ms(c.limits.secondary_timeout));
  rows.add("log.level", c.log.level);
  rows.add("log.format", c.log.format);
  add_migration(rows, c.migration);

  auto out = rows.take();
  const auto restart = restart_only_key_paths();
  const std::set<std::string> restart_keys(restart.begin(), restart.end());
  for (auto& row : out) {
    // A restart-only key, or a member of a restart-only section ("tls" covers tls.*).
    for (std::string key = row.key;;) {
      if (restart_keys.count(key)) {
        row.restart = true;
        break;
      }
      const auto dot = key.rfind('.');
      if (dot == std::string::npos) break;
      key.resize(dot);
    }
  }
  return out;
}

}  // namespace pgdual::config
