#pragma once
// The watch threads' reads (backfill progress, the reconcile queue): every row of a reply as
// N text fields, handed to a parser that may reject it (a row it cannot read is skipped).

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "libpq/connection.hpp"

namespace pgdual::journal {

template <class Row, std::size_t N, class Parse>
std::vector<Row> parsed_rows(const pg::Reply& reply, const std::string& database, Parse parse) {
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(reply.rows()));
  for (int row = 0; row < reply.rows(); ++row) {
    std::array<std::string, N> fields;
    for (std::size_t column = 0; column < N; ++column) {
      fields[column] = reply.value(row, static_cast<int>(column));
    }
    if (std::optional<Row> parsed = parse(database, fields)) rows.push_back(std::move(*parsed));
  }
  return rows;
}

}  // namespace pgdual::journal
