#include "libpq/conninfo.hpp"

#include <algorithm>

namespace pgdual::pg {

void append_conninfo_keyword(std::string& conninfo, std::string_view keyword,
                             std::string_view value) {
  if (value.empty()) return;
  if (!conninfo.empty()) conninfo += ' ';
  conninfo.append(keyword);
  conninfo += "='";
  for (char c : value) {
    if (c == '\'' || c == '\\') conninfo.push_back('\\');
    conninfo.push_back(c);
  }
  conninfo += '\'';
}

std::string libpq_conninfo(const config::BackendConfig& backend, const std::string& database,
                           std::string_view application_name) {
  std::string conninfo;
  append_conninfo_keyword(conninfo, "host", backend.host);
  append_conninfo_keyword(conninfo, "port", std::to_string(backend.port));
  append_conninfo_keyword(conninfo, "user", backend.user);
  append_conninfo_keyword(conninfo, "password", backend.password);
  append_conninfo_keyword(conninfo, "dbname", database);
  append_conninfo_keyword(conninfo, "sslmode", config::to_string(backend.sslmode));
  append_conninfo_keyword(conninfo, "sslrootcert", backend.sslrootcert);
  append_conninfo_keyword(conninfo, "sslcert", backend.sslcert);
  append_conninfo_keyword(conninfo, "sslkey", backend.sslkey);
  // libpq counts whole seconds; 0 would mean "wait forever".
  append_conninfo_keyword(
      conninfo, "connect_timeout",
      std::to_string(std::max<long long>(1, backend.connect_timeout.count() / 1000)));
  append_conninfo_keyword(conninfo, "application_name", application_name);
  return conninfo;
}

}  // namespace pgdual::pg
