// Tests of journal::FileJournal in use: append, pending, outcomes, persistence across
// instances, ids never reused, dead letters and their line format, purge,
// depth and age, concurrent appends, compaction. Recovery at open is in
// proxy_journal_recovery_test.cpp.

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "journal/store/dead_letter.hpp"
#include "journal_test_support.hpp"

using namespace pgdual;

using namespace journal_test;
using namespace std::string_literals;
using std::chrono::seconds;

TEST_CASE("append, pending, mark_applied and reopen") {
  TempDir dir;
  journal::JournalRecord first = make_record("INSERT INTO t VALUES (1)");
  {
    journal::FileJournal journal(numbered());
    REQUIRE_FALSE(journal.open(dir.path("nested/journal")));  // creates missing directories
    auto result = journal.append(first);
    REQUIRE(result.ok());
    CHECK(result.id == 1);
    CHECK(first.id == 1);
    CHECK(first.created_at != Clock::time_point{});  // filled in when unset
    CHECK(append_ok(journal, make_record("INSERT INTO t VALUES (2)")) == 2);
    CHECK(append_ok(journal, make_record("INSERT INTO t VALUES (3)")) == 3);

    auto pending = journal.pending(10);
    REQUIRE(pending.records.size() == 3);
    CHECK(pending.records[0] == first);
    CHECK(journal.pending(2).records.size() == 2);

    REQUIRE_FALSE(journal.mark_applied(1));
    CHECK_FALSE(journal.mark_applied(1));    // idempotent
    CHECK(journal.mark_applied(99));         // never appended
    REQUIRE_FALSE(journal.mark_applied(3));  // out of order is recorded too
    CHECK(pending_ids(journal) == Ids{2});

    journal::FileJournal second;
    CHECK(second.open(dir.path("nested/journal")));  // the lock is held
  }
  journal::FileJournal journal(numbered());
  REQUIRE_FALSE(journal.open(dir.path("nested/journal")));
  CHECK(pending_ids(journal) == Ids{2});
  CHECK(journal.recovery().records_found == 3);
  CHECK(journal.recovery().pending == 1);
  CHECK(journal.recovery().torn_tails == 0);
  CHECK(append_ok(journal, make_record("INSERT INTO t VALUES (4)")) == 4);
  CHECK(pending_ids(journal) == Ids{2, 4});
  CHECK(journal.pending(10).records[0].statements[0].sql == "INSERT INTO t VALUES (2)");
}

TEST_CASE("ids are never reused after the journal empties or is purged") {
  TempDir dir;
  {
    journal::FileJournal journal(numbered());
    REQUIRE_FALSE(journal.open(dir.path()));
    append_ok(journal, make_record("a"));
    append_ok(journal, make_record("b"));
    REQUIRE_FALSE(journal.mark_applied(1));
    REQUIRE_FALSE(journal.mark_applied(2));
    CHECK(fs::file_size(dir.path("journal.log")) == 0);  // drained: emptied
  }
  journal::FileJournal journal(numbered());
  REQUIRE_FALSE(journal.open(dir.path()));
  CHECK(append_ok(journal, make_record("c")) == 3);
  REQUIRE_FALSE(journal.purge());
  journal.close();
  REQUIRE_FALSE(journal.open(dir.path()));
  CHECK(append_ok(journal, make_record("d")) == 4);
}

