#pragma once

// Rules that span sections of the config (each section's own rules are checked while it is
// parsed, in config/section_parsers.cpp).

#include "config/config.hpp"
#include "config/yaml_section.hpp"

namespace pgdual::config {

// Records each violation in diag. Rules whose inputs already failed to parse are skipped, so one
// mistake is reported once.
void validate_across_sections(const Config& config, Diagnostics& diag);

}  // namespace pgdual::config
