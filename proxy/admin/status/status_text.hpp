#pragma once
// `pgdual status` in a terminal (docs/operations.md): the status report as aligned plain-text
// tables, served by the admin endpoint as /status.txt so that the CLI needs no JSON parser and
// every view is rendered from the one report.

#include <string>
#include <vector>

#include "proxy/admin/status/status_report.hpp"

namespace pgdual::proxy::status {

std::string to_text(const StatusReport& report);

// `text` with every control byte (ESC, newline, ...) replaced by '?': names come from the
// application's schema and must not drive the terminal.
std::string printable(std::string_view text);

// Rows as columns padded to the widest cell (the first row is the heading), two spaces apart.
std::string aligned_table(const std::vector<std::vector<std::string>>& rows);

// Human figures: "1.2 MiB", "3m10s", "99.95%".
std::string human_bytes(double bytes);
std::string human_duration(double seconds);
std::string human_percent(double fraction);

}  // namespace pgdual::proxy::status
