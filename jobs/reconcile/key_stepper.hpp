#pragma once
// Chunk ends for a table keyed by one integer column, computed from key values instead of read
// from the table: a chunk is (after, after + step], the step sized from the rows per key value
// the previous chunks found. This spares every chunk the serial "key N rows on" index walk
// (ORDER BY key OFFSET N) on the old store while the new store waits, which cost a third of a
// reconcile of a 2-million-row table (bench/results/2026-12-06-issue14-reconcile.md).
// Any split of the key space compares correctly; the step only decides the chunks' sizes. Pure.

#include <cstdint>
#include <optional>
#include <string>

namespace pgdual::jobs::reconcile {

class KeyStepper {
 public:
  // The smallest and largest key over both stores.
  KeyStepper(std::int64_t first, std::int64_t last) : first_(first), last_(last) {}

  // Whether a single integer key of this type (format_type) is stepped.
  static bool steps(const std::string& type) {
    return type == "integer" || type == "bigint" || type == "smallint";
  }

  // The exclusive start of the first chunk (one below the smallest key).
  std::int64_t start() const { return first_ - 1; }
  // The end of the chunk after `after` for about `rows` rows; nullopt: the rest of the table
  // (the last chunk is left open, so keys beyond the largest one seen are compared too).
  std::optional<std::int64_t> next_end(std::int64_t after, std::int64_t rows) const;
  // A chunk of `span` key values held `rows` rows (the larger store's count).
  void record(std::int64_t span, std::int64_t rows);
  double rows_per_key() const { return rows_per_key_; }

 private:
  std::int64_t first_, last_;
  double rows_per_key_ = 1.0;  // dense until measured (a serial key)
};

}  // namespace pgdual::jobs::reconcile
