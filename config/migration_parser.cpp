// The `migration` section: phases per table and tenant, strategy, failure policy and the
// classification overrides.

#include <algorithm>

#include "config/section_parsers.hpp"
#include "config/value_parsers.hpp"

namespace pgdual::config {
namespace {

constexpr std::string_view kPhases = "prepare, dual_write, backfill, shadow_read, cutover, cleanup";

// Spelled once so that every place that refuses cleanup explains it the same way.
constexpr std::string_view kCleanupRefusal =
    "entering cleanup cannot be rolled back: the old store stops receiving writes and is meant to "
    "be decommissioned; set migration.confirm_cleanup: true to confirm";

void parse_tables(Section& s, MigrationConfig& m, LoadContext& ctx) {
  const YAML::Node node = s.get("tables");
  const std::string path = s.key_path("tables");
  // No fixed key list: every key is a table name.
  Section tables(node, path, ctx, {});
  if (!node.IsDefined() || !node.IsMap()) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;  // reported by the Section
    const std::string raw = kv.first.Scalar();
    const std::string entry_path = child_path(path, raw);
    const auto name = normalise_table_name(raw);
    if (!name) {
      ctx.diag.error(entry_path,
                     "not a valid table name (expected table or schema.table; quote mixed-case "
                     "names as in SQL: '\"Sales\".\"Orders\"')");
      continue;
    }
    Section entry(kv.second, entry_path, ctx, {"phase"});
    if (!kv.second.IsMap()) continue;  // reported by the Section
    Phase phase{};
    if (!entry.require("phase") || !entry.read_enum("phase", phase, parse_phase, kPhases)) continue;
    if (!m.tables.emplace(*name, phase).second) {
      ctx.diag.error(entry_path,
                     "names table " + *name + ", which is already listed under another spelling");
    }
  }
}

void parse_tenants(Section& s, MigrationConfig& m, LoadContext& ctx) {
  const std::vector<YAML::Node> rules = s.read_list("tenants");
  const std::string path = s.key_path("tenants");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string rule_path = index_path(path, i);
    Section rule(rules[i], rule_path, ctx, {"match", "phase"});
    TenantRule tenant{};
    bool ok = rule.require("phase") && rule.read_enum("phase", tenant.phase, parse_phase, kPhases);
    if (rule.require("match", "database, user and/or application_name")) {
      Section match(rule.get("match"), rule.key_path("match"), ctx,
                    {"database", "user", "application_name"});
      match.read_optional_string("database", tenant.match.database);
      match.read_optional_string("user", tenant.match.user);
      match.read_optional_string("application_name", tenant.match.application_name);
      const bool empty =
          !match.has("database") && !match.has("user") && !match.has("application_name");
      if (empty && !ctx.diag.failed(match.path())) {
        ctx.diag.error(match.path(),
                       "an empty match would apply to every session; set database, user or "
                       "application_name (use migration.phase for the default)");
      }
      ok = ok && !ctx.diag.failed(match.path());
    } else {
      ok = false;
    }
    if (ok) m.tenants.push_back(std::move(tenant));
  }
}

// Appends the normalised names to out, dropping repeats; invalid names are reported.
void parse_functions(Section& s, std::string_view key, std::vector<std::string>& out,
                     LoadContext& ctx) {
  std::vector<std::string> names;
  if (!s.read_string_list(key, names)) return;
  const std::string path = s.key_path(key);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto name = normalise_qualified_name(names[i], 2);
    if (!name) {
      ctx.diag.error(index_path(path, i),
                     "not a valid function name (expected name or schema.name, without "
                     "arguments), got " +
                         quote_for_message(names[i]));
      continue;
    }
    if (std::find(out.begin(), out.end(), *name) == out.end()) out.push_back(*name);
  }
}

