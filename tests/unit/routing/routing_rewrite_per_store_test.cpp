// What each store evaluates for itself and no literal can replace (routing/rewrite/per_store.hpp):
// named unrewritable, so the write follows migration.nondeterministic.

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "routing/classify/literal_key.hpp"
#include "routing/rewrite/pipeline.hpp"

namespace {

using namespace pgdual::routing;

ColumnDefaults table_defaults() {
  return {{"t",
           {{"id", DefaultKind::sequence, "t_id_seq", Identity::none, 1, ""},
            {"created", DefaultKind::time, "", Identity::none, 3, ""}}},
          {"s.ti", {{"id", DefaultKind::sequence, "s.ti_id_seq", Identity::always, 1, ""}}}};
}

// A catalog as the catalog query builds it: pgcrypto's volatile functions, and the names of a
// few functions of pg_catalog and public.
FunctionCatalog sample_catalog() {
  FunctionCatalog catalog;
  for (const char* name : {"gen_random_bytes", "pgp_sym_encrypt", "gen_random_uuid"}) {
    catalog.extension_volatile.insert(name);
    catalog.extension_volatile.insert(std::string("public.") + name);
  }
  for (const char* name : {"now", "lower", "timezone", "random", "nextval", "clock_timestamp",
                           "lo_create", "lo_import", "pg_read_file"}) {
    catalog.names.insert(name);
    catalog.names.insert(std::string("pg_catalog.") + name);
  }
  for (const char* name : {"gen_random_bytes", "pgp_sym_encrypt", "gen_random_uuid", "twice"}) {
    catalog.names.insert(name);
    catalog.names.insert(std::string("public.") + name);
  }
  return catalog;
}

const std::vector<std::string> kUserVolatile = {"pick"};

RewriteAnalysis analyse(const std::string& sql, const FunctionCatalog* catalog = nullptr) {
  return analyze_for_rewrite(sql, table_defaults(), kUserVolatile, catalog);
}

bool names(const RewriteAnalysis& analysis, const std::string& part) {
  const std::vector<std::string> reasons = analysis.unrewritable();
  return std::any_of(reasons.begin(), reasons.end(), [&](const std::string& reason) {
    return reason.find(part) != std::string::npos;
  });
}

std::string first_reason(const RewriteAnalysis& analysis) {
  const std::vector<std::string> reasons = analysis.unrewritable();
  return reasons.empty() ? std::string("(nothing named)") : reasons.front();
}

struct Case {
  const char* sql;
  const char* name;  // a part of the unrewritable construct's name
};

// Each text is parsed and unrewritable, with a name that contains `name`.
void check_named(const std::vector<Case>& cases, const FunctionCatalog* catalog = nullptr) {
  for (const Case& c : cases) {
    INFO(c.sql);
    const RewriteAnalysis analysis = analyse(c.sql, catalog);
    REQUIRE(analysis.parsed);
    CHECK(analysis.needs_rewrite);
    CHECK_FALSE(analysis.rewritable());
    INFO(first_reason(analysis));
    CHECK(names(analysis, c.name));
  }
}

// Each text is parsed and goes to both stores as it is.
void check_exact(const std::vector<const char*>& texts, const FunctionCatalog* catalog = nullptr) {
  for (const char* sql : texts) {
    INFO(sql);
    const RewriteAnalysis analysis = analyse(sql, catalog);
    REQUIRE(analysis.parsed);
    INFO(first_reason(analysis));
    CHECK(analysis.rewritable());
    CHECK_FALSE(analysis.needs_rewrite);
  }
}

}  // namespace

