// Tests of journal::FileJournal's recovery at open: ids of a new journal, a torn last
// record truncated at every offset (and zero-filled pages), a corrupted
// record in the middle reported and never skipped, a malformed state file.

#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <string>

#include "journal_test_support.hpp"

using namespace pgdual;

using namespace journal_test;
using namespace std::string_literals;

TEST_CASE("a new journal's ids start from the clock, so a lost directory reissues none") {
  TempDir dir;
  const auto micros = [] {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
            .count());
  };
  std::uint64_t first = 0;
  {
    const std::uint64_t before = micros();
    journal::FileJournal journal;
    REQUIRE_FALSE(journal.open(dir.path("j")));
    first = append_ok(journal, make_record("a"));
    CHECK(first >= before);
    CHECK(first <= micros());
    CHECK(append_ok(journal, make_record("b")) == first + 1);
  }
  fs::remove_all(dir.path("j"));  // the volume is gone
  journal::FileJournal journal;
  REQUIRE_FALSE(journal.open(dir.path("j")));
  CHECK(append_ok(journal, make_record("c")) > first + 1);
}

TEST_CASE("a torn last record is truncated at every offset, and counted") {
  spdlog::set_level(spdlog::level::err);  // one recovery warning per offset otherwise
  TempDir dir;
  std::uint64_t intact_size = 0;
  {
    journal::FileJournal journal(numbered());
    REQUIRE_FALSE(journal.open(dir.path("source")));
    append_ok(journal, make_record("INSERT INTO t VALUES (1)"));
    append_ok(journal, make_record("INSERT INTO t VALUES (2)"));
    intact_size = fs::file_size(dir.path("source/journal.log"));
    journal::JournalRecord last =
        make_record("INSERT INTO t VALUES ('a somewhat longer last record')");
    last.statements[0].param_values = {"\0binary\0"s};
    append_ok(journal, last);
  }
  const std::string full = read_file(dir.path("source/journal.log"));
  REQUIRE(full.size() > intact_size);
  for (std::size_t cut = intact_size; cut < full.size(); ++cut) {
    INFO("journal cut at " << cut << " of " << full.size());
    const std::string copy = dir.path("cut");
    fs::remove_all(copy);
    fs::create_directories(copy);
    write_file(copy + "/journal.log", full.substr(0, cut));
    journal::FileJournal journal(numbered());
    REQUIRE_FALSE(journal.open(copy));
    CHECK(pending_ids(journal) == Ids{1, 2});
    CHECK(journal.recovery().torn_tails == (cut > intact_size ? 1u : 0u));
    CHECK(journal.recovery().torn_bytes == cut - intact_size);
    CHECK(fs::file_size(copy + "/journal.log") == intact_size);
    CHECK(append_ok(journal, make_record("after recovery")) == 3);
  }

  SECTION("zero-filled pages at the end count as torn too") {
    std::string zeroed = full;
    std::fill(zeroed.begin() + static_cast<std::ptrdiff_t>(intact_size) + 20, zeroed.end(), '\0');
    write_file(dir.path("source/journal.log"), zeroed);
    journal::FileJournal journal(numbered());
    REQUIRE_FALSE(journal.open(dir.path("source")));
    CHECK(pending_ids(journal) == Ids{1, 2});
    CHECK(journal.recovery().torn_tails == 1);
  }
}

TEST_CASE("a corrupted record in the middle is an error, never skipped") {
  TempDir dir;
  std::uint64_t second_start = 0, second_end = 0;
  {
    journal::FileJournal journal(numbered());
    REQUIRE_FALSE(journal.open(dir.path("source")));
    append_ok(journal, make_record("one"));
    second_start = fs::file_size(dir.path("source/journal.log"));
    append_ok(journal, make_record("two"));
    second_end = fs::file_size(dir.path("source/journal.log"));
    append_ok(journal, make_record("three"));
  }
  const std::string full = read_file(dir.path("source/journal.log"));
  for (std::uint64_t at = second_start; at < second_end; ++at) {
    INFO("corrupt byte at " << at);
    std::string corrupt = full;
    corrupt[at] = static_cast<char>(corrupt[at] ^ 0x5A);
    const std::string copy = dir.path("bad");
    fs::remove_all(copy);
    fs::create_directories(copy);
    write_file(copy + "/journal.log", corrupt);
    journal::FileJournal journal(numbered());
    auto error = journal.open(copy);
    REQUIRE(error);
    CHECK(error->find("corrupt record at offset " + std::to_string(second_start)) !=
          std::string::npos);
    CHECK(fs::file_size(copy + "/journal.log") == full.size());  // left for the operator
  }

  SECTION("a malformed state file is an error too") {
    write_file(dir.path("source/state"), "pgdual-journal-state 1\nnext_id x\n");
    journal::FileJournal journal(numbered());
    CHECK(journal.open(dir.path("source")));
  }
}
