// Which function calls matter to routing: the built-in ones that write (so a SELECT calling
// them must reach the primary and be mirrored) and the ones whose result is not reproducible on
// a second server. User functions are not known here; the caller looks up their volatility.

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "routing/classify/statement_classifier.hpp"
#include "text/ascii.hpp"

namespace pgdual::routing {
namespace {

// The bare name of a built-in: strips "pg_catalog."; a name in any other schema is not a
// built-in, so it yields an empty string.
std::string builtin_name(std::string_view name) {
  std::string lowered = text::ascii_lower(name);
  constexpr std::string_view catalog = "pg_catalog.";
  if (lowered.starts_with(catalog)) return lowered.substr(catalog.size());
  if (lowered.find('.') != std::string::npos) return {};
  return lowered;
}

bool starts_with_any(std::string_view name, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view prefix) { return name.starts_with(prefix); });
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Built-ins that change data, sequences, locks, session settings or WAL.
constexpr std::array<std::string_view, 14> kWriteFunctions = {
    "nextval",
    "setval",
    "set_config",
    "pg_notify",
    "loread",
    "lowrite",
    "pg_switch_wal",
    "pg_logical_emit_message",
    "pg_promote",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_drop_replication_slot",
    "pg_replication_slot_advance",
    "pg_import_system_collations",
};

// Values that differ per store or per connection: time, randomness, sequences, transaction
// ids, and the host, port, process and version of the server that evaluates them.
constexpr std::array<std::string_view, 25> kNondeterministicFunctions = {
    "now",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "random",
    "gen_random_uuid",
    "nextval",
    "currval",
    "lastval",
    "setval",
    "txid_current",
    "pg_current_xact_id",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "pg_backend_pid",
    "inet_server_addr",
    "inet_server_port",
    "pg_postmaster_start_time",
    "inet_client_addr",
    "inet_client_port",
    "version",
};

// Built-ins that read the server host's own files and directories: each store reads its own host.
constexpr std::array<std::string_view, 5> kHostFileFunctions = {
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_ls_dir", "lo_import",
};

// Large-object built-ins that can leave the new object's OID to the server (lo_create(0),
// lo_creat(-1), lo_import(path), lo_from_bytea(0, data)).
constexpr std::array<std::string_view, 4> kLargeObjectCreators = {
    "lo_create",
    "lo_creat",
    "lo_import",
    "lo_from_bytea",
};

std::string_view bare(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

bool is_qualified(std::string_view name) { return name.find('.') != std::string_view::npos; }

// `entry` (from the config) names the function `call` (as written in the statement)?
bool entry_matches(std::string_view entry, std::string_view call) {
  const std::string e = text::ascii_lower(entry);
  const std::string c = text::ascii_lower(call);
  if (e == c) return true;
  if (!is_qualified(e) || !is_qualified(c)) return bare(e) == bare(c);
  return false;
}

bool listed(const std::vector<std::string>& entries, std::string_view call) {
  return std::any_of(entries.begin(), entries.end(),
                     [&](const std::string& entry) { return entry_matches(entry, call); });
}

}  // namespace

bool is_builtin_write_function(std::string_view name) {
  const std::string fn = builtin_name(name);
  if (fn.empty()) return false;
  if (contains(kWriteFunctions, fn)) return true;
  // pg_advisory_lock, pg_advisory_xact_lock_shared, pg_advisory_unlock_all, pg_try_advisory_*;
  // lo_create, lo_import, lo_unlink, lo_put, lo_from_bytea, lo_open, ... (a descriptor opened on
  // one server is only valid there, so every lo_* call follows the writes);
  // pg_create_*_replication_slot, pg_create_restore_point; pg_replication_origin_*;
  // pg_stat_reset*.
  return starts_with_any(fn, {"pg_advisory_", "pg_try_advisory_", "lo_", "pg_create_", "pg_copy_",
                              "pg_replication_origin_", "pg_stat_reset"});
}

bool is_nondeterministic_function(std::string_view name) {
  // uuid-ossp lives in whatever schema it was installed in; match its names anywhere.
  if (bare(text::ascii_lower(name)).starts_with("uuid_generate_")) return true;
  const std::string fn = builtin_name(name);
  if (fn.empty()) return false;
  return contains(kNondeterministicFunctions, fn);
}

bool reads_host_files(std::string_view name) {
  const std::string fn = builtin_name(name);
  if (fn.empty()) return false;
  // pg_ls_dir and its relatives: pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, ...
  return contains(kHostFileFunctions, fn) || (fn.starts_with("pg_ls_") && fn.ends_with("dir"));
}

bool may_pick_large_object_oid(std::string_view name) {
  const std::string fn = builtin_name(name);
  return !fn.empty() && contains(kLargeObjectCreators, fn);
}

bool function_list_contains(const std::vector<std::string>& entries, std::string_view call) {
  return listed(entries, call);
}

bool function_makes_write(std::string_view name, const ClassifierOptions& options) {
  if (listed(options.read_only_functions, name)) return false;
  if (listed(options.write_functions, name)) return true;
  return is_builtin_write_function(name);
}

}  // namespace pgdual::routing
