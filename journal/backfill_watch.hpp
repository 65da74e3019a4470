#pragma once
// The backfill watch: one thread of JournalService that, every kPollInterval, reads the backfill
// job's progress (<schema>.backfill_progress, written by `pgdual backfill`, docs/backfill.md) on
// the NEW store in every database this instance knows, and publishes it through
// metrics::BackfillMetrics. So every pgdual instance exports the job's progress, whichever
// process runs the job. On the same connections it keeps the reconciliation queue
// (<schema>.reconcile_queue): it adds the tables this instance marked since the last pass and
// publishes the queue through metrics::ReconcileMetrics (reconcile_queue_flush.hpp).
//
// It runs whatever the phase and migration.journal.enabled say: a database without the table
// (no backfill there, or not yet) is skipped quietly, and so is one the new store does not have
// (looked for again every kMissingRetry only, so the new store's log does not fill with FATALs).
//
// One connection per database to the new store (application_name "pgdual backfill watch"),
// kept between reads. A database that cannot be read keeps its last values; the failure is
// logged once per streak, never with the conninfo (it holds the password).
//
// Thread safety: note_database() may be called from any thread; start() and stop() from one.

#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "journal/reconcile_queue_flush.hpp"
#include "libpq/connection.hpp"
#include "metrics/backfill_metrics.hpp"
#include "metrics/journal_metrics.hpp"
#include "metrics/reconcile_metrics.hpp"

namespace pgdual::journal {

inline constexpr std::string_view kBackfillWatchApplicationName = "pgdual backfill watch";

class BackfillWatch {
 public:
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;
  // Databases to read besides the noted ones (the journal's: migration.journal.databases and
  // those its sessions write).
  using Databases = std::function<std::vector<std::string>(const config::Config&)>;

  static constexpr std::chrono::seconds kPollInterval{5};
  static constexpr std::chrono::seconds kReadTimeout{10};   // one database's connect and read
  static constexpr std::chrono::seconds kMissingRetry{60};  // a database the new store lacks
  static constexpr int kMaxRows = 10000;                    // read per database

  // The metrics it publishes, and where it takes the reconciliation marks from.
  struct Sinks {
    metrics::BackfillMetrics& backfill;
    metrics::JournalMetrics& marks;
    metrics::ReconcileMetrics& queue;
  };

  BackfillWatch(Sinks sinks, ConfigSource config, std::string schema, Databases databases);
  ~BackfillWatch() { stop(); }
  BackfillWatch(const BackfillWatch&) = delete;
  BackfillWatch& operator=(const BackfillWatch&) = delete;

  void start();  // idempotent
  // Returns within libpq's poll slice (about 100 ms): every wait gives up when asked to.
  void stop();
  // A database a session of this instance uses; a new one is read at once.
  void note_database(const std::string& database);

  // The statements of a read: whether the table exists, then its rows.
  static std::string exists_sql(const std::string& schema);
  static std::string progress_sql(const std::string& schema);
  // One row of progress_sql's result, its columns as text ("" for NULL); nullopt when a
  // number does not parse.
  using Fields = std::array<std::string, 6>;
  static std::optional<metrics::BackfillRow> parse_row(const std::string& database,
                                                       const Fields& fields);

 private:
  using Clock = std::chrono::steady_clock;
  struct Watched {  // one database of the new store
    pg::Link link;
    std::vector<metrics::BackfillRow> rows;  // the last read
    ReconcileQueueState queue;
    bool down_logged = false;
    bool absent_logged = false;  // the table is not there (logged at debug)
    Clock::time_point retry_at{};
  };

  void run();
  void pass();
  void read(const config::Config& settings, const std::string& dbname, Watched& watched,
            PendingMarks& marks);
  void read_progress(const std::string& dbname, Watched& watched, const pg::Cancelled& cancelled);
  void failed(const std::string& dbname, Watched& watched, const pg::Reply& reply,
              std::string_view what);
  bool stopping() const;

  Sinks sinks_;
  const ConfigSource config_;
  const std::string schema_;
  const Databases databases_;
  std::thread thread_;
  std::map<std::string, Watched> watched_;  // by the new store's dbname; watch thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  bool stopping_ = false;
  std::set<std::string> noted_;
};

}  // namespace pgdual::journal