TEST_CASE("dead letters keep the full context, in dead-letter.log") {
  TempDir dir;
  journal::FileJournal journal(numbered());
  REQUIRE_FALSE(journal.open(dir.path()));
  journal::JournalRecord record =
      make_record("INSERT INTO t (id, note, blob) VALUES ($1, $2, $3)", 7);
  record.session_state = {"SET search_path TO app"};
  record.statements[0].param_type_oids = {23, 25, 17};
  record.statements[0].param_formats = {journal::ParamFormat::binary, journal::ParamFormat::text,
                                        journal::ParamFormat::binary};
  record.statements[0].param_values = {"\0\0\0\x2a"s, std::nullopt, "\xde\xad"s};
  record.statements.push_back(
      journal::JournalStatement{"COPY t FROM STDIN", {}, {}, {}, "1\t\"q\"\n"});
  const std::uint64_t id = append_ok(journal, record);
  append_ok(journal, make_record("INSERT INTO t VALUES (2)"));

  REQUIRE_FALSE(journal.note_failure(id, "23505", "duplicate key value"));
  REQUIRE_FALSE(journal.note_failure(id, "23505", "duplicate key value (again)"));
  CHECK(journal.pending(1).records[0].attempts == 2);
  REQUIRE_FALSE(journal.mark_dead(id, "permanent error after 2 attempts"));
  CHECK(pending_ids(journal) == Ids{2});
  CHECK(journal.note_failure(id, "23505", "x"));  // no longer pending

  const std::string log = read_file(dir.path("dead-letter.log"));
  CHECK(log.back() == '\n');
  CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  for (const char* part : {
           R"("journal_id":1,"instance":"pod-1","session":7)",
           R"("dead_reason":"permanent error after 2 attempts")",
           R"j("sqlstate":"23505","attempts":2,"last_error":"duplicate key value (again)")j",
           R"("tables":["public.t"],"session_state":["SET search_path TO app"])",
           R"({"type_oid":23,"format":"binary","value_hex":"0000002a"})",
           R"({"type_oid":25,"format":"text","value":null})",
           R"({"type_oid":17,"format":"binary","value_hex":"dead"})",
           R"("copy_data":"1\t\"q\"\n")",
       }) {
    INFO(part);
    CHECK(log.find(part) != std::string::npos);
  }
  journal.close();
  REQUIRE_FALSE(journal.open(dir.path()));
  CHECK(pending_ids(journal) == Ids{2});
}

TEST_CASE("purge drops pending records and dead letters") {
  TempDir dir;
  journal::FileJournal journal(numbered());
  REQUIRE_FALSE(journal.open(dir.path()));
  for (const char* sql : {"a", "b", "c"}) append_ok(journal, make_record(sql));
  REQUIRE_FALSE(journal.mark_dead(1, "poison"));
  CHECK(fs::file_size(dir.path("dead-letter.log")) > 0);
  REQUIRE_FALSE(journal.purge());
  CHECK(journal.depth().records == 0);
  CHECK(pending_ids(journal).empty());
  CHECK(fs::file_size(dir.path("journal.log")) == 0);
  CHECK(fs::file_size(dir.path("dead-letter.log")) == 0);
  journal.close();
  REQUIRE_FALSE(journal.open(dir.path()));
  CHECK(pending_ids(journal).empty());
}

TEST_CASE("depth counts records and bytes, age is the oldest pending record's") {
  TempDir dir;
  journal::FileJournal journal(numbered());
  REQUIRE_FALSE(journal.open(dir.path()));
  const auto now = Clock::now();
  CHECK_FALSE(journal.oldest_pending_age(now));
  journal::JournalRecord old_one = make_record("a"), newer = make_record("b");
  old_one.created_at = now - seconds(10);
  newer.created_at = now - seconds(4);
  append_ok(journal, old_one);
  append_ok(journal, newer);
  CHECK(journal.depth().records == 2);
  CHECK(journal.depth().bytes == fs::file_size(dir.path("journal.log")));
  CHECK(journal.oldest_pending_age(now) == seconds(10));
  REQUIRE_FALSE(journal.mark_applied(1));
  CHECK(journal.depth().records == 1);
  CHECK(journal.oldest_pending_age(now) == seconds(4));
  CHECK(journal.oldest_pending_age(now - seconds(60)) == Clock::duration::zero());
}

