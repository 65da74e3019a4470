#include "jobs/backfill/journal_fence.hpp"

#include <thread>

#include "jobs/backfill/blocking_query.hpp"
#include "libpq/connection.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::backfill {

namespace {

using pg::Result;
using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll{20};

}  // namespace

JournalFence::JournalFence(std::string schema, std::chrono::milliseconds max_wait)
    : schema_(std::move(schema)), max_wait_(max_wait) {}

bool JournalFence::find(PGconn* old_store, std::string& error) {
  const Result result = run_query(
      old_store,
      "SELECT format('%I.journal', $1::text), to_regclass(format('%I.journal', $1::text))",
      {schema_}, error);
  if (!result) return false;
  table_ = PQgetvalue(result.get(), 0, 0);
  present_ = PQgetisnull(result.get(), 0, 1) == 0;
  return true;
}

std::string JournalFence::wait(PGconn* old_store, const std::function<bool()>& cancelled) {
  waited_ = std::chrono::milliseconds(0);
  if (!present_) return "";
  std::string error;
  const std::string fence = single_value(old_store, "SELECT max(id) FROM " + table_, {}, error);
  if (!error.empty()) return error;
  if (fence.empty()) return "";  // the journal is empty
  const auto start = Clock::now();
  for (;;) {
    // Each statement takes a new snapshot (READ COMMITTED), so applied entries disappear.
    const std::string left = single_value(
        old_store, "SELECT count(*) FROM " + table_ + " WHERE id <= " + fence, {}, error);
    if (!error.empty()) return error;
    waited_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (left == "0") return "";
    if (waited_ >= max_wait_) {
      return left + " journal entries up to id " + fence +
             " were not applied to the new store within " + std::to_string(max_wait_.count()) +
             " ms";
    }
    if (cancelled && cancelled()) return "cancelled";
    std::this_thread::sleep_for(kPoll);
  }
}

std::int64_t JournalFence::appended(PGconn* old_store) const {
  if (!present_) return 0;
  std::string error;
  const std::string value = single_value(old_store,
                                         "SELECT pg_catalog.pg_sequence_last_value("
                                         "pg_catalog.pg_get_serial_sequence(" +
                                             text::quote_literal(table_) + ", 'id')::regclass)",
                                         {}, error);
  return value.empty() ? 0 : std::stoll(value);
}

}  // namespace pgdual::jobs::backfill
