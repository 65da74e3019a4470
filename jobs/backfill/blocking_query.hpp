#pragma once
// The job's blocking queries: text parameters, text results, the server's message on failure.
// One place for what every part of the backfill does with libpq (the proxy's threads use the
// cancellable libpq/connection.hpp instead; the job runs to its end or is killed).

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "libpq/connection.hpp"

namespace pgdual::jobs::backfill {

// The result when the statement succeeded (rows or not); else null, with `error` set.
pg::Result run_query(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                     std::string& error);

// The one value of a one-row query ("" for NULL); "" with `error` set on failure or another
// number of rows.
std::string single_value(PGconn* conn, const std::string& sql,
                         const std::vector<std::string>& params, std::string& error);

}  // namespace pgdual::jobs::backfill
