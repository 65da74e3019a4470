#include "cutover/instance_samples.hpp"

#include <algorithm>
#include <charconv>

#include "text/sql_quote.hpp"

namespace pgdual::cutover {

namespace {

std::string table(std::string_view schema) {
  return text::quote_identifier(std::string(schema)) + ".instance_samples";
}

// The growth from `base` to `last` of one counter; a counter that went backwards restarted.
std::uint64_t growth(std::uint64_t base, std::uint64_t last) {
  return last >= base ? last - base : last;
}

void add_growth(InstanceCounters& into, const InstanceCounters& base,
                const InstanceCounters& last) {
  const bool restarted = last.shadow_compared < base.shadow_compared ||
                         last.secondary_writes_ok < base.secondary_writes_ok;
  const InstanceCounters zero;
  const InstanceCounters& from = restarted ? zero : base;
  into.shadow_compared += growth(from.shadow_compared, last.shadow_compared);
  into.shadow_matched += growth(from.shadow_matched, last.shadow_matched);
  into.secondary_writes_ok += growth(from.secondary_writes_ok, last.secondary_writes_ok);
  into.secondary_writes_failed +=
      growth(from.secondary_writes_failed, last.secondary_writes_failed);
  const auto add_buckets = [](std::vector<std::uint64_t>& sum,
                              const std::vector<std::uint64_t>& start,
                              const std::vector<std::uint64_t>& end) {
    if (sum.size() < end.size()) sum.resize(end.size());
    for (std::size_t i = 0; i < end.size(); ++i) {
      sum[i] += growth(i < start.size() ? start[i] : 0, end[i]);
    }
  };
  add_buckets(into.client_latency, from.client_latency, last.client_latency);
  add_buckets(into.primary_latency, from.primary_latency, last.primary_latency);
}

}  // namespace

std::string samples_ddl(std::string_view schema) {
  return "CREATE SCHEMA IF NOT EXISTS " + text::quote_identifier(std::string(schema)) +
         "; CREATE TABLE IF NOT EXISTS " + table(schema) +
         " (instance text NOT NULL, taken_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
         "phase text NOT NULL, journal_depth bigint NOT NULL, stopped boolean NOT NULL, "
         "shadow_compared bigint NOT NULL, shadow_matched bigint NOT NULL, "
         "secondary_writes_ok bigint NOT NULL, secondary_writes_failed bigint NOT NULL, "
         "client_latency bigint[] NOT NULL, primary_latency bigint[] NOT NULL, "
         "PRIMARY KEY (instance, taken_at))";
}

std::string insert_sample_sql(std::string_view schema) {
  return "INSERT INTO " + table(schema) +
         " (instance, phase, journal_depth, stopped, shadow_compared, shadow_matched, "
         "secondary_writes_ok, secondary_writes_failed, client_latency, primary_latency) VALUES "
         "($1, $2, $3::bigint, $4::boolean, $5::bigint, $6::bigint, $7::bigint, $8::bigint, "
         "$9::bigint[], $10::bigint[])";
}

std::string prune_samples_sql(std::string_view schema) {
  return "DELETE FROM " + table(schema) +
         " WHERE taken_at < clock_timestamp() - make_interval(secs => $1::double precision)";
}

std::string read_samples_sql(std::string_view schema) {
  return "SELECT instance, extract(epoch FROM clock_timestamp() - taken_at)::float8, phase, "
         "journal_depth, stopped, shadow_compared, shadow_matched, secondary_writes_ok, "
         "secondary_writes_failed, client_latency::text, primary_latency::text FROM " +
         table(schema) +
         " WHERE taken_at >= clock_timestamp() - make_interval(secs => $1::double precision) "
         "ORDER BY instance, taken_at";
}

std::string bigint_array(const std::vector<std::uint64_t>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

std::vector<std::uint64_t> parse_bigint_array(std::string_view text) {
  std::vector<std::uint64_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') {
      ++i;
      continue;
    }
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data() + i, text.data() + text.size(), value);
    out.push_back(error == std::errc() ? value : 0);
    i = static_cast<std::size_t>(end - text.data());
  }
  return out;
}

FleetTotals fleet_totals(const std::vector<InstanceSample>& samples, double window_seconds,
                         double fresh_seconds) {
  FleetTotals totals;
  for (std::size_t begin = 0; begin < samples.size();) {
    std::size_t end = begin;
    while (end < samples.size() && samples[end].instance == samples[begin].instance) ++end;
    const InstanceSample& newest = samples[end - 1];
    InstanceSample member = newest;
    member.counters = {};  // the status shows who and when, not the counters
    totals.newest.push_back(std::move(member));
    if (!newest.stopped && newest.age_seconds <= fresh_seconds) {
      // The baseline: the newest sample taken before the window began, else nothing (zeros).
      const InstanceSample* base = nullptr;
      for (std::size_t i = begin; i < end; ++i) {
        if (samples[i].age_seconds > window_seconds) base = &samples[i];
      }
      add_growth(totals.counters, base ? base->counters : InstanceCounters{}, newest.counters);
      totals.live.push_back(newest.instance);
      if (newest.journal_depth < 0) {
        totals.journal_depth_known = false;
      } else {
        totals.journal_depth = std::max(totals.journal_depth, newest.journal_depth);
      }
    }
    begin = end;
  }
  return totals;
}

}  // namespace pgdual::cutover
