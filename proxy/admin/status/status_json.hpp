#pragma once
// /status.json and `pgdual status --json` (docs/operations.md): the status report as one JSON
// object whose keys are documented there and stay stable (new keys may be added).

#include <string>

#include "proxy/admin/status/status_report.hpp"

namespace pgdual::proxy::status {

std::string to_json(const StatusReport& report);

}  // namespace pgdual::proxy::status
