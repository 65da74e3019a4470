#pragma once

// The validated configuration of pgdual: plain data, no behaviour. The YAML keys, types, defaults
// and reload behaviour of every field are documented in docs/configuration.md; config/loader.hpp
// turns a file into these structs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::config {

// How clients authenticate to pgdual.
enum class AuthMethod {
  trust,
  password,  // cleartext; allowed only when tls is configured and required
  md5,
  scram_sha_256,
};

struct UserEntry {
  std::string name;
  // From password, password_file or ${ENV}. Either the cleartext password or a PostgreSQL
  // "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" verifier (see is_scram_verifier).
  std::string password;
};

struct AuthConfig {
  AuthMethod method = AuthMethod::scram_sha_256;
  std::vector<UserEntry> users;
};

// Client-facing TLS. Paths are absolute (relative ones were resolved against the config file's
// directory).
struct ServerTlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;   // optional: when set, client certificates are verified against it
  bool require = false;  // refuse clients that do not ask for TLS
};

// libpq's sslmode values that pgdual supports as a client of the backends.
enum class SslMode { disable, prefer, require, verify_ca, verify_full };

struct BackendConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5432;
  std::string user;
  std::string password;               // from password / password_file / ${ENV}; empty = none
  std::optional<std::string> dbname;  // unset: the database the client asked for
  SslMode sslmode = SslMode::prefer;
  std::string sslrootcert;      // required for verify-ca and verify-full
  std::string sslcert, sslkey;  // optional client certificate (both or neither)
  std::chrono::milliseconds connect_timeout{5000};
};

struct LimitsConfig {
  // Largest protocol message accepted from a client (type byte excluded). PostgreSQL itself
  // allows up to 1 GiB; 256 MiB keeps one client from pinning a gigabyte per message.
  std::size_t max_message_size = std::size_t{256} << 20;
  std::chrono::milliseconds startup_timeout{10000};  // startup + authentication must finish
  std::size_t max_client_connections = 1000;
  std::chrono::milliseconds drain_timeout{30000};     // graceful shutdown grace period
  std::chrono::milliseconds secondary_timeout{5000};  // wait for the secondary's reply
  // COPY FROM STDIN data a session holds for the secondary while the primary has not finished
  // the COPY (docs/dual-write.md, "COPY").
  std::size_t max_copy_buffer = std::size_t{64} << 20;
};

struct LogConfig {
  std::string level = "info";   // trace|debug|info|warn|error|critical|off (spdlog names)
  std::string format = "text";  // text|json
  bool log_parameters = false;  // log bind parameter values (may contain personal data)
};

// The six phases of the dual-write pattern, in order.
enum class Phase { prepare, dual_write, backfill, shadow_read, cutover, cleanup };
enum class Strategy { sync, async, outbox, cdc };
enum class JournalStore { table, file };
enum class OnSecondaryFailure { continue_, fail };
enum class DdlPolicy { mirror, primary_only, reject };

struct PhaseOverride {
  Phase phase;
};

// A tenant rule matches a session when every field that is set equals the session's value.
struct TenantMatch {
  std::optional<std::string> database, user, application_name;
  bool operator==(const TenantMatch&) const = default;
};

struct TenantRule {
  TenantMatch match;
  Phase phase;
  bool operator==(const TenantRule&) const = default;
};

enum class ShadowMode { compare, aa };
// What to do with a write whose non-deterministic values cannot be made identical.
enum class Nondeterministic { allow, serialize, reject };
enum class LogValues { redacted, full };

// migration.shadow_read: the read comparator of the shadow_read phase (docs/shadow-reads.md).
struct ShadowReadConfig {
  double sample_rate = 1.0;                 // share of eligible reads also run on the secondary
  ShadowMode mode = ShadowMode::compare;    // aa: compare the primary with itself (noise floor)
  std::chrono::milliseconds timeout{2000};  // then the secondary's statement is cancelled
  std::size_t max_concurrent = 64;          // shadow reads in flight per pgdual instance
  LogValues log_values = LogValues::redacted;
  std::vector<std::string> ignore_columns;                // "column" or "schema.table.column"
  std::vector<std::string> ignore_tables;                 // reads touching these are not shadowed
  double float_tolerance = 0;                             // relative, for float4/float8/numeric
  unsigned timestamp_precision = 6;                       // fractional second digits compared
  std::size_t max_detail_rows = 10;                       // differing rows logged per read
  std::size_t max_buffered_bytes = std::size_t{1} << 20;  // per side; beyond: digests only
  std::size_t match_window = 1000;  // reads per table behind the match-rate gauge
};

// migration.journal: the durable replay journal of writes the secondary did not apply, and the
// outbox of strategy outbox (docs/journal.md).
struct JournalConfig {
  bool enabled = true;  // false: failed secondary writes are only logged and counted
  JournalStore store = JournalStore::table;
  std::string schema = "pgdual";  // table store: schema on the primary (and the secondary's marker)
  std::string directory = "/var/lib/pgdual/journal";  // file store: one directory per instance
  std::string instance;                // empty: the host name (the pod name under Kubernetes)
  std::vector<std::string> databases;  // the relay also serves these (besides those sessions used)
  std::uint32_t max_attempts = 5;      // failed attempts before a permanent error is dead-lettered
  std::chrono::milliseconds retry_base{100};
  std::chrono::milliseconds retry_max{30000};
  std::chrono::milliseconds poll_interval{200};  // how often an idle relay looks for new entries
  std::vector<std::string>
      permanent_sqlstates;  // also treated as permanent ("23505" or class "23")
};

