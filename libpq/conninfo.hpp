#pragma once
// libpq keyword/value connection strings for a backend of the configuration.
// TLS (sslmode, sslrootcert, client certificate) and SCRAM come from libpq
// itself given these keywords. The string holds the password: never log it.

#include <string>
#include <string_view>

#include "config/config.hpp"

namespace pgdual::pg {

// host, port, user, password, dbname, ssl*, connect_timeout (whole seconds,
// at least 1) and application_name; empty values are left out.
std::string libpq_conninfo(const config::BackendConfig& backend, const std::string& database,
                           std::string_view application_name);

// Appends keyword='value' with the quoting libpq wants (\' and \\).
void append_conninfo_keyword(std::string& conninfo, std::string_view keyword,
                             std::string_view value);

}  // namespace pgdual::pg
