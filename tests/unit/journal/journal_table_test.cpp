// Tests of the table store's SQL text (journal_table.hpp): quoting of hostile
// names and values, the bytea and text[] literals, the statements summary of
// the dead letter (values only with log_parameters), and the conninfo quoting.

#include <catch2/catch.hpp>
#include <string>

#include "journal/relay/replayer.hpp"
#include "journal/store/table_journal.hpp"
#include "libpq/conninfo.hpp"

using namespace pgdual;
using namespace pgdual::journal;
using namespace std::string_literals;

namespace {

journal::JournalRecord sample() {
  journal::JournalRecord record;
  record.instance = "pod'7\\x";
  record.reason = "secondary unreachable";
  record.database = "shop";
  record.tables = {"public.orders", "we'ird.\"T\"", "back\\slash"};
  journal::JournalStatement insert;
  insert.sql = "INSERT INTO orders\nVALUES ($1, $2, $3)";
  insert.param_type_oids = {23, 25, 17};
  insert.param_values = {"42"s, std::nullopt, "\x01\xff"s};
  insert.param_formats = {journal::ParamFormat::text, journal::ParamFormat::text,
                          journal::ParamFormat::binary};
  journal::JournalStatement copy;
  copy.sql = "COPY t FROM STDIN";
  copy.copy_data = "1\tsecret\n";
  record.statements = {insert, copy, journal::JournalStatement{"COMMIT", {}, {}, {}, std::nullopt}};
  return record;
}

}  // namespace

