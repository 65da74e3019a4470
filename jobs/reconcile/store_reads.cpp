#include "jobs/reconcile/store_reads.hpp"

#include <cstdlib>

namespace pgdual::jobs::reconcile {

namespace {

bool ok(const pg::Result& result) {
  const auto status = PQresultStatus(result.get());
  return result && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK);
}

std::string failure(const char* store, PGconn* conn, const pg::Result& result) {
  const char* message =
      result ? PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  return std::string(store) +
         " store: " + (message != nullptr ? message : pg::connection_error(conn));
}

}  // namespace

PairResult query_both(PGconn* old_store, const std::string& old_sql, PGconn* new_store,
                      const std::string& new_sql) {
  PairResult out;
  const bool sent = PQsendQuery(new_store, new_sql.c_str()) == 1;
  out.old_rows.reset(PQexec(old_store, old_sql.c_str()));
  if (sent) {
    // Every result of the new store's query is read, so the connection is free afterwards.
    while (PGresult* result = PQgetResult(new_store)) out.new_rows.reset(result);
  }
  if (!ok(out.old_rows)) {
    out.error = failure("old", old_store, out.old_rows);
  } else if (!sent || !ok(out.new_rows)) {
    out.error = failure("new", new_store, out.new_rows);
  }
  return out;
}

Checksum read_checksum(const pg::Result& result) {
  Checksum out;
  if (!result || PQntuples(result.get()) != 1) return out;
  out.rows = std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
  out.sum = PQgetvalue(result.get(), 0, 1);
  return out;
}

Key read_key(const pg::Result& result, int row, std::size_t key_columns) {
  Key key;
  for (std::size_t i = 0; i < key_columns; ++i) {
    key.emplace_back(PQgetvalue(result.get(), row, static_cast<int>(i)));
  }
  return key;
}

std::vector<KeyFingerprint> read_fingerprints(const pg::Result& result, std::size_t key_columns) {
  std::vector<KeyFingerprint> out;
  const int rows = PQntuples(result.get());
  out.reserve(static_cast<std::size_t>(rows));
  const int key_hash = static_cast<int>(key_columns);
  for (int row = 0; row < rows; ++row) {
    out.push_back({std::strtoll(PQgetvalue(result.get(), row, key_hash), nullptr, 10),
                   std::strtoll(PQgetvalue(result.get(), row, key_hash + 1), nullptr, 10), row});
  }
  return out;
}

std::vector<FetchedRow> read_fetched_rows(const pg::Result& result, std::size_t key_columns,
                                          std::size_t columns) {
  std::vector<FetchedRow> out;
  const int rows = PQntuples(result.get());
  for (int row = 0; row < rows; ++row) {
    FetchedRow fetched{read_key(result, row, key_columns),
                       PQgetvalue(result.get(), row, static_cast<int>(key_columns)),
                       {},
                       {}};
    const auto value = [&](std::size_t index) -> Value {
      const int field = static_cast<int>(index);
      if (field >= PQnfields(result.get()) || PQgetisnull(result.get(), row, field) != 0) {
        return std::nullopt;
      }
      return std::string(PQgetvalue(result.get(), row, field));
    };
    for (std::size_t i = 0; i < columns; ++i) {
      fetched.values.push_back(value(key_columns + 1 + i));
      fetched.normalized_values.push_back(value(key_columns + 1 + columns + i));
    }
    out.push_back(std::move(fetched));
  }
  return out;
}

}  // namespace pgdual::jobs::reconcile
