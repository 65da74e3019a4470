// The relay's secondary side: applying one entry, deciding what a failure
// means, probing while backing off, pruning old idempotency markers.

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "journal/relay/relay.hpp"
#include "journal/relay/replay_policy.hpp"
#include "journal/relay/replayer.hpp"

namespace pgdual::journal {

namespace {

// A failure that says nothing about the secondary's health (it answered).
bool secondary_answered(const std::string& sqlstate) {
  return !sqlstate.empty() && sqlstate.rfind("08", 0) != 0 && sqlstate.rfind("57P", 0) != 0;
}

constexpr auto kPruneEvery = std::chrono::minutes(1);
// Markers stay an hour longer than the oldest pending entry: an original
// write carrying a marker committed before its entry was created, and the
// two clocks (primary, this host) may differ a little.
constexpr auto kPruneMargin = std::chrono::hours(1);
constexpr auto kPruneIdle = std::chrono::hours(24);

}  // namespace

JournalRelay::Attempt JournalRelay::replay_one(const config::Config& settings,
                                               const std::string& database,
                                               const JournalRecord& record,
                                               const std::string& key) {
  Attempt attempt;
  const auto target = store_target(settings, database, false, kRelayApplicationName);
  if (!target) return attempt;  // paused: no secondary in this phase
  auto& secondary = secondaries_[database];
  std::string error;
  bool fresh = false;
  if (!secondary.link.ensure(target->conninfo, target->connect_timeout, cancelled_, error,
                             &fresh)) {
    if (cancelled()) return attempt;
    context_.metrics.set_secondary_healthy(false);
    return failure(settings, record, database, "", "secondary unreachable: " + error);
  }
  if (fresh) secondary.applied_ready = false;
  if (!secondary.applied_ready) {
    auto reply = ensure_applied_table(secondary.link.get(), context_.schema, cancelled_);
    if (!reply.ok) {
      if (reply.broken) secondary.link.reset();
      if (cancelled()) return attempt;
      context_.metrics.set_secondary_healthy(secondary_answered(reply.sqlstate));
      return failure(settings, record, database, reply.sqlstate,
                     "creating applied_transactions: " + reply.error);
    }
    secondary.applied_ready = true;
  }
  auto result = replay_record(secondary.link.get(), record, context_.schema, key, cancelled_);
  if (result.broken) secondary.link.reset();
  switch (result.kind) {
    case ReplayResult::Kind::applied:
      context_.metrics.replays_applied().Increment();
      break;
    case ReplayResult::Kind::already_applied:
      context_.metrics.replays_already_applied().Increment();
      spdlog::debug("journal relay: entry {} of database \"{}\" was applied before", record.id,
                    database);
      break;
    case ReplayResult::Kind::nothing_to_apply:
      context_.metrics.replays_applied().Increment();
      spdlog::warn("journal relay: entry {} of database \"{}\" ends with ROLLBACK: nothing applied",
                   record.id, database);
      break;
    case ReplayResult::Kind::give_up:
      context_.metrics.replays_failed().Increment();
      attempt.verdict = Verdict::dead;
      attempt.attempts = record.attempts + 1;
      attempt.error = std::move(result.error);
      return attempt;
    case ReplayResult::Kind::failed:
      if (cancelled()) return attempt;  // our own shutdown, not the secondary's fault
      context_.metrics.set_secondary_healthy(!result.broken && secondary_answered(result.sqlstate));
      return failure(settings, record, database, std::move(result.sqlstate),
                     std::move(result.error));
  }
  context_.metrics.set_secondary_healthy(true);
  attempt.verdict = Verdict::done;
  return attempt;
}

JournalRelay::Attempt JournalRelay::failure(const config::Config& settings,
                                            const JournalRecord& record,
                                            const std::string& database, std::string sqlstate,
                                            std::string error) {
  const auto& journal = settings.migration.journal;
  Attempt attempt;
  attempt.sqlstate = std::move(sqlstate);
  attempt.error = std::move(error);
  attempt.attempts = record.attempts + 1;
  context_.metrics.replays_failed().Increment();
  const replay::Policy policy{journal.max_attempts, journal.permanent_sqlstates};
  if (replay::decide(attempt.sqlstate, attempt.attempts, policy) == replay::Decision::dead_letter) {
    attempt.verdict = Verdict::dead;
    return attempt;
  }
  context_.metrics.retries().Increment();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  attempt.delay =
      replay::next_delay(record.attempts, journal.retry_base, journal.retry_max, unit(random_));
  attempt.verdict = Verdict::retry;
  spdlog::warn(
      "journal relay: entry {} of database \"{}\" failed on the secondary (attempt {}, {}): {}; "
      "retrying in {} ms",
      record.id, database, attempt.attempts,
      attempt.sqlstate.empty() ? "no SQLSTATE" : attempt.sqlstate, attempt.error,
      attempt.delay.count());
  return attempt;
}

void JournalRelay::log_dead(const std::string& database, const JournalRecord& record,
                            const Attempt& attempt) {
  context_.metrics.dead_letters().Increment();
  context_.metrics.count_reconciliation(database, record.tables);
  spdlog::error(
      "journal relay: entry {} of database \"{}\" moved to the dead letter after {} attempts "
      "({}: {}); tables [{}] need reconciliation",
      record.id, database, attempt.attempts,
      attempt.sqlstate.empty() ? "no SQLSTATE" : attempt.sqlstate, attempt.error,
      fmt::join(record.tables, ","));
}

void JournalRelay::probe(const config::Config& settings, const std::string& database) {
  const auto target = store_target(settings, database, false, kRelayApplicationName);
  if (!target) return;
  auto& secondary = secondaries_[database];
  std::string error;
  bool fresh = false;
  if (!secondary.link.ensure(target->conninfo, target->connect_timeout, cancelled_, error,
                             &fresh)) {
    if (!cancelled()) context_.metrics.set_secondary_healthy(false);
    return;
  }
  if (fresh) secondary.applied_ready = false;
  auto reply = pg::exec(secondary.link.get(), "SELECT 1", cancelled_);
  if (reply.broken) secondary.link.reset();
  if (!cancelled()) context_.metrics.set_secondary_healthy(reply.ok);
}

void JournalRelay::maybe_prune(const config::Config& settings, const std::string& database,
                               const Look& look) {
  auto found = secondaries_.find(database);
  if (found == secondaries_.end()) return;
  auto& secondary = found->second;
  if (!secondary.link.connected() || !secondary.applied_ready) return;
  const auto now = Clock::now();
  if (secondary.last_prune != Clock::time_point{} && now - secondary.last_prune < kPruneEvery)
    return;
  secondary.last_prune = now;
  auto before = std::chrono::system_clock::now() - kPruneIdle;
  if (look.records > 0) {
    before = std::chrono::system_clock::now() -
             std::chrono::duration_cast<std::chrono::system_clock::duration>(
                 std::chrono::duration<double>(look.oldest_age_seconds)) -
             kPruneMargin;
  }
  auto reply = pg::exec(secondary.link.get(), replay::applied_prune_sql(context_.schema, before),
                        cancelled_);
  if (reply.broken) secondary.link.reset();
  if (!reply.ok && !cancelled()) {
    spdlog::warn("journal relay: pruning applied_transactions in database \"{}\" failed: {} {}",
                 database, reply.sqlstate, reply.error);
  }
}

}  // namespace pgdual::journal
