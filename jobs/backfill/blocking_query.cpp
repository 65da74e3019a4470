#include "jobs/backfill/blocking_query.hpp"

namespace pgdual::jobs::backfill {

pg::Result run_query(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                     std::string& error) {
  std::vector<const char*> values;
  for (const auto& param : params) values.push_back(param.c_str());
  pg::Result result(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
  const auto status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  error = pg::connection_error(conn);
  return nullptr;
}

std::string single_value(PGconn* conn, const std::string& sql,
                         const std::vector<std::string>& params, std::string& error) {
  const pg::Result result = run_query(conn, sql, params, error);
  if (!result) return "";
  if (PQntuples(result.get()) != 1) {
    error = "expected one row from: " + sql;
    return "";
  }
  return PQgetisnull(result.get(), 0, 0) != 0 ? "" : PQgetvalue(result.get(), 0, 0);
}

}  // namespace pgdual::jobs::backfill
