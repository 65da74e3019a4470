#pragma once
// How many rows the next chunk takes. A chunk should last about `target` (0.5 s by default, as
// pt-table-checksum does): long enough that per-chunk costs vanish, short enough that the row
// locks it holds on the old store delay the application's writes to those rows only briefly.
// The rate is a decaying average of the measured rows per second, so one slow chunk (a
// checkpoint, a burst of application load) shrinks the next without collapsing it. Pure.

#include <chrono>
#include <cstdint>

namespace pgdual::jobs::backfill {

class ChunkSizer {
 public:
  struct Limits {
    std::int64_t first = 1000;
    std::int64_t min = 100;
    std::int64_t max = 500000;
  };
  static Limits default_limits() { return Limits{}; }

  explicit ChunkSizer(std::chrono::milliseconds target = std::chrono::milliseconds(500),
                      Limits limits = default_limits());

  std::int64_t next_rows() const { return next_; }
  // A chunk of `rows` took `elapsed`. A chunk that came back short (the end of the table) says
  // nothing about the rate and is ignored.
  void record(std::int64_t rows, std::chrono::microseconds elapsed);
  // A chunk failed on a lock timeout or a deadlock: halve it.
  void back_off();
  double rows_per_second() const { return rate_; }

 private:
  std::chrono::milliseconds target_;
  Limits limits_;
  std::int64_t next_;
  double rate_ = 0;  // decaying average, rows per second; 0 until the first full chunk
};

}  // namespace pgdual::jobs::backfill
