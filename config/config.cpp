#include "config/config.hpp"

#include <array>
#include <utility>

namespace pgdual::config {
namespace {

// One table per enum keeps to_string and parse_* from drifting apart.
template <class E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<AuthMethod, 4> kAuthMethods{{
    {AuthMethod::trust, "trust"},
    {AuthMethod::password, "password"},
    {AuthMethod::md5, "md5"},
    {AuthMethod::scram_sha_256, "scram-sha-256"},
}};

constexpr NameTable<SslMode, 5> kSslModes{{
    {SslMode::disable, "disable"},
    {SslMode::prefer, "prefer"},
    {SslMode::require, "require"},
    {SslMode::verify_ca, "verify-ca"},
    {SslMode::verify_full, "verify-full"},
}};

constexpr NameTable<Phase, 6> kPhases{{
    {Phase::prepare, "prepare"},
    {Phase::dual_write, "dual_write"},
    {Phase::backfill, "backfill"},
    {Phase::shadow_read, "shadow_read"},
    {Phase::cutover, "cutover"},
    {Phase::cleanup, "cleanup"},
}};

constexpr NameTable<Strategy, 4> kStrategies{{
    {Strategy::sync, "sync"},
    {Strategy::async, "async"},
    {Strategy::outbox, "outbox"},
    {Strategy::cdc, "cdc"},
}};
constexpr NameTable<CdcCopyData, 3> kCdcCopyData{{
    {CdcCopyData::postgres, "postgres"},
    {CdcCopyData::pgdual, "pgdual"},
    {CdcCopyData::none, "none"},
}};
constexpr NameTable<CdcWait, 2> kCdcWaits{{
    {CdcWait::none, "none"},
    {CdcWait::commit, "commit"},
}};
constexpr NameTable<Coordination, 2> kCoordinations{{
    {Coordination::fleet, "fleet"},
    {Coordination::local, "local"},
}};
constexpr NameTable<JournalStore, 2> kJournalStores{{
    {JournalStore::table, "table"},
    {JournalStore::file, "file"},
}};

constexpr NameTable<OnSecondaryFailure, 2> kOnSecondaryFailure{{
    {OnSecondaryFailure::continue_, "continue"},
    {OnSecondaryFailure::fail, "fail"},
}};

constexpr NameTable<DdlPolicy, 3> kDdlPolicies{{
    {DdlPolicy::mirror, "mirror"},
    {DdlPolicy::primary_only, "primary_only"},
    {DdlPolicy::reject, "reject"},
}};
constexpr NameTable<ShadowMode, 2> kShadowModes{{
    {ShadowMode::compare, "compare"},
    {ShadowMode::aa, "aa"},
}};
constexpr NameTable<Nondeterministic, 3> kNondeterministic{{
    {Nondeterministic::allow, "allow"},
    {Nondeterministic::serialize, "serialize"},
    {Nondeterministic::reject, "reject"},
}};
constexpr NameTable<MappingRollback, 2> kMappingRollback{{
    {MappingRollback::refuse_if_lossy, "refuse_if_lossy"},
    {MappingRollback::allow, "allow"},
}};
constexpr NameTable<LogValues, 2> kLogValues{{
    {LogValues::redacted, "redacted"},
    {LogValues::full, "full"},
}};

template <class E, std::size_t N>
std::string_view name_of(const NameTable<E, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";
}

template <class E, std::size_t N>
std::optional<E> value_of(const NameTable<E, N>& table, std::string_view text) {
  for (const auto& [e, name] : table) {
    if (name == text) return e;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(AuthMethod v) { return name_of(kAuthMethods, v); }
std::string_view to_string(SslMode v) { return name_of(kSslModes, v); }
std::string_view to_string(Phase v) { return name_of(kPhases, v); }
std::string_view to_string(Strategy v) { return name_of(kStrategies, v); }
std::string_view to_string(JournalStore v) { return name_of(kJournalStores, v); }
std::string_view to_string(OnSecondaryFailure v) { return name_of(kOnSecondaryFailure, v); }
std::string_view to_string(DdlPolicy v) { return name_of(kDdlPolicies, v); }
std::string_view to_string(ShadowMode v) { return name_of(kShadowModes, v); }
std::string_view to_string(Nondeterministic v) { return name_of(kNondeterministic, v); }
std::string_view to_string(MappingRollback v) { return name_of(kMappingRollback, v); }
std::string_view to_string(LogValues v) { return name_of(kLogValues, v); }
std::string_view to_string(CdcCopyData v) { return name_of(kCdcCopyData, v); }
std::string_view to_string(CdcWait v) { return name_of(kCdcWaits, v); }
std::string_view to_string(Coordination v) { return name_of(kCoordinations, v); }

std::optional<AuthMethod> parse_auth_method(std::string_view s) {
  return value_of(kAuthMethods, s);
}
std::optional<SslMode> parse_ssl_mode(std::string_view s) { return value_of(kSslModes, s); }
std::optional<Phase> parse_phase(std::string_view s) { return value_of(kPhases, s); }
std::optional<Strategy> parse_strategy(std::string_view s) { return value_of(kStrategies, s); }
std::optional<JournalStore> parse_journal_store(std::string_view s) {
  return value_of(kJournalStores, s);
}
std::optional<OnSecondaryFailure> parse_on_secondary_failure(std::string_view s) {
  return value_of(kOnSecondaryFailure, s);
}
std::optional<DdlPolicy> parse_ddl_policy(std::string_view s) { return value_of(kDdlPolicies, s); }
std::optional<ShadowMode> parse_shadow_mode(std::string_view s) {
  return value_of(kShadowModes, s);
}
std::optional<Nondeterministic> parse_nondeterministic(std::string_view s) {
  return value_of(kNondeterministic, s);
}
std::optional<MappingRollback> parse_mapping_rollback(std::string_view s) {
  return value_of(kMappingRollback, s);
}
std::optional<LogValues> parse_log_values(std::string_view s) { return value_of(kLogValues, s); }
std::optional<CdcCopyData> parse_cdc_copy_data(std::string_view s) {
  return value_of(kCdcCopyData, s);
}
std::optional<CdcWait> parse_cdc_wait(std::string_view s) { return value_of(kCdcWaits, s); }
std::optional<Coordination> parse_coordination(std::string_view s) {
  return value_of(kCoordinations, s);
}

bool is_scram_verifier(std::string_view password) {
  return password.substr(0, 14) == "SCRAM-SHA-256$";
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
  std::string out;
  const bool ipv6 = host.find(':') != std::string_view::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

}  // namespace pgdual::config
