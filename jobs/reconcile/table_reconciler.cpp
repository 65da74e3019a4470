#include "jobs/reconcile/table_reconciler.hpp"

#include <limits>

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/backfill/chunk_sizer.hpp"
#include "jobs/backfill/table_lock.hpp"
#include "jobs/reconcile/key_stepper.hpp"
#include "jobs/reconcile/range_scanner.hpp"

namespace pgdual::jobs::reconcile {

namespace {

using Clock = std::chrono::steady_clock;

// A chunk of a table is at most this many rows, whatever its rate: a checksum query stays short
// enough that a stop (a signal, --max-seconds) is honoured within seconds.
backfill::ChunkSizer::Limits chunk_limits() {
  backfill::ChunkSizer::Limits limits;
  limits.first = 10000;
  limits.min = 1000;
  limits.max = RangeScanner::kListMax;  // a listed chunk is held in memory
  return limits;
}

constexpr int kProofAttempts = 3;

}  // namespace

// A table keyed by one integer column is cut into chunks by key value (key_stepper.hpp), from
// its smallest to its largest key over both stores.
std::string TableReconciler::make_stepper(const TablePlan& plan,
                                          std::optional<KeyStepper>& stepper) {
  if (plan.key.size() != 1 || !KeyStepper::steps(plan.key[0].type)) return "";
  const auto sql = [&](const TablePlan& side) {
    return "SELECT min(" + side.key[0].quoted + ")::text, max(" + side.key[0].quoted +
           ")::text FROM " + side.target_quoted;
  };
  auto both = query_both(stores_.old_store.get(), sql(backfill::old_store_side(plan)),
                         stores_.new_store.get(), sql(plan));
  if (!both.error.empty()) return both.error;
  std::optional<std::int64_t> first, last;
  for (const pg::Result* result : {&both.old_rows, &both.new_rows}) {
    if (PQntuples(result->get()) != 1 || PQgetisnull(result->get(), 0, 0) != 0) continue;
    const std::int64_t low = std::stoll(PQgetvalue(result->get(), 0, 0));
    const std::int64_t high = std::stoll(PQgetvalue(result->get(), 0, 1));
    first = first ? std::min(*first, low) : low;
    last = last ? std::max(*last, high) : high;
  }
  // Empty on both stores: one open chunk; a smallest key at the type's lower end: the OFFSET
  // boundaries (start(), one below it, would not cast to the type).
  const std::int64_t lowest =
      plan.key[0].type == "smallint"  ? std::numeric_limits<std::int16_t>::min()
      : plan.key[0].type == "integer" ? std::numeric_limits<std::int32_t>::min()
                                      : std::numeric_limits<std::int64_t>::min();
  if (first && last && *first > lowest) {
    stepper.emplace(*first, *last);
  }
  return "";
}

bool TableReconciler::out_of_time() const {
  if (settings_.stop != nullptr && settings_.stop->load()) return true;
  return settings_.deadline != Clock::time_point{} && Clock::now() >= settings_.deadline;
}

void TableReconciler::run(const TablePlan& plan) {
  const auto started = Clock::now();
  update_([](TableReport& report) { report.state = "comparing"; });
  std::string error;
  if (!stores_.healthy()) error = stores_.connect(config_, settings_.database);
  PGconn* new_store = stores_.new_store.get();
  if (error.empty()) {
    const auto lock = backfill::lock_table(new_store, plan.target, error, kReconcileJob);
    if (lock == backfill::TableLock::held_elsewhere) {
      error = backfill::held_elsewhere_message(plan.target, kReconcileJob);
    }
  }
  const bool locked = error.empty();
  std::int64_t marked = 0;
  if (error.empty()) {
    marked = state_.marked(new_store, plan.target, error);
    if (!error.empty()) error = "new store: " + error;
  }
  if (error.empty()) error = compare_table(plan);
  if (error.empty() && settings_.proof && state_name_ == "done") error = prove(plan);

  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::int64_t remaining = 0;
  update_([&](TableReport& report) {
    report.seconds = seconds;
    report.error = error;
    report.state = error.empty() ? state_name_ : "failed";
    remaining = report.remaining();
  });
  if (stores_.healthy()) {
    const std::string state = error.empty() ? state_name_ : "failed";
    state_.finish(new_store, plan.target, state, error);
    // Only a comparison that reached the table's end resolves the marks it read at its start.
    if (state == "done") {
      state_.resolve(new_store, plan.target, marked, remaining,
                     remaining == 0 ? "" : std::to_string(remaining) + " differences left");
    }
  }
  if (locked && stores_.healthy()) backfill::unlock_table(new_store, plan.target, kReconcileJob);
}

std::string TableReconciler::compare_table(const TablePlan& plan) {
  PGconn* new_store = stores_.new_store.get();
  const TablePlan old_plan = backfill::old_store_side(plan);
  std::string error;
  const auto saved = state_.begin(new_store, plan, settings_.job, settings_.resume, error);
  if (!error.empty()) return "new store: " + error;
  SavedProgress totals;
  Key after;
  if (saved) {
    totals = *saved;
    after = saved->last_key;
    update_([&](TableReport& report) {
      report.rows_compared = saved->rows_compared;
      report.earlier_differences = saved->differences;
      report.repaired = saved->repaired;
    });
  }
  RangeScanner scanner(plan, settings_.recheck.options, stores_);
  Rechecker rechecker(plan, settings_.recheck, stores_);
  backfill::ChunkSizer sizer(settings_.chunk_target, chunk_limits());
  std::optional<KeyStepper> stepper;
  if (auto failed = make_stepper(plan, stepper); !failed.empty()) return failed;
  if (stepper && after.empty()) after = {std::to_string(stepper->start())};
  // Candidates are rechecked in batches (Rechecker::kBatch keys), not chunk by chunk: a table
  // with differences everywhere pays for a few lock rounds, not two per chunk. Progress is
  // recorded only where every candidate before it has been decided, so --resume skips nothing.
  std::vector<Key> pending;
  std::int64_t pending_rows = 0;
  const auto flush = [&](const Key& decided_until, bool record) -> std::string {
    RecheckOutcome outcome;
    if (auto failed = rechecker.run(pending, outcome); !failed.empty()) return failed;
    pending.clear();
    std::int64_t found = 0;
    update_([&](TableReport& report) {
      report.rows_compared += pending_rows;
      report.ranges = scanner.ranges_checked();
      report.cleared += outcome.cleared;
      report.repaired += outcome.repaired;
      report.repair_failed += outcome.repair_failed;
      for (auto& difference : outcome.differences) {
        ++found;
        switch (difference.kind) {
          case DifferenceKind::only_on_old:
            ++report.only_on_old;
            break;
          case DifferenceKind::only_on_new:
            ++report.only_on_new;
            break;
          case DifferenceKind::different:
            ++report.different;
            break;
        }
        if (static_cast<std::int64_t>(report.differences.size()) < settings_.max_differences) {
          report.differences.push_back(std::move(difference));
        }
      }
      totals.rows_compared = report.rows_compared;
      totals.differences = report.differences_found();
      totals.repaired = report.repaired;
    });
    pending_rows = 0;
    if (settings_.differences_found != nullptr) settings_.differences_found->fetch_add(found);
    if (!record) return "";
    if (auto failed = state_.record(new_store, plan.target, decided_until, totals);
        !failed.empty()) {
      return "new store: " + failed;
    }
    return "";
  };
  for (;;) {
    const bool out_of_differences =
        settings_.differences_found != nullptr &&
        settings_.differences_found->load() >= settings_.max_differences;
    if (out_of_time() || out_of_differences) {
      if (auto failed = flush(after, true); !failed.empty()) return failed;
      state_name_ = out_of_differences ? "stopped" : "paused";
      return "";
    }
    const std::int64_t rows = sizer.next_rows();
    Key last;
    if (stepper) {
      if (const auto end = stepper->next_end(std::stoll(after[0]), rows)) {
        last = {std::to_string(*end)};
      }
    } else {
      const pg::Result boundary = backfill::run_query(
          stores_.old_store.get(), boundary_sql(old_plan, after, rows), {}, error);
      if (!boundary) return "old store: " + error;
      if (PQntuples(boundary.get()) == 1) last = read_key(boundary, 0, plan.key.size());
    }
    const bool last_chunk = last.empty();

    std::int64_t compared = 0;
    if (auto failed = scanner.compare(after, last, compared, pending); !failed.empty()) {
      return failed;
    }
    pending_rows += compared;
    if (!last_chunk && compared > 0) {
      // The rate of the first pass alone, scaled to the size asked for (a stepped chunk holds
      // about, not exactly, that many rows).
      const auto elapsed = scanner.first_pass_time() * rows / compared;
      sizer.record(rows, std::chrono::duration_cast<std::chrono::microseconds>(elapsed));
    }
    if (stepper && !last_chunk) {
      stepper->record(std::stoll(last[0]) - std::stoll(after[0]), compared);
    }
    if (last_chunk) {
      if (auto failed = flush(after, false); !failed.empty()) return failed;
      break;
    }
    after = last;
    if (pending.empty() || pending.size() >= Rechecker::kBatch) {
      if (auto failed = flush(after, true); !failed.empty()) return failed;
    }
  }
  state_name_ = "done";
  return "";
}

// The whole table's count and checksum on both stores, each read in one snapshot; the two
// snapshots are taken at once but are not one point in time, so a write landing between them
// makes the sums differ: taken again up to kProofAttempts times.
std::string TableReconciler::prove(const TablePlan& plan) {
  TableProof proof;
  const std::string old_sql =
      checksum_sql(backfill::old_store_side(plan), settings_.recheck.options, {}, {});
  const std::string new_sql = checksum_sql(plan, settings_.recheck.options, {}, {});
  for (int attempt = 1; attempt <= kProofAttempts; ++attempt) {
    auto both = query_both(stores_.old_store.get(), old_sql, stores_.new_store.get(), new_sql);
    if (!both.error.empty()) return both.error;
    proof.old_sum = read_checksum(both.old_rows);
    proof.new_sum = read_checksum(both.new_rows);
    proof.attempts = attempt;
    if (proof.old_sum == proof.new_sum) break;
  }
  std::int64_t remaining = 0;
  update_([&](TableReport& report) { remaining = report.remaining(); });
  proof.verdict = remaining > 0                    ? "different"
                  : proof.old_sum == proof.new_sum ? "equal"
                                                   : "equal_by_rows";
  update_([&](TableReport& report) { report.proof = proof; });
  ProofRecord record{proof.old_sum.rows, proof.new_sum.rows, proof.old_sum.sum,
                     proof.new_sum.sum,  proof.verdict,      ""};
  return state_.save_proof(stores_.new_store.get(), plan.target, record);
}

}  // namespace pgdual::jobs::reconcile