TEST_CASE("ADD COLUMN whose value each store computes for its existing rows is named") {
  const FunctionCatalog catalog = sample_catalog();
  check_named(
      {
          {"ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now()",
           "ADD COLUMN t.at DEFAULT now()"},
          {"ALTER TABLE t ADD COLUMN at timestamptz DEFAULT CURRENT_TIMESTAMP",
           "ADD COLUMN t.at DEFAULT CURRENT_TIMESTAMP"},
          {"ALTER TABLE t ADD at timestamp DEFAULT timezone('utc', now())", "DEFAULT now()"},
          {"ALTER TABLE s.t ADD COLUMN c timestamptz DEFAULT clock_timestamp()",
           "ADD COLUMN s.t.c DEFAULT clock_timestamp()"},
          {"ALTER TABLE t ADD COLUMN r float8 DEFAULT random()", "DEFAULT random()"},
          {"ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()",
           "DEFAULT gen_random_uuid()"},
          {"ALTER TABLE t ADD COLUMN who text DEFAULT CURRENT_USER", "DEFAULT CURRENT_USER"},
          {"ALTER TABLE t ADD COLUMN p int DEFAULT pick()", "DEFAULT volatile function pick()"},
          {"ALTER TABLE t ADD COLUMN b bytea DEFAULT gen_random_bytes(4)",
           "DEFAULT volatile extension function gen_random_bytes()"},
          {"ALTER TABLE t ADD COLUMN d date DEFAULT 'today'", "DEFAULT 'today'"},
          {"ALTER TABLE t ADD COLUMN d timestamptz DEFAULT 'now'::timestamptz", "DEFAULT 'now'"},
          {"ALTER TABLE t ADD COLUMN n serial", "ADD COLUMN t.n of type serial"},
          {"ALTER TABLE t ADD COLUMN n bigserial NOT NULL", "of type bigserial"},
          {"ALTER TABLE t ADD COLUMN n smallserial", "of type smallserial"},
          {"ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY",
           "ADD COLUMN t.n GENERATED AS IDENTITY"},
          {"ALTER TABLE t ADD COLUMN n bigint GENERATED BY DEFAULT AS IDENTITY",
           "GENERATED AS IDENTITY"},
          {"ALTER TABLE t ADD COLUMN a int DEFAULT 0, ADD COLUMN b float8 DEFAULT random()",
           "ADD COLUMN t.b DEFAULT random()"},
          {"ALTER TABLE t ALTER COLUMN c TYPE timestamptz USING now()",
           "ALTER COLUMN t.c TYPE ... USING now()"},
      },
      &catalog);
}

TEST_CASE("ADD COLUMN with a constant default, and defaults that are only stored, are exact") {
  const FunctionCatalog catalog = sample_catalog();
  check_exact(
      {
          "ALTER TABLE t ADD COLUMN c int DEFAULT 0",
          "ALTER TABLE t ADD COLUMN c text DEFAULT 'x'",
          "ALTER TABLE t ADD COLUMN c int DEFAULT -1 NOT NULL",
          "ALTER TABLE t ADD COLUMN c text DEFAULT lower('X')",
          "ALTER TABLE t ADD COLUMN c int DEFAULT twice(2)",  // known to the catalog, not volatile
          "ALTER TABLE t ADD COLUMN c jsonb DEFAULT '{}'::jsonb",
          "ALTER TABLE t ADD COLUMN c text DEFAULT 'today'::text",
          "ALTER TABLE t ADD COLUMN c int",
          "ALTER TABLE t ALTER COLUMN c TYPE bigint USING c * 2",
          // Stored for later rows, evaluated by no existing one:
          "ALTER TABLE t ALTER COLUMN c SET DEFAULT now()",
          "CREATE TABLE n (id serial, at timestamptz DEFAULT now(), r float8 DEFAULT random())",
      },
      &catalog);
}

TEST_CASE("a DO block is named: its body runs unseen on each store") {
  check_named({
      {"DO $$BEGIN INSERT INTO t (name) VALUES ('a'); END$$", "DO block"},
      {"DO LANGUAGE plpgsql 'BEGIN PERFORM 1; END'", "DO block"},
  });
}