void parse_shadow_read(Section& s, MigrationConfig& m, LoadContext& ctx) {
  if (!s.has("shadow_read")) return;
  Section sr(s.get("shadow_read"), s.key_path("shadow_read"), ctx,
             {"sample_rate", "mode", "timeout_ms", "max_concurrent", "log_values", "ignore_columns",
              "ignore_tables", "float_tolerance", "timestamp_precision", "max_detail_rows",
              "max_buffered_bytes", "match_window"});
  auto& c = m.shadow_read;
  sr.read_double("sample_rate", c.sample_rate, 0.0, 1.0);
  sr.read_enum("mode", c.mode, parse_shadow_mode, "compare, aa");
  sr.read_milliseconds("timeout_ms", c.timeout, 1, 3600000);
  sr.read_integer("max_concurrent", c.max_concurrent, 1, 100000);
  sr.read_enum("log_values", c.log_values, parse_log_values, "redacted, full");
  sr.read_string_list("ignore_columns", c.ignore_columns);
  std::vector<std::string> tables;
  if (sr.read_string_list("ignore_tables", tables)) {
    for (std::size_t i = 0; i < tables.size(); ++i) {
      if (auto name = normalise_table_name(tables[i])) {
        c.ignore_tables.push_back(*name);
      } else {
        ctx.diag.error(index_path(sr.key_path("ignore_tables"), i),
                       "not a valid table name (expected table or schema.table)");
      }
    }
  }
  sr.read_double("float_tolerance", c.float_tolerance, 0.0, 1.0);
  sr.read_integer("timestamp_precision", c.timestamp_precision, 0, 6);
  sr.read_integer("max_detail_rows", c.max_detail_rows, 0, 100000);
  sr.read_byte_size("max_buffered_bytes", c.max_buffered_bytes, 0, std::uint64_t{1} << 32);
  sr.read_integer("match_window", c.match_window, 1, 1000000);
}

void parse_journal(Section& s, MigrationConfig& m, LoadContext& ctx) {
  if (!s.has("journal")) return;
  Section j(s.get("journal"), s.key_path("journal"), ctx,
            {"enabled", "store", "schema", "directory", "instance", "databases", "max_attempts",
             "retry_base_ms", "retry_max_ms", "poll_interval_ms", "permanent_sqlstates"});
  auto& c = m.journal;
  j.read_bool("enabled", c.enabled);
  j.read_enum("store", c.store, parse_journal_store, "table, file");
  j.read_string("schema", c.schema);
  j.read_string("directory", c.directory);
  j.read_string("instance", c.instance);
  j.read_string_list("databases", c.databases);
  j.read_integer("max_attempts", c.max_attempts, 1, 1000000);
  j.read_milliseconds("retry_base_ms", c.retry_base, 1, 3600000);
  j.read_milliseconds("retry_max_ms", c.retry_max, 1, 86400000);
  j.read_milliseconds("poll_interval_ms", c.poll_interval, 10, 60000);
  j.read_string_list("permanent_sqlstates", c.permanent_sqlstates);
  auto plain = [](const std::string& v) {
    return !v.empty() && v.size() <= 63 && std::all_of(v.begin(), v.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    }) && !(v[0] >= '0' && v[0] <= '9');
  };
  if (!plain(c.schema)) {
    j.error("schema", "must be a plain lower-case identifier (letters, digits, _; at most 63)");
  }
  if (c.instance.find('\0') != std::string::npos || c.instance.size() > 200) {
    j.error("instance", "must be at most 200 characters without NUL");
  }
  for (std::size_t i = 0; i < c.permanent_sqlstates.size(); ++i) {
    const auto& code = c.permanent_sqlstates[i];
    const bool ok = (code.size() == 2 || code.size() == 5) &&
                    std::all_of(code.begin(), code.end(), [](char ch) {
                      return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z');
                    });
    if (!ok) {
      ctx.diag.error(index_path(j.key_path("permanent_sqlstates"), i),
                     "expected a SQLSTATE (\"23505\") or a class (\"23\")");
    }
  }
  if (c.retry_max < c.retry_base) j.error("retry_max_ms", "must not be below retry_base_ms");
  if (c.store == JournalStore::file && c.directory.empty())
    j.error("directory", "must be set for the file store");
}

