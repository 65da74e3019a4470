#pragma once

#include <string>

namespace pgdual::config {

// The configuration `pgdual demo` runs with: two local PostgreSQL servers (old on
// 127.0.0.1:55432, new on 127.0.0.1:55433) reached as user pgdual_demo with the password from
// ${PGDUAL_DEMO_PASSWORD} (scripts/demo sets it), clients admitted without a password (trust),
// phase dual_write. Load it with load_config_string.
std::string embedded_demo_config();

}  // namespace pgdual::config