TEST_CASE("volatile functions of an extension are named") {
  const FunctionCatalog catalog = sample_catalog();
  check_named(
      {
          {"INSERT INTO x VALUES (gen_random_bytes(8))",
           "volatile extension function gen_random_bytes()"},
          {"UPDATE x SET b = public.gen_random_bytes(8) WHERE id = 1",
           "volatile extension function public.gen_random_bytes()"},
          {"INSERT INTO x VALUES (pgp_sym_encrypt('secret', 'key'))",
           "volatile extension function pgp_sym_encrypt()"},
          {"INSERT INTO x VALUES (public.gen_random_uuid())",
           "volatile extension function public.gen_random_uuid()"},
      },
      &catalog);
  // The built-in gen_random_uuid() stays a value pgdual supplies, whatever an extension adds.
  const RewriteAnalysis builtin = analyse("INSERT INTO x VALUES (gen_random_uuid())", &catalog);
  CHECK(builtin.rewritable());
  CHECK(builtin.needs_rewrite);
  // Without the catalog's facts nothing is known of extensions.
  check_exact({"INSERT INTO x VALUES (gen_random_bytes(8))"});
}

TEST_CASE("a function the catalog does not know is named, and the catalog should be read again") {
  const FunctionCatalog catalog = sample_catalog();
  check_named(
      {
          {"INSERT INTO x VALUES (brand_new(1))",
           "function brand_new() unknown to pgdual's catalog"},
          {"UPDATE x SET a = app.twice(a)", "function app.twice() unknown"},
          {"CALL new_procedure()", "function new_procedure() unknown"},
          {"INSERT INTO x SELECT lower(brand_new(a)) FROM y", "function brand_new() unknown"},
      },
      &catalog);
  CHECK(analyse("INSERT INTO x VALUES (brand_new(1))", &catalog).calls_unknown_function);
  const RewriteAnalysis known =
      analyse("INSERT INTO x VALUES (twice(1), pg_catalog.lower('A'), public.twice(2))", &catalog);
  CHECK(known.rewritable());
  CHECK_FALSE(known.calls_unknown_function);
  // Without the catalog's names (not read yet, or it failed) no function is unknown.
  check_exact({"INSERT INTO x VALUES (brand_new(1))"}, nullptr);
  const FunctionCatalog unread;
  check_exact({"INSERT INTO x VALUES (brand_new(1))"}, &unread);
}

TEST_CASE("COPY FROM STDIN that leaves a volatile default to each store is named") {
  check_named({
      {"COPY t (name) FROM STDIN", "COPY into t (volatile default of id)"},
      {"COPY t (id, name) FROM STDIN (FORMAT csv)", "COPY into t (volatile default of created)"},
      {"COPY s.ti (name) FROM STDIN", "COPY into s.ti (volatile default of id)"},
  });
  check_exact({
      "COPY t FROM STDIN",  // the data gives every column
      "COPY t (id, name, created) FROM STDIN",
      "COPY other (a) FROM STDIN",
      "COPY t TO STDOUT",
      "COPY (SELECT * FROM t) TO STDOUT",
  });
}

TEST_CASE("input-time literals in a write are named: each store reads its own clock") {
  check_named({
      {"INSERT INTO x (at) VALUES ('now')", "input-time literal 'now'"},
      {"INSERT INTO x (d) VALUES (' Today ')", "input-time literal ' Today '"},
      {"INSERT INTO x (d) VALUES ('tomorrow'::date)", "input-time literal 'tomorrow'"},
      {"INSERT INTO x (d) VALUES (date 'YESTERDAY')", "input-time literal 'YESTERDAY'"},
      {"INSERT INTO x (at) VALUES ('today 10:00')", "input-time literal 'today 10:00'"},
      {"INSERT INTO x (at) VALUES ($$now$$)", "input-time literal 'now'"},
      {"UPDATE x SET at = 'now' WHERE id = 1", "input-time literal 'now'"},
      {"DELETE FROM x WHERE at < 'today'::timestamptz", "input-time literal 'today'"},
      {"INSERT INTO x SELECT * FROM y WHERE d = 'today'", "input-time literal 'today'"},
      {"CREATE TABLE c AS SELECT 'now'::timestamptz AS at", "input-time literal 'now'"},
      {"SELECT 'now'::timestamptz AS at INTO c", "input-time literal 'now'"},
      {"CALL record('now')", "input-time literal 'now'"},
  });
  check_exact({
      "INSERT INTO x (note) VALUES ('now'::text)",
      "INSERT INTO x (note) VALUES ('today'::varchar(10))",
      "INSERT INTO x (note) VALUES ('nowhere'), ('see you tomorrow'), ('epoch'), ('infinity')",
      "INSERT INTO x (at) VALUES ('2026-01-01 10:00')",
      "SELECT 'now'::timestamptz",  // a read: it writes nothing
  });
}

