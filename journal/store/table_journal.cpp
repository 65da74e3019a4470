// SQL builders of the table store (see journal_table.hpp).

#include "journal/store/table_journal.hpp"

#include <algorithm>
#include <limits>

#include "journal/relay/replay_policy.hpp"
#include "text/json.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::journal::table {

namespace {

// FNV-1a, 64 bits: a stable key for the advisory locks (the same on every
// instance and every version of pgdual, unlike std::hash).
std::int64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(hash);
}

// A value as an operator reads it in the dead letter: text values as quoted
// literals, binary ones as hex.
std::string shown_value(const std::optional<std::string>& value, ParamFormat format) {
  if (!value) return "NULL";
  if (format == ParamFormat::binary) return "'\\x" + text::hex_lower(*value) + "'";
  return text::quote_literal(*value);
}

std::string one_line(std::string_view sql) {
  std::string out(sql);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

}  // namespace

std::string qualified(std::string_view schema, std::string_view name) {
  return text::quote_identifier(schema) + "." + text::quote_identifier(name);
}

std::vector<std::string> ddl(std::string_view schema) {
  return {
      "CREATE SCHEMA IF NOT EXISTS " + text::quote_identifier(schema),
      "CREATE TABLE IF NOT EXISTS " + qualified(schema, "journal") +
          " (id bigserial PRIMARY KEY, instance text NOT NULL,"
          " created_at timestamptz NOT NULL DEFAULT clock_timestamp(), reason text NOT NULL,"
          " tables text[] NOT NULL DEFAULT '{}', bytes int NOT NULL,"
          " attempts int NOT NULL DEFAULT 0, last_sqlstate text, last_error text,"
          " record bytea NOT NULL)",
      "CREATE TABLE IF NOT EXISTS " + qualified(schema, "dead_letter") +
          " (id bigint PRIMARY KEY, instance text, created_at timestamptz,"
          " died_at timestamptz DEFAULT now(), reason text, attempts int, sqlstate text,"
          " error text, tables text[], statements text, record bytea)",
      "CREATE TABLE IF NOT EXISTS " + qualified(schema, "instances") +
          " (instance text PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT now(),"
          " stopped_cleanly boolean NOT NULL DEFAULT false,"
          " async_tables text[] NOT NULL DEFAULT '{}')",
  };
}

std::string instance_check_sql(std::string_view schema, std::string_view instance) {
  return "SELECT stopped_cleanly::text, array_to_string(async_tables, ',') FROM " +
         qualified(schema, "instances") + " WHERE instance = " + text::quote_literal(instance);
}

std::string instance_start_sql(std::string_view schema, std::string_view instance) {
  return "INSERT INTO " + qualified(schema, "instances") + " AS i (instance) VALUES (" +
         text::quote_literal(instance) +
         ") ON CONFLICT (instance) DO UPDATE SET started_at = now(), stopped_cleanly = false";
}

std::string instance_async_tables_sql(std::string_view schema, std::string_view instance,
                                      const std::vector<std::string>& tables) {
  std::string list;
  for (const auto& table : tables) list += (list.empty() ? "" : ", ") + text::quote_literal(table);
  return "INSERT INTO " + qualified(schema, "instances") +
         " AS i (instance, async_tables) VALUES (" + text::quote_literal(instance) + ", ARRAY[" +
         list +
         "]::text[]) ON CONFLICT (instance) DO UPDATE SET async_tables = ARRAY(SELECT DISTINCT t "
         "FROM "
         "unnest(i.async_tables || EXCLUDED.async_tables) AS t ORDER BY t)";
}

std::string instance_stop_sql(std::string_view schema, std::string_view instance) {
  return "UPDATE " + qualified(schema, "instances") +
         " SET stopped_cleanly = true, async_tables = '{}' WHERE instance = " +
         text::quote_literal(instance);
}

std::string ddl_lock_sql(std::string_view schema) {
  return "SELECT pg_advisory_xact_lock(" +
         std::to_string(fnv1a("pgdual journal ddl:" + std::string(schema))) + ")";
}

std::int64_t relay_lock_key(std::string_view schema) {
  return fnv1a("pgdual journal relay:" + std::string(schema));
}