void parse_cdc(Section& s, MigrationConfig& m, LoadContext& ctx) {
  if (!s.has("cdc")) return;
  Section c(s.get("cdc"), s.key_path("cdc"), ctx,
            {"copy_data", "wait", "publisher", "replica_identity_full", "poll_interval_ms",
             "health_interval_ms", "manage"});
  auto& cdc = m.cdc;
  c.read_enum("copy_data", cdc.copy_data, parse_cdc_copy_data, "postgres, pgdual, none");
  c.read_enum("wait", cdc.wait, parse_cdc_wait, "none, commit");
  if (c.has("publisher")) {
    cdc.publisher = parse_backend(c.get("publisher"), c.key_path("publisher"), ctx);
  }
  c.read_bool("replica_identity_full", cdc.replica_identity_full);
  c.read_milliseconds("poll_interval_ms", cdc.poll_interval, 1, 10000);
  c.read_milliseconds("health_interval_ms", cdc.health_interval, 100, 3600000);
  c.read_bool("manage", cdc.manage);
}

void parse_cutover(Section& s, MigrationConfig& m, LoadContext& ctx) {
  if (!s.has("cutover")) return;
  Section c(s.get("cutover"), s.key_path("cutover"), ctx,
            {"force", "criteria", "coordination", "pause_timeout_ms"});
  c.read_bool("force", m.cutover.force);
  c.read_enum("coordination", m.cutover.coordination, parse_coordination, "fleet, local");
  c.read_milliseconds("pause_timeout_ms", m.cutover.pause_timeout, 100, 600000);
  if (!c.has("criteria")) return;
  Section k(c.get("criteria"), c.key_path("criteria"), ctx,
            {"window_s", "min_match_rate", "min_comparisons", "min_secondary_success_rate",
             "min_writes", "max_p99_latency_increase", "max_unresolved", "max_journal_entries",
             "max_replication_lag_bytes", "sequences_synced"});
  auto& criteria = m.cutover.criteria;
  std::uint64_t window_s = static_cast<std::uint64_t>(criteria.window.count() / 1000);
  if (k.read_unsigned("window_s", window_s, 1, 86400)) {
    criteria.window = std::chrono::seconds(window_s);
  }
  k.read_double("min_match_rate", criteria.min_match_rate, 0, 1);
  k.read_unsigned("min_comparisons", criteria.min_comparisons, 0, UINT64_MAX);
  k.read_double("min_secondary_success_rate", criteria.min_secondary_success_rate, 0, 1);
  k.read_unsigned("min_writes", criteria.min_writes, 0, UINT64_MAX);
  k.read_double("max_p99_latency_increase", criteria.max_p99_latency_increase, 0, 1000);
  k.read_unsigned("max_unresolved", criteria.max_unresolved, 0, UINT64_MAX);
  k.read_unsigned("max_journal_entries", criteria.max_journal_entries, 0, UINT64_MAX);
  k.read_unsigned("max_replication_lag_bytes", criteria.max_replication_lag_bytes, 0, UINT64_MAX);
  k.read_bool("sequences_synced", criteria.sequences_synced);
}

// Logical replication copies tables, not sessions: under cdc a phase can follow the database
// (a tenant rule on it alone) but not a user or an application.
void check_cdc_tenants(const MigrationConfig& m, const std::string& path, LoadContext& ctx) {
  if (m.strategy != Strategy::cdc) return;
  for (std::size_t i = 0; i < m.tenants.size(); ++i) {
    const auto& match = m.tenants[i].match;
    if (match.user || match.application_name) {
      ctx.diag.error(child_path(index_path(child_path(path, "tenants"), i), "match"),
                     "strategy cdc replicates whole tables through the old store's WAL, whoever "
                     "wrote them: a tenant rule may match only on database");
    }
  }
}

void check_cleanup_confirmed(const MigrationConfig& m, const std::string& path, LoadContext& ctx) {
  if (m.confirm_cleanup) return;
  if (m.phase == Phase::cleanup) ctx.diag.error(child_path(path, "phase"), kCleanupRefusal);
  for (const auto& [table, phase] : m.tables) {
    if (phase == Phase::cleanup) {
      ctx.diag.error(child_path(child_path(child_path(path, "tables"), table), "phase"),
                     kCleanupRefusal);
    }
  }
  for (std::size_t i = 0; i < m.tenants.size(); ++i) {
    if (m.tenants[i].phase == Phase::cleanup) {
      ctx.diag.error(child_path(index_path(child_path(path, "tenants"), i), "phase"),
                     kCleanupRefusal);
    }
  }
}

}  // namespace