// migration.cdc: strategy cdc, where the new store receives the old store's writes through
// PostgreSQL's logical replication (docs/cdc.md).
enum class CdcCopyData {
  postgres,  // the subscription's initial table sync copies the rows present at its start
  // `pgdual backfill` copies them under the snapshot its slot exported, then attaches the
  // subscription to that slot (jobs/backfill/cdc_initial_copy.hpp)
  pgdual,
  none,  // the new store already holds them (after a sync phase or a finished backfill)
};
enum class CdcWait {
  none,    // plain asynchronous replication
  commit,  // a COMMIT or autocommit write is answered once the new store applied it
};

struct CdcConfig {
  CdcCopyData copy_data = CdcCopyData::postgres;
  CdcWait wait = CdcWait::none;
  // How the new server reaches the old one (the subscription's CONNECTION): unset, backends.old.
  std::optional<BackendConfig> publisher;
  // Set REPLICA IDENTITY FULL on published tables without a primary key (else they are refused:
  // PostgreSQL would refuse the application's UPDATE and DELETE on them).
  bool replica_identity_full = false;
  std::chrono::milliseconds poll_interval{5};       // cdc.wait: commit, how often lag is read
  std::chrono::milliseconds health_interval{5000};  // health metrics and publication upkeep
  bool manage = true;  // pgdual run creates and updates the objects (false: only `pgdual cdc`)
};

// migration.cutover (docs/cutover.md): the measured gate a change into the cutover phase must
// pass. Rates are fractions (0.999 = 99.9%); counts and rates come from every live pgdual
// instance's samples over the window, not from one instance.
struct CutoverCriteria {
  std::chrono::milliseconds window{300000};    // window_s: samples older than this do not count
  double min_match_rate = 0.999;               // shadow reads that matched / compared
  std::uint64_t min_comparisons = 1000;        // fewer compared reads in the window: not measured
  double min_secondary_success_rate = 0.9995;  // the new store's writes that succeeded
  std::uint64_t min_writes = 1000;             // fewer writes in the window: not measured
  double max_p99_latency_increase = 0.20;  // client-observed write p99 over the primary's, minus 1
  std::uint64_t max_unresolved = 0;        // unresolved reconciliation marks
  std::uint64_t max_journal_entries = 0;   // transactions still waiting in the journal
  std::uint64_t max_replication_lag_bytes = 0;  // strategy cdc
  bool sequences_synced = true;  // every new-store sequence at or past the old store's
};

// How a change of primary (cutover, its rollback) reaches the instances (docs/cutover.md).
enum class Coordination {
  fleet,  // one flip for every live instance, through the control tables on the old store
  local,  // each instance flips when it reloads its own file (one instance only)
};

struct CutoverConfig {
  CutoverCriteria criteria;
  bool force = false;  // enter cutover although the gate fails (logged loudly, counted)
  Coordination coordination = Coordination::fleet;
  // A fleet flip's bound for pausing and draining, and again for flipping every instance: past
  // it the flip aborts and every instance resumes on the old primary.
  std::chrono::milliseconds pause_timeout{5000};
};

// migration.mapping (docs/schema-mapping.md): the new store's schema differs from the old one.
// The application keeps the old names; pgdual installs, on the new store, a view per mapped table
// in the old shape (inverse expressions over the new table) whose INSTEAD OF triggers write the
// new table (forward expressions over the old row), and sends the new store's copy of each
// statement to that view. Column names are as PostgreSQL stores them (lower case unless quoted).
enum class MappingRollback { refuse_if_lossy, allow };

struct ColumnMapping {
  std::string to;       // the new store's name; empty: the same name
  std::string cast;     // the new column's type, asserted against the catalog; empty: any
  std::string expr;     // the new value from the old row (old column names); empty: the column
  std::string inverse;  // the old value from the new row (new column names); expr, if_null
  std::string if_null;  // the new value when the old value is NULL (new column is NOT NULL)
  bool drop = false;    // not on the new store
  std::optional<bool> lossless;  // a claim about expr/inverse; casts are judged by their types

  bool operator==(const ColumnMapping&) const = default;
};

struct NewColumnMapping {
  std::string expr;  // computed from the old row (old column names); empty: the server's default

  bool operator==(const NewColumnMapping&) const = default;
};

struct TableMapping {
  std::string to;  // "schema.table" on the new store, normalised like table names
  std::map<std::string, ColumnMapping> columns;         // by old column name
  std::map<std::string, NewColumnMapping> new_columns;  // by new column name

  bool operator==(const TableMapping&) const = default;
};

struct MappingConfig {
  std::string schema = "pgdual_map";  // on the new store: one view per mapped table
  MappingRollback rollback = MappingRollback::refuse_if_lossy;
  std::map<std::string, TableMapping> tables;  // by old "schema.table"