TEST_CASE("literals: bytea as hex, text[] from quoted elements") {
  CHECK(journal::table::bytea_literal("") == R"(E'\\x'::bytea)");
  CHECK(journal::table::bytea_literal("\x00\x01\xab\xff"s) == R"(E'\\x0001abff'::bytea)");
  CHECK(journal::table::text_array_literal({}) == "ARRAY[]::text[]");
  CHECK(journal::table::text_array_literal({"a", "o'b", R"(c\d)", "{x,y}"}) ==
        R"(ARRAY['a', 'o''b', E'c\\d', '{x,y}']::text[])");
  CHECK(journal::table::qualified(R"(my"s)", "journal") == R"("my""s"."journal")");
}

TEST_CASE("DDL of the journal and dead letter") {
  const auto ddl = journal::table::ddl("pgdual");
  REQUIRE(ddl.size() == 4);
  CHECK(ddl[0] == R"(CREATE SCHEMA IF NOT EXISTS "pgdual")");
  CHECK(ddl[1].find(
            R"(CREATE TABLE IF NOT EXISTS "pgdual"."journal" (id bigserial PRIMARY KEY,)") == 0);
  CHECK(ddl[1].find("created_at timestamptz NOT NULL DEFAULT clock_timestamp()") !=
        std::string::npos);
  CHECK(ddl[1].find("record bytea NOT NULL") != std::string::npos);
  CHECK(ddl[2].find(
            R"(CREATE TABLE IF NOT EXISTS "pgdual"."dead_letter" (id bigint PRIMARY KEY,)") == 0);
  CHECK(ddl[2].find("statements text, record bytea)") != std::string::npos);
  CHECK(ddl[3].find(
            R"(CREATE TABLE IF NOT EXISTS "pgdual"."instances" (instance text PRIMARY KEY,)") == 0);
  CHECK(ddl[3].find("async_tables text[] NOT NULL DEFAULT '{}'") != std::string::npos);
  CHECK(journal::table::ddl_lock_sql("pgdual").find("SELECT pg_advisory_xact_lock(") == 0);
}

TEST_CASE("relay lock key: stable, per schema") {
  CHECK(journal::table::relay_lock_key("pgdual") == journal::table::relay_lock_key("pgdual"));
  CHECK(journal::table::relay_lock_key("pgdual") != journal::table::relay_lock_key("other"));
  CHECK(journal::table::relay_lock_sql("pgdual") ==
        "SELECT pg_try_advisory_lock(" + std::to_string(journal::table::relay_lock_key("pgdual")) +
            ")");
  CHECK(journal::table::ddl_lock_sql("pgdual") !=
        "SELECT pg_advisory_xact_lock(" + std::to_string(journal::table::relay_lock_key("pgdual")) +
            ")");
}

TEST_CASE("insert_sql quotes everything and carries the encoded record") {
  const journal::JournalRecord record = sample();
  const std::string sql = journal::table::insert_sql("ops", record);
  const std::string bytes = encode(record);
  CHECK(sql.find(
            R"(INSERT INTO "ops"."journal" (instance, reason, tables, bytes, record) VALUES ()") ==
        0);
  CHECK(sql.find(R"(E'pod''7\\x', 'secondary unreachable', )") != std::string::npos);
  CHECK(sql.find(R"(ARRAY['public.orders', 'we''ird."T"', E'back\\slash']::text[])") !=
        std::string::npos);
  CHECK(sql.find(", " + std::to_string(bytes.size()) + ", ") != std::string::npos);
  CHECK(sql.find(journal::table::bytea_literal(bytes)) != std::string::npos);
  CHECK(sql.back() == ')');
  CHECK(sql.find("RETURNING") == std::string::npos);
  CHECK(sql.find('\0') == std::string::npos);
}

TEST_CASE("relay statements") {
  CHECK(
      journal::table::pending_sql("pgdual") ==
      R"(SELECT j.id::text AS entry_id, j.instance, j.attempts::text, j.record FROM "pgdual"."journal" AS j ORDER BY j.id LIMIT 100)");
  // The order is the column's, not the text's (10 after 9): the output column must not be called
  // id.
  CHECK(journal::table::pending_sql("pgdual").find("::text, ") != std::string::npos);
  CHECK(journal::table::pending_sql("pgdual").find("ORDER BY j.id") != std::string::npos);
  CHECK(journal::table::delete_sql("pgdual", 7) ==
        R"(DELETE FROM "pgdual"."journal" WHERE id = 7)");
  CHECK(journal::table::failure_sql("pgdual", 7, "08006", "it's gone") ==
        R"(UPDATE "pgdual"."journal" SET attempts = attempts + 1, last_sqlstate = '08006',)"
        R"( last_error = 'it''s gone' WHERE id = 7)");
  const std::string dead = journal::table::dead_letter_sql("pgdual", 7, 5, "23505", "dup", "a\nb");
  CHECK(dead.find(R"(WITH moved AS (DELETE FROM "pgdual"."journal" WHERE id = 7 RETURNING *))") ==
        0);
  CHECK(dead.find(R"(INSERT INTO "pgdual"."dead_letter" ()") != std::string::npos);
  CHECK(dead.find("reason, 5, '23505', 'dup', tables, 'a\nb', record FROM moved") !=
        std::string::npos);
  const std::string monitor = journal::table::monitor_sql("pgdual", "p'1");
  CHECK(monitor.find("count(*) FILTER (WHERE instance = 'p''1')") != std::string::npos);
  CHECK(monitor.find(R"(FROM "pgdual"."dead_letter")") != std::string::npos);
}

TEST_CASE("statements summary redacts values unless log_parameters") {
  const journal::JournalRecord record = sample();
  const std::string redacted = journal::table::statements_text(record, false);
  CHECK(redacted ==
        "INSERT INTO orders VALUES ($1, $2, $3)  -- $1=<redacted> $2=<redacted> $3=<redacted>\n"
        "COPY t FROM STDIN  -- COPY data: 9 bytes\n"
        "COMMIT\n");
  CHECK(redacted.find("secret") == std::string::npos);
  const std::string full = journal::table::statements_text(record, true);
  CHECK(full ==
        "INSERT INTO orders VALUES ($1, $2, $3)  -- $1='42' $2=NULL $3='\\x01ff'\n"
        "COPY t FROM STDIN  -- COPY data: 9 bytes\n"
        "COMMIT\n");
}

TEST_CASE("a record ending with ROLLBACK has nothing to apply") {
  journal::JournalRecord record;
  CHECK_FALSE(ends_with_rollback(record));
  for (const char* sql : {"ROLLBACK", "rollback;", "  Abort  Work ; ", "ROLLBACK\nTRANSACTION"}) {
    record.statements = {journal::JournalStatement{"BEGIN", {}, {}, {}, std::nullopt},
                         journal::JournalStatement{sql, {}, {}, {}, std::nullopt}};
    INFO(sql);
    CHECK(ends_with_rollback(record));
  }
  for (const char* sql : {"COMMIT", "ROLLBACK TO SAVEPOINT a", "ROLLBACK PREPARED 'x'",
                          "INSERT INTO rollback VALUES (1)"}) {
    record.statements = {journal::JournalStatement{sql, {}, {}, {}, std::nullopt}};
    INFO(sql);
    CHECK_FALSE(ends_with_rollback(record));
  }
}

TEST_CASE("libpq conninfo quoting") {
  pgdual::config::BackendConfig backend;
  backend.host = "db.example";
  backend.port = 6543;
  backend.user = "o'neil";
  backend.password = R"(p\w'd)";
  backend.connect_timeout = std::chrono::milliseconds(300);
  const std::string conninfo = pg::libpq_conninfo(backend, "my db", "pgdual journal relay");
  CHECK(conninfo ==
        R"(host='db.example' port='6543' user='o\'neil' password='p\\w\'d' dbname='my db')"
        R"( sslmode='prefer' connect_timeout='1' application_name='pgdual journal relay')");
}

TEST_CASE("instances: the async crash check") {
  CHECK(
      journal::table::instance_check_sql("pgdual", "pod'1") ==
      R"(SELECT stopped_cleanly::text, array_to_string(async_tables, ',') FROM "pgdual"."instances" WHERE instance = 'pod''1')");
  // A restart marks the row started but keeps the tables a crashed run left: they are
  // reported until a clean stop clears them.
  const auto start = journal::table::instance_start_sql("pgdual", "pod-1");
  CHECK(start.find(
            "ON CONFLICT (instance) DO UPDATE SET started_at = now(), stopped_cleanly = false") !=
        std::string::npos);
  CHECK(start.find("async_tables") == std::string::npos);
  const auto add =
      journal::table::instance_async_tables_sql("pgdual", "pod-1", {"public.a", "x'y"});
  CHECK(add.find("ARRAY['public.a', 'x''y']::text[]") != std::string::npos);
  CHECK(add.find("unnest(i.async_tables || EXCLUDED.async_tables)") != std::string::npos);
  CHECK(
      journal::table::instance_stop_sql("pgdual", "pod-1") ==
      R"(UPDATE "pgdual"."instances" SET stopped_cleanly = true, async_tables = '{}' WHERE instance = 'pod-1')");
}