TEST_CASE("reads of the host's own files are named") {
  check_named({
      {"INSERT INTO x SELECT pg_read_file('postmaster.pid')",
       "pg_read_file() reads a file of each store's own host"},
      {"INSERT INTO x VALUES (pg_catalog.pg_read_binary_file('PG_VERSION'))",
       "pg_catalog.pg_read_binary_file() reads a file"},
      {"INSERT INTO x SELECT * FROM pg_ls_dir('.')", "pg_ls_dir() reads a file"},
      {"INSERT INTO x SELECT * FROM pg_ls_waldir()", "pg_ls_waldir() reads a file"},
      {"INSERT INTO x SELECT size FROM pg_stat_file('PG_VERSION')", "pg_stat_file() reads"},
      {"SELECT lo_import('/tmp/data', 424242)", "lo_import() reads a file of each store's"},
      {"COPY t FROM '/tmp/t.csv' (FORMAT csv)", "COPY FROM a file"},
      {"COPY t (name) FROM PROGRAM 'cat /tmp/t.csv'", "COPY FROM PROGRAM"},
  });
  check_exact({"COPY t TO '/tmp/t.csv'", "COPY t FROM STDIN", "SELECT app.pg_read_file('x')"});
}

TEST_CASE("large objects whose OID each store picks are named, a given OID is exact") {
  check_named({
      {"SELECT lo_create(0)", "lo_create() lets each store pick the large object's OID"},
      {"SELECT lo_create('0'::oid)", "lo_create() lets each store pick"},
      {"SELECT lo_create($1)", "lo_create() lets each store pick"},  // the Bind's value is unseen
      {"SELECT pg_catalog.lo_creat(-1)", "pg_catalog.lo_creat() lets each store pick"},
      {"SELECT lo_import('/tmp/data')", "lo_import() lets each store pick"},
      {"SELECT lo_import('/tmp/data', 0)", "lo_import() lets each store pick"},
      {"INSERT INTO docs VALUES (1, lo_from_bytea(0, '\\x0102'))",
       "lo_from_bytea() lets each store pick"},
  });
  check_exact({
      "SELECT lo_create(424242)",
      "SELECT lo_create(3000000000)",
      "SELECT lo_create('424242'::oid)",
      "INSERT INTO docs VALUES (1, lo_from_bytea(424243, '\\x0102'))",
      "SELECT lo_unlink(424242)",
  });
  CHECK(analyse("SELECT lo_create(424242)").depends_on_literal_values);
  CHECK(analyse("SELECT lo_create(0)").depends_on_literal_values);
}

TEST_CASE("texts that differ only in a value that matters do not share a cached analysis") {
  RewriteCache cache;
  const auto get = [&](const std::string& sql) {
    return cache.get(literal_key(sql), sql, table_defaults(), kUserVolatile, nullptr);
  };
  // A given OID is exact; the same shape with 0 is not.
  CHECK(get("SELECT lo_create(424242)")->rewritable());
  CHECK_FALSE(get("SELECT lo_create(0)")->rewritable());
  // now() makes the statement a rewrite candidate whatever its strings; 'x' and 'now' share
  // the shape.
  CHECK(get("INSERT INTO x (at, note) VALUES (now(), 'x')")->rewritable());
  CHECK_FALSE(get("INSERT INTO x (at, note) VALUES (now(), 'now')")->rewritable());
  CHECK(get("INSERT INTO x (at, note) VALUES (now(), 'y')")->rewritable());
}
