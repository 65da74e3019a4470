#pragma once
// Helpers shared by the journal::FileJournal tests: a temporary directory under /tmp
// removed at the end, whole-file reads and writes, small records.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "journal/store/file_journal.hpp"

namespace journal_test {

using namespace pgdual;
using namespace pgdual::journal;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/pgdual-journal-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string path(const std::string& child = "") const {
    return child.empty() ? path_ : path_ + "/" + child;
  }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline journal::JournalRecord make_record(const std::string& sql, std::int32_t session = 1) {
  journal::JournalRecord record;
  record.instance = "pod-1";
  record.session = session;
  record.reason = "secondary unreachable";
  record.tables = {"public.t"};
  record.statements.push_back(journal::JournalStatement{sql, {}, {}, {}, std::nullopt});
  return record;
}

inline std::vector<std::uint64_t> pending_ids(const journal::FileJournal& journal) {
  auto pending = journal.pending(1000);
  REQUIRE(pending.error.empty());
  std::vector<std::uint64_t> ids;
  for (const auto& record : pending.records) ids.push_back(record.id);
  return ids;
}

inline std::uint64_t append_ok(journal::FileJournal& journal, journal::JournalRecord record) {
  auto result = journal.append(record);
  REQUIRE(result.ok());
  return result.id;
}

using Ids = std::vector<std::uint64_t>;

// Ids from 1, for readable expectations (the default starts from the clock).
inline journal::FileJournal::Options numbered() {
  journal::FileJournal::Options options;
  options.first_id = 1;
  return options;
}

}  // namespace journal_test
