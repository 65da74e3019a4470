// Backoff, SQLSTATE classification and the idempotency SQL of the replayer
// (see replay_policy.hpp for the rules and why).

#include "journal/relay/replay_policy.hpp"

#include <algorithm>
#include <array>

#include "journal/store/dead_letter.hpp"  // format_utc

namespace pgdual::journal::replay {

namespace {

// Codes and classes where the same statement can succeed later unchanged.
constexpr std::array<std::string_view, 3> kRetryableClasses = {"08", "53", "58"};
constexpr std::array<std::string_view, 9> kRetryableCodes = {
    "40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "57P05", "25006"};

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string table(std::string_view schema) {
  return text::quote_identifier(schema) + "." + text::quote_identifier(kAppliedTable);
}

}  // namespace

std::chrono::milliseconds backoff_ceiling(std::uint32_t attempt, std::chrono::milliseconds base,
                                          std::chrono::milliseconds cap) {
  using std::chrono::milliseconds;
  if (base <= milliseconds::zero() || cap <= milliseconds::zero()) return milliseconds::zero();
  milliseconds ceiling = std::min(base, cap);
  for (std::uint32_t i = 0; i < attempt && ceiling < cap; ++i) {
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;  // doubling past cap/2 could overflow
  }
  return std::min(ceiling, cap);
}

std::chrono::milliseconds next_delay(std::uint32_t attempt, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap, double random) {
  if (!(random >= 0.0)) random = 0.0;  // also catches NaN
  if (random >= 1.0) random = 0.0;
  const auto ceiling = backoff_ceiling(attempt, base, cap);
  const auto delay = static_cast<std::int64_t>(random * static_cast<double>(ceiling.count()));
  return std::chrono::milliseconds(std::clamp<std::int64_t>(delay, 0, ceiling.count()));
}

ErrorKind classify_sqlstate(std::string_view sqlstate,
                            const std::vector<std::string>& extra_permanent) {
  for (const auto& entry : extra_permanent) {
    if (!entry.empty() && !sqlstate.empty() && starts_with(sqlstate, entry)) {
      return ErrorKind::permanent;
    }
  }
  if (sqlstate.empty()) return ErrorKind::retryable;  // no answer from the secondary
  for (auto code : kRetryableCodes) {
    if (sqlstate == code) return ErrorKind::retryable;
  }
  for (auto error_class : kRetryableClasses) {
    if (starts_with(sqlstate, error_class)) return ErrorKind::retryable;
  }
  return ErrorKind::permanent;
}

Decision decide(std::string_view sqlstate, std::uint32_t failed_attempts, const Policy& policy) {
  if (classify_sqlstate(sqlstate, policy.extra_permanent) == ErrorKind::retryable) {
    return Decision::retry;
  }
  const std::uint32_t limit = std::max<std::uint32_t>(policy.max_attempts, 1);
  return failed_attempts >= limit ? Decision::dead_letter : Decision::retry;
}

std::string marker_key(std::string_view marker, std::string_view instance,
                       std::uint64_t journal_id) {
  if (!marker.empty()) return std::string(marker);
  return std::string(instance) + ":" + std::to_string(journal_id);
}

std::vector<std::string> applied_table_ddl(std::string_view schema) {
  return {
      "CREATE SCHEMA IF NOT EXISTS " + text::quote_identifier(schema),
      "CREATE TABLE IF NOT EXISTS " + table(schema) +
          " (key text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
  };
}

std::string applied_check_sql(std::string_view schema, std::string_view key) {
  return "SELECT 1 FROM " + table(schema) + " WHERE key = " + text::quote_literal(key);
}

std::string applied_marker_sql(std::string_view schema, std::string_view key) {
  return "INSERT INTO " + table(schema) + " (key, applied_at) VALUES (" + text::quote_literal(key) +
         ", now()) ON CONFLICT (key) DO NOTHING RETURNING key";
}

std::string applied_prune_sql(std::string_view schema,
                              std::chrono::system_clock::time_point before) {
  return "DELETE FROM " + table(schema) + " WHERE applied_at < " +
         text::quote_literal(format_utc(before)) + "::timestamptz";
}

}  // namespace pgdual::journal::replay
