#include "jobs/mapping/mapping_catalog.hpp"

#include <map>

#include "jobs/backfill/blocking_query.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::mapping {
namespace {

constexpr const char* kColumns =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated <> '', "
    "CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, "
    "a.attidentity = 'a', pg_catalog.pg_get_serial_sequence($1, a.attname) "
    "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d "
    "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

// Unique, valid, immediate keys without predicate or expression, one row per key column; the
// primary key first, then the narrowest. A key with a nullable column is left out.
constexpr const char* kKeyColumns =
    "SELECT i.indexrelid, a.attname, a.attnotnull FROM pg_catalog.pg_index i, "
    "unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum = k.attnum "
    "WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indimmediate "
    "AND i.indpred IS NULL AND i.indexprs IS NULL AND k.position <= i.indnkeyatts "
    "ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid, k.position";

}  // namespace

TableFacts read_table_facts(PGconn* conn, const std::string& table, std::string& error) {
  TableFacts facts;
  // to_regclass takes SQL syntax: both parts quoted, so that case and dots are kept.
  const std::string name = text::quote_qualified(table);
  const std::string exists =
      backfill::single_value(conn, "SELECT to_regclass($1) IS NOT NULL", {name}, error);
  if (!error.empty()) return facts;
  facts.exists = exists == "t";
  if (!facts.exists) return facts;
  const pg::Result columns = backfill::run_query(conn, kColumns, {name}, error);
  if (!columns) return facts;
  for (int row = 0; row < PQntuples(columns.get()); ++row) {
    facts.columns.push_back(
        {PQgetvalue(columns.get(), row, 0), PQgetvalue(columns.get(), row, 1),
         PQgetvalue(columns.get(), row, 2)[0] == 't', PQgetvalue(columns.get(), row, 3)[0] == 't',
         PQgetvalue(columns.get(), row, 4), PQgetvalue(columns.get(), row, 5)[0] == 't',
         PQgetvalue(columns.get(), row, 6)});
  }
  const pg::Result keys = backfill::run_query(conn, kKeyColumns, {name}, error);
  if (!keys) return facts;
  std::string current;
  bool usable = true;
  std::vector<std::string> key;
  const auto finish = [&] {
    if (!key.empty() && usable) facts.keys.push_back(key);
    key.clear();
    usable = true;
  };
  for (int row = 0; row < PQntuples(keys.get()); ++row) {
    const std::string index = PQgetvalue(keys.get(), row, 0);
    if (index != current) {
      finish();
      current = index;
    }
    key.push_back(PQgetvalue(keys.get(), row, 1));
    usable = usable && PQgetvalue(keys.get(), row, 2)[0] == 't';
  }
  finish();
  return facts;
}

}  // namespace pgdual::jobs::mapping
