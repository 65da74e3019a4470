#include "jobs/backfill/progress_view.hpp"

#include <algorithm>
#include <cmath>

namespace pgdual::jobs::backfill {

namespace {

constexpr int kBarWidth = 20;

// Share done, and whether it rests on an estimate; nullopt when nothing is known.
std::optional<double> done_ratio(const TableStatus& status, bool& estimated) {
  estimated = false;
  if (status.state == "done") return 1.0;
  if (!status.estimated_rows || *status.estimated_rows <= 0) return std::nullopt;
  estimated = true;
  return std::min(
      0.99, static_cast<double>(status.rows_seen()) / static_cast<double>(*status.estimated_rows));
}

}  // namespace

std::string group_thousands(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", total);
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  }
  return text;
}

std::string format_progress_line(const TableStatus& status, std::size_t name_width) {
  std::string line = status.table;
  if (line.size() < name_width) line.resize(name_width, ' ');
  bool estimated = false;
  const auto ratio = done_ratio(status, estimated);
  const int filled = ratio ? static_cast<int>(*ratio * kBarWidth) : 0;
  line += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "] ";
  char percent[16];
  std::snprintf(percent, sizeof percent, ratio ? "%s%3.0f%%" : "%s   ?", estimated ? "~" : " ",
                ratio ? *ratio * 100 : 0.0);
  line += percent;
  line += "  " + group_thousands(status.rows_seen());
  if (status.state == "done") {
    line += " rows";
  } else if (status.estimated_rows) {
    line += " / ~" + group_thousands(*status.estimated_rows) + " rows";
  } else {
    line += " rows (total unknown)";
  }
  if (status.rows_skipped > 0)
    line += " (" + group_thousands(status.rows_skipped) + " already there)";
  if (status.state == "copying") {
    line += "  " + group_thousands(static_cast<std::int64_t>(status.rows_per_second)) + " rows/s";
    if (ratio && status.rows_per_second > 0 && status.estimated_rows) {
      const double left =
          std::max<double>(0, static_cast<double>(*status.estimated_rows - status.rows_seen()));
      line += "  ETA ~" + format_duration(left / status.rows_per_second);
    }
  } else {
    line += "  " + status.state;
    if (status.state == "done") line += " in " + format_duration(status.seconds);
  }
  if (!status.error.empty()) line += ": " + status.error;
  return line;
}

ProgressView::ProgressView(std::FILE* out, bool tty, std::chrono::seconds log_every)
    : out_(out), tty_(tty), log_every_(log_every) {}

void ProgressView::draw(const std::vector<TableStatus>& tables) {
  std::size_t width = 0;
  for (const auto& table : tables) width = std::max(width, table.table.size());
  if (tty_) {
    // Back to the first line of the previous drawing, then overwrite every line.
    if (lines_drawn_ > 0) std::fprintf(out_, "\x1b[%zuA", lines_drawn_);
    for (const auto& table : tables) {
      std::fprintf(out_, "\r\x1b[2K%s\n", format_progress_line(table, width).c_str());
    }
    lines_drawn_ = tables.size();
    std::fflush(out_);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool periodic = now - last_log_ >= log_every_;
  last_states_.resize(tables.size());
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const bool changed = last_states_[i] != tables[i].state;
    last_states_[i] = tables[i].state;
    if (changed || (periodic && tables[i].state == "copying")) {
      std::fprintf(out_, "%s\n", format_progress_line(tables[i], width).c_str());
    }
  }
  if (periodic) last_log_ = now;
  std::fflush(out_);
}

}  // namespace pgdual::jobs::backfill