MigrationConfig parse_migration(const YAML::Node& node, LoadContext& ctx) {
  MigrationConfig m;
  Section s(
      node, "migration", ctx,
      {"phase", "strategy", "on_secondary_failure", "keep_old_in_sync", "ddl", "tables", "tenants",
       "async_queue_capacity", "write_functions", "read_only_functions", "confirm_cleanup",
       "shadow_read", "rewrite", "nondeterministic", "journal", "cdc", "cutover", "mapping"});
  s.read_enum("phase", m.phase, parse_phase, kPhases);
  s.read_enum("strategy", m.strategy, parse_strategy, "sync, async, outbox, cdc");
  s.read_enum("on_secondary_failure", m.on_secondary_failure, parse_on_secondary_failure,
              "continue, fail");
  s.read_bool("keep_old_in_sync", m.keep_old_in_sync);
  s.read_enum("ddl", m.ddl, parse_ddl_policy, "mirror, primary_only, reject");
  parse_tables(s, m, ctx);
  parse_tenants(s, m, ctx);
  s.read_integer("async_queue_capacity", m.async_queue_capacity, 1, 10000000);
  parse_functions(s, "write_functions", m.write_functions, ctx);
  parse_functions(s, "read_only_functions", m.read_only_functions, ctx);
  s.read_bool("confirm_cleanup", m.confirm_cleanup);
  parse_shadow_read(s, m, ctx);
  s.read_bool("rewrite", m.rewrite);
  s.read_enum("nondeterministic", m.nondeterministic, parse_nondeterministic,
              "allow, serialize, reject");

  parse_journal(s, m, ctx);
  parse_cdc(s, m, ctx);
  parse_cutover(s, m, ctx);
  parse_mapping(s, m, ctx);
  check_cleanup_confirmed(m, s.path(), ctx);
  check_cdc_tenants(m, s.path(), ctx);

  for (std::size_t i = 0; i < m.read_only_functions.size(); ++i) {
    const std::string& name = m.read_only_functions[i];
    if (std::find(m.write_functions.begin(), m.write_functions.end(), name) !=
        m.write_functions.end()) {
      s.error("read_only_functions",
              "function " + name + " is also listed in migration.write_functions; keep it in one");
    }
  }
  if (m.strategy == Strategy::outbox && !m.journal.enabled) {
    s.error("strategy",
            "outbox records every write in the journal: it needs migration.journal.enabled");
  }
  if (m.strategy == Strategy::outbox && m.journal.store != JournalStore::table) {
    s.error("strategy",
            "outbox commits each record with the client's transaction on the primary: it "
            "needs migration.journal.store: table");
  }
  if (m.strategy == Strategy::outbox && m.on_secondary_failure == OnSecondaryFailure::fail) {
    s.error(
        "on_secondary_failure",
        "fail needs strategy sync: with outbox the secondary applies the write after the client "
        "has its reply");
  }
  if (m.strategy == Strategy::async && m.on_secondary_failure == OnSecondaryFailure::fail) {
    s.error("on_secondary_failure",
            "fail needs strategy sync: with async the client has its reply before the secondary "
            "runs, so a secondary error can no longer be returned to it");
  }
  const bool any_cutover = m.phase == Phase::cutover ||
                           std::any_of(m.tables.begin(), m.tables.end(),
                                       [](const auto& t) { return t.second == Phase::cutover; }) ||
                           std::any_of(m.tenants.begin(), m.tenants.end(), [](const TenantRule& t) {
                             return t.phase == Phase::cutover;
                           });
  if (any_cutover && !m.keep_old_in_sync) {
    ctx.diag.warning(s.key_path("keep_old_in_sync"),
                     "false during cutover: the old store stops receiving writes, so switching "
                     "back to it will need reconciliation");
  }
  return m;
}

}  // namespace pgdual::config
