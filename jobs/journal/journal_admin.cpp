#include "jobs/journal/journal_admin.hpp"

#include <fmt/format.h>

#include "journal/relay/replay_policy.hpp"
#include "journal/store/file_journal.hpp"
#include "libpq/connection.hpp"
#include "libpq/conninfo.hpp"
#include "routing/phase_rules.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs {

namespace {

const config::BackendConfig& primary_backend(const config::Config& config) {
  const auto roles = routing::roles_for(config.migration.phase, config.migration.keep_old_in_sync);
  return roles.primary == routing::Store::old_store ? config.old_backend : config.new_backend;
}

struct Session {
  pg::Conn conn;
  std::string error;
};

Session open_primary(const config::Config& config, const std::string& database) {
  const auto& backend = primary_backend(config);
  Session session;
  session.conn = pg::connect(
      pg::libpq_conninfo(backend, backend.dbname.value_or(database), "pgdual journal admin"),
      backend.connect_timeout, [] { return false; }, session.error);
  return session;
}

std::string table(const config::Config& config, std::string_view name) {
  return text::quote_identifier(config.migration.journal.schema) + "." + std::string(name);
}

JournalAdminReport file_report(const config::Config& config, bool purge) {
  JournalAdminReport report;
  journal::FileJournal journal;
  if (auto error = journal.open(config.migration.journal.directory)) {
    report.error = *error + " (a running pgdual holds the directory: stop it, or read its metrics)";
    return report;
  }
  const auto depth = journal.depth();
  if (purge) {
    if (auto error = journal.purge()) {
      report.error = *error;
      return report;
    }
    report.lines.push_back(
        fmt::format("purged {} pending record(s) and the dead-letter log from {}", depth.records,
                    journal.directory()));
    return report;
  }
  report.lines.push_back(fmt::format("pending\t{}\tbytes\t{}", depth.records, depth.bytes));
  if (auto age = journal.oldest_pending_age()) {
    report.lines.push_back(
        fmt::format("oldest_age_seconds\t{:.1f}", std::chrono::duration<double>(*age).count()));
  }
  report.lines.push_back("dead_letter_file\t" + journal.directory() + "/dead-letter.log");
  return report;
}

}  // namespace

JournalAdminReport journal_status(const config::Config& config,
                                  const JournalAdminOptions& options) {
  if (config.migration.journal.store == config::JournalStore::file)
    return file_report(config, false);
  JournalAdminReport report;
  auto session = open_primary(config, options.database);
  if (!session.conn) {
    report.error = "cannot connect to the primary: " + session.error;
    return report;
  }
  const auto pending = pg::exec(session.conn.get(),
                                "SELECT count(*), coalesce(sum(bytes), 0), coalesce(extract(epoch "
                                "FROM now() - min(created_at)), 0)::float8 FROM " +
                                    table(config, "journal"),
                                [] { return false; });
  if (!pending.ok) {
    report.error = pending.sqlstate == "42P01" ? "no journal in database " + options.database +
                                                     " (nothing was ever journaled there)"
                                               : "cannot read the journal: " + pending.error;
    return report;
  }
  report.lines.push_back(fmt::format("pending\t{}\tbytes\t{}\toldest_age_seconds\t{}",
                                     pending.value(0, 0), pending.value(0, 1),
                                     pending.value(0, 2)));
  const auto by_instance = pg::exec(session.conn.get(),
                                    "SELECT instance, count(*) FROM " + table(config, "journal") +
                                        " GROUP BY instance ORDER BY instance",
                                    [] { return false; });
  for (int row = 0; by_instance.ok && row < by_instance.rows(); ++row) {
    report.lines.push_back(fmt::format("instance\t{}\tpending\t{}", by_instance.value(row, 0),
                                       by_instance.value(row, 1)));
  }
  const auto dead =
      pg::exec(session.conn.get(), "SELECT count(*) FROM " + table(config, "dead_letter"),
               [] { return false; });
  if (dead.ok) report.lines.push_back("dead_letter\t" + dead.value(0, 0));
  return report;
}

JournalAdminReport journal_purge(const config::Config& config, const JournalAdminOptions& options) {
  if (config.migration.journal.store == config::JournalStore::file)
    return file_report(config, true);
  JournalAdminReport report;
  auto session = open_primary(config, options.database);
  if (!session.conn) {
    report.error = "cannot connect to the primary: " + session.error;
    return report;
  }
  const auto purged =
      pg::exec(session.conn.get(), "DELETE FROM " + table(config, "journal"), [] { return false; });
  if (!purged.ok) {
    report.error = "cannot purge the journal: " + purged.error;
    return report;
  }
  report.lines.push_back(std::string("purged journal: ") + PQcmdTuples(purged.result.get()) +
                         " record(s)");
  if (options.dead_letter) {
    const auto dead = pg::exec(session.conn.get(), "DELETE FROM " + table(config, "dead_letter"),
                               [] { return false; });
    if (!dead.ok) {
      report.error = "cannot purge the dead letter: " + dead.error;
      return report;
    }
    report.lines.push_back(std::string("purged dead letter: ") + PQcmdTuples(dead.result.get()) +
                           " record(s)");
  }
  return report;
}

}  // namespace pgdual::jobs
