#pragma once
// spdlog set-up: text or JSON lines on stderr, level changeable on reload.
// Nothing logs passwords; parameter values only with log.log_parameters.

#include "config/config.hpp"

namespace pgdual::proxy {

// Applies log.level and log.format; safe to call again on reload.
void configure_logging(const config::LogConfig& log);

}  // namespace pgdual::proxy