TEST_CASE("concurrent appends from 4 threads get unique, ordered ids") {
  TempDir dir;
  journal::FileJournal journal(numbered());
  REQUIRE_FALSE(journal.open(dir.path()));
  constexpr int kThreads = 4, kEach = 40;
  std::vector<std::vector<std::uint64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        journal::JournalRecord record =
            make_record("thread " + std::to_string(t) + " #" + std::to_string(i), t);
        ids[t].push_back(journal.append(record).id);  // 0 on failure: caught below
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::uint64_t> all;
  for (const auto& mine : ids) {
    CHECK(std::is_sorted(mine.begin(), mine.end()));
    all.insert(mine.begin(), mine.end());
  }
  CHECK(all.size() == kThreads * kEach);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == kThreads * kEach);

  journal.close();
  REQUIRE_FALSE(journal.open(dir.path()));
  auto pending = journal.pending(1000);
  REQUIRE(pending.records.size() == kThreads * kEach);
  for (std::size_t i = 0; i < pending.records.size(); ++i) {
    const auto& record = pending.records[i];
    CHECK(record.id == i + 1);
    const auto& mine = ids[static_cast<std::size_t>(record.session)];
    const auto position = std::find(mine.begin(), mine.end(), record.id) - mine.begin();
    CHECK(record.statements[0].sql ==
          "thread " + std::to_string(record.session) + " #" + std::to_string(position));
  }
}

TEST_CASE("compaction keeps the pending records, oversized records are refused") {
  TempDir dir;
  journal::FileJournal::Options options;
  options.first_id = 1;
  options.compact_after_bytes = 1;
  options.max_record_bytes = 4096;
  journal::FileJournal journal(options);
  REQUIRE_FALSE(journal.open(dir.path()));
  for (int i = 1; i <= 10; ++i) append_ok(journal, make_record("row " + std::to_string(i)));
  const auto full_size = fs::file_size(dir.path("journal.log"));
  // Compacted once the applied prefix reaches half the file: after id 5.
  for (std::uint64_t id = 1; id <= 5; ++id) REQUIRE_FALSE(journal.mark_applied(id));
  const auto compacted_size = fs::file_size(dir.path("journal.log"));
  CHECK(compacted_size < full_size);
  CHECK(journal.depth().bytes == compacted_size);
  REQUIRE_FALSE(journal.mark_applied(6));  // a small prefix stays in place
  CHECK(fs::file_size(dir.path("journal.log")) == compacted_size);
  CHECK(journal.depth().bytes < compacted_size);
  CHECK(pending_ids(journal) == Ids{7, 8, 9, 10});
  CHECK(journal.pending(1).records[0].statements[0].sql == "row 7");

  journal::JournalRecord huge = make_record(std::string(5000, 'x'));
  auto refused = journal.append(huge);
  CHECK_FALSE(refused.ok());
  CHECK(huge.id == 0);
  CHECK(append_ok(journal, make_record("row 11")) == 11);

  journal.close();
  REQUIRE_FALSE(journal.open(dir.path()));
  CHECK(pending_ids(journal) == Ids{7, 8, 9, 10, 11});
  journal::JournalRecord unopened_record = make_record("x");
  journal::FileJournal unopened;
  CHECK_FALSE(unopened.append(unopened_record).ok());
}

TEST_CASE("dead-letter line: JSON escaping, non-UTF-8 values as hex, UTC times") {
  journal::JournalRecord record;
  record.id = 9;
  record.created_at = Clock::time_point(std::chrono::microseconds(1'700'000'000'000'001LL));
  record.last_error = "bad \"value\"\n\x01";
  record.statements.push_back(journal::JournalStatement{
      "SELECT $1, $2", {0, 0}, {"caf\xc3\xa9"s, "\xc3("s}, {}, std::nullopt});
  const std::string line = format_dead_letter(record, "why", Clock::time_point{});
  CHECK(line.find(R"("created_at":"2023-11-14T22:13:20.000001Z")") != std::string::npos);
  CHECK(line.find(R"("dead_at":"1970-01-01T00:00:00.000000Z")") != std::string::npos);
  CHECK(line.find(R"("last_error":"bad \"value\"\n\u0001")") != std::string::npos);
  CHECK(line.find("\"value\":\"caf\xc3\xa9\"") != std::string::npos);  // valid UTF-8 stays text
  CHECK(line.find(R"("value_hex":"c328")") != std::string::npos);      // invalid: hex
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
}