std::string relay_lock_sql(std::string_view schema) {
  return "SELECT pg_try_advisory_lock(" + std::to_string(relay_lock_key(schema)) + ")";
}

std::string bytea_literal(std::string_view bytes) {
  return text::quote_literal("\\x" + text::hex_lower(bytes)) + "::bytea";
}

std::string text_array_literal(const std::vector<std::string>& values) {
  std::string out = "ARRAY[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += text::quote_literal(values[i]);
  }
  return out + "]::text[]";
}

std::string insert_sql(std::string_view schema, const JournalRecord& record) {
  const std::string bytes = encode(record);
  if (bytes.empty()) return {};
  const auto size = std::min<std::size_t>(bytes.size(), std::numeric_limits<std::int32_t>::max());
  return "INSERT INTO " + qualified(schema, "journal") +
         " (instance, reason, tables, bytes, record) VALUES (" +
         text::quote_literal(record.instance) + ", " + text::quote_literal(record.reason) + ", " +
         text_array_literal(record.tables) + ", " + std::to_string(size) + ", " +
         bytea_literal(bytes) + ")";
}

std::string pending_sql(std::string_view schema, std::size_t limit) {
  // ORDER BY the table's column: an output column named id (the ::text one) would sort as
  // text, and 10 would be replayed before 2.
  return "SELECT j.id::text AS entry_id, j.instance, j.attempts::text, j.record FROM " +
         qualified(schema, "journal") + " AS j ORDER BY j.id LIMIT " + std::to_string(limit);
}

std::string delete_sql(std::string_view schema, std::uint64_t id) {
  return "DELETE FROM " + qualified(schema, "journal") + " WHERE id = " + std::to_string(id);
}

std::string failure_sql(std::string_view schema, std::uint64_t id, std::string_view sqlstate,
                        std::string_view error) {
  return "UPDATE " + qualified(schema, "journal") +
         " SET attempts = attempts + 1, last_sqlstate = " + text::quote_literal(sqlstate) +
         ", last_error = " + text::quote_literal(error) + " WHERE id = " + std::to_string(id);
}

std::string dead_letter_sql(std::string_view schema, std::uint64_t id, std::uint32_t attempts,
                            std::string_view sqlstate, std::string_view error,
                            std::string_view statements) {
  return "WITH moved AS (DELETE FROM " + qualified(schema, "journal") +
         " WHERE id = " + std::to_string(id) + " RETURNING *) INSERT INTO " +
         qualified(schema, "dead_letter") +
         " (id, instance, created_at, died_at, reason, attempts, sqlstate, error, tables,"
         " statements, record) SELECT id, instance, created_at, now(), reason, " +
         std::to_string(attempts) + ", " + text::quote_literal(sqlstate) + ", " +
         text::quote_literal(error) + ", tables, " + text::quote_literal(statements) +
         ", record FROM moved ON CONFLICT (id) DO NOTHING";
}

std::string monitor_sql(std::string_view schema, std::string_view instance) {
  return "SELECT count(*), coalesce(sum(bytes), 0),"
         " coalesce(greatest(extract(epoch FROM now() - min(created_at)), 0), 0),"
         " count(*) FILTER (WHERE instance = " +
         text::quote_literal(instance) + "), (SELECT count(*) FROM " +
         qualified(schema, "dead_letter") + ") FROM " + qualified(schema, "journal");
}

std::string statements_text(const JournalRecord& record, bool log_parameters) {
  std::string out;
  for (const auto& statement : record.statements) {
    out += one_line(statement.sql);
    const std::size_t count = statement.param_values.size();
    if (count > 0) out += "  --";
    for (std::size_t i = 0; i < count; ++i) {
      const ParamFormat format =
          i < statement.param_formats.size() ? statement.param_formats[i] : ParamFormat::text;
      out += " $" + std::to_string(i + 1) + "=";
      out += log_parameters ? shown_value(statement.param_values[i], format) : "<redacted>";
    }
    if (statement.copy_data) {
      out += "  -- COPY data: " + std::to_string(statement.copy_data->size()) + " bytes";
    }
    out += '\n';
  }
  return out;
}

}  // namespace pgdual::journal::table
