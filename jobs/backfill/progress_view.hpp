#pragma once
// The terminal's view of a running backfill: one bar per table with rows, rows/s and an ETA.
// Counts known exactly (a finished table) are shown as they are; pg_class estimates are marked
// "~", and an ETA that rests on an estimate is marked "~" too. Formatting is pure (unit tested);
// ProgressView redraws on a terminal and prints a plain line now and then otherwise (a log).

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "jobs/backfill/status_board.hpp"

namespace pgdual::jobs::backfill {

// "1,234,567"
std::string group_thousands(std::int64_t value);
// "4s", "2m05s", "1h02m"
std::string format_duration(double seconds);
// One table's line, `name_width` wide for the name.
std::string format_progress_line(const TableStatus& status, std::size_t name_width);

class ProgressView {
 public:
  // `tty`: redraw in place (ANSI cursor movement); else a plain line per table every
  // `log_every` and at each state change.
  ProgressView(std::FILE* out, bool tty, std::chrono::seconds log_every = std::chrono::seconds(10));
  void draw(const std::vector<TableStatus>& tables);

 private:
  std::FILE* out_;
  bool tty_;
  std::chrono::seconds log_every_;
  std::size_t lines_drawn_ = 0;
  std::chrono::steady_clock::time_point last_log_{};
  std::vector<std::string> last_states_;
};

}  // namespace pgdual::jobs::backfill
