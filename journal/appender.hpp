#pragma once
// The appender of JournalService: one thread that stores records in FIFO
// order, so the data path never waits for the store. Table store: an INSERT
// on its own connection per database to the primary (reconnecting as
// needed; it creates the schema when the table is missing). File store:
// FileJournal::append (fsynced). A failed write is retried for about five
// seconds, then reported to the caller, which records the tables for
// reconciliation.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "journal/context.hpp"
#include "libpq/connection.hpp"

namespace pgdual::journal {

class JournalAppender {
 public:
  explicit JournalAppender(JournalContext& context) : context_(context) {}
  ~JournalAppender() { stop(); }

  void start();
  // Stores what is queued (one attempt each), then joins; I/O still running
  // when context.abandon_at passes is abandoned and reported as failed.
  void stop();
  // `done` runs on the appender's thread (inline when it is not running).
  void push(std::string database, JournalRecord record, JournalService::AppendDone done);
  // One of pgdual's own statements for the table store (instances bookkeeping), in the same
  // FIFO order; not a journal entry (the gate and the append metrics ignore it).
  void push_statement(std::string database, std::string sql, JournalService::AppendDone done);

 private:
  struct Task {
    std::string database;
    JournalRecord record;
    JournalService::AppendDone done;
    std::string statement;  // push_statement: run this instead of storing the record
  };

  void run();
  bool store(Task& task, std::string& error);
  bool store_in_table(Task& task, bool last_try, std::string& error);
  bool stopping() const;

  JournalContext& context_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool running_ = false;
  bool stopping_ = false;
  std::map<std::string, pg::Link> links_;  // by database; appender thread only
};

}  // namespace pgdual::journal
