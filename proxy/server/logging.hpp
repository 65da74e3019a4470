#pragma once
// spdlog set-up: text or JSON lines on stderr, level changeable on reload.
// Nothing logs passwords; parameter values only with log.log_parameters.

#include <string_view>

#include "config/config.hpp"

namespace pgdual::proxy {

// Applies log.level and log.format; safe to call again on reload.
void configure_logging(const config::LogConfig& log);

// One discrepancy record (a JSON object, docs/shadow-reads.md) on its own
// line on stderr, whatever log.format and log.level say: these records are
// data for the operator, not diagnostics.
void log_discrepancy(std::string_view json_line);

}  // namespace pgdual::proxy