  bool empty() const { return tables.empty(); }

  bool operator==(const MappingConfig&) const = default;
};

struct MigrationConfig {
  Phase phase = Phase::prepare;
  Strategy strategy = Strategy::sync;
  OnSecondaryFailure on_secondary_failure = OnSecondaryFailure::continue_;
  bool keep_old_in_sync = true;  // in cutover, keep writing the old store as secondary
  DdlPolicy ddl = DdlPolicy::mirror;
  // Key "schema.table" as PostgreSQL stores the names: unquoted parts folded to lower case,
  // quoted parts kept as written; a bare "orders" is normalised to "public.orders".
  std::map<std::string, Phase> tables;
  std::vector<TenantRule> tenants;  // first match wins
  std::size_t async_queue_capacity = 10000;
  // Classification overrides: function names, optionally schema-qualified, normalised like
  // table names but without adding a schema.
  std::vector<std::string> write_functions, read_only_functions;
  bool confirm_cleanup = false;  // entering cleanup requires this (cleanup cannot be rolled back)
  ShadowReadConfig shadow_read;
  // Deterministic dual writes (docs/dual-write.md): now(), random(), sequences and volatile
  // defaults become literals that both stores receive.
  bool rewrite = true;
  Nondeterministic nondeterministic = Nondeterministic::allow;
  JournalConfig journal;
  CdcConfig cdc;
  CutoverConfig cutover;
  MappingConfig mapping;
};

// admin: the psql admin console (docs/operations.md). A client that asks for `database` and is
// one of `users` (each also in auth.users, authenticated as any client) gets the console instead
// of a backend; anyone else asking for that database is refused. No users: the console is off
// and the name is an ordinary database.
struct AdminConfig {
  std::string database = "pgdual";
  std::vector<std::string> users;
  // PAUSE waits this long for the transactions in flight to end; past it the pause is undone.
  std::chrono::milliseconds pause_timeout{30000};
  // How often the status watch measures the cutover gate and reads the fleet's instances in the
  // background (pgdual_cutover_ready and the status page); 0: only when someone asks.
  std::chrono::milliseconds status_interval{30000};

  bool console_enabled() const { return !users.empty() && !database.empty(); }
  bool is_admin(std::string_view user) const {
    for (const auto& u : users) {
      if (u == user) return true;
    }
    return false;
  }
};

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 6432;  // 0 = let the OS pick a free port
  std::string admin_host = "127.0.0.1";
  std::uint16_t admin_port = 9187;  // 0 = let the OS pick a free port
  unsigned workers = 0;             // 0 = half the usable CPUs (proxy/server/worker_count.hpp)
  AuthConfig auth;
  AdminConfig admin;
  std::optional<ServerTlsConfig> tls;
  BackendConfig old_backend, new_backend;  // YAML: backends.old / backends.new
  LimitsConfig limits;
  LogConfig log;
  MigrationConfig migration;
  std::string source_path;  // file it was loaded from; empty when loaded from a string
};

// Names as written in the YAML file (e.g. "scram-sha-256", "verify-full", "dual_write").
std::string_view to_string(AuthMethod);
std::string_view to_string(SslMode);
std::string_view to_string(Phase);
std::string_view to_string(Strategy);
std::string_view to_string(JournalStore);
std::string_view to_string(OnSecondaryFailure);
std::string_view to_string(DdlPolicy);
std::string_view to_string(ShadowMode);
std::string_view to_string(Nondeterministic);
std::string_view to_string(MappingRollback);
std::string_view to_string(LogValues);
std::string_view to_string(CdcCopyData);
std::string_view to_string(CdcWait);
std::string_view to_string(Coordination);

// Exact, case-sensitive inverse of to_string; nullopt for anything else.
std::optional<AuthMethod> parse_auth_method(std::string_view);
std::optional<SslMode> parse_ssl_mode(std::string_view);
std::optional<Phase> parse_phase(std::string_view);
std::optional<Strategy> parse_strategy(std::string_view);
std::optional<JournalStore> parse_journal_store(std::string_view);
std::optional<OnSecondaryFailure> parse_on_secondary_failure(std::string_view);
std::optional<DdlPolicy> parse_ddl_policy(std::string_view);
std::optional<ShadowMode> parse_shadow_mode(std::string_view);
std::optional<Nondeterministic> parse_nondeterministic(std::string_view);
std::optional<MappingRollback> parse_mapping_rollback(std::string_view);
std::optional<LogValues> parse_log_values(std::string_view);
std::optional<CdcCopyData> parse_cdc_copy_data(std::string_view);
std::optional<CdcWait> parse_cdc_wait(std::string_view);
std::optional<Coordination> parse_coordination(std::string_view);

// True when the stored password is a PostgreSQL SCRAM-SHA-256 verifier rather than a cleartext
// password (prefix check only; the loader has validated the format).
bool is_scram_verifier(std::string_view password);

// "host:port", with IPv6 hosts in brackets ("[::1]:6432").
std::string format_host_port(std::string_view host, std::uint16_t port);

}  // namespace pgdual::config
