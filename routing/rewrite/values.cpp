#include "routing/rewrite/values.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "text/sql_quote.hpp"

namespace pgdual::routing {

namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

}  // namespace

std::string utc_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(micros % 1000000));
  return text;
}

double random_unit_double() {
  // 53 random bits: every double in [0, 1) with that spacing is equally likely.
  return static_cast<double>(generator()() >> 11) * 0x1.0p-53;
}

std::string random_uuid_v4() {
  std::uint64_t high = generator()();
  std::uint64_t low = generator()();
  high = (high & ~0xF000ULL) | 0x4000ULL;            // version 4
  low = (low & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // variant 10
  char text[40];
  std::snprintf(text, sizeof text, "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(high >> 32),
                static_cast<unsigned long long>((high >> 16) & 0xFFFF),
                static_cast<unsigned long long>(high & 0xFFFF),
                static_cast<unsigned long long>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFULL));
  return text;
}

std::string primary_values_query(const PrimaryValuesRequest& request) {
  std::string sql = "SELECT ";
  bool first = true;
  if (request.transaction_timestamp) {
    sql +=
        "pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD HH24:MI:SS.US') || '+00'";
    first = false;
  }
  for (const auto& sequence : request.sequences) {
    if (!first) sql += ", ";
    sql += "pg_catalog.nextval(" + text::quote_literal(sequence) + ")";
    first = false;
  }
  return sql;
}

bool build_rewrite_values(const RewriteAnalysis& analysis,
                          const std::optional<std::string>& transaction_timestamp,
                          const std::vector<std::int64_t>& sequence_values, RewriteValues& values) {
  if (sequence_values.size() != analysis.sequences.size()) return false;
  const std::string clock = utc_timestamp_now();
  values.timestamps.clear();
  for (const auto& slot : analysis.time_slots) {
    const bool of_open_transaction = slot.scope == TimeScope::transaction && !slot.new_transaction;
    values.timestamps.push_back(
        of_open_transaction && transaction_timestamp ? *transaction_timestamp : clock);
  }
  values.randoms.clear();
  for (std::size_t i = 0; i < analysis.random_count; ++i)
    values.randoms.push_back(random_unit_double());
  values.uuids.clear();
  for (std::size_t i = 0; i < analysis.uuid_count; ++i) values.uuids.push_back(random_uuid_v4());
  values.sequence_values = sequence_values;
  return true;
}

}  // namespace pgdual::routing
