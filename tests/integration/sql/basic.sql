-- pgdual integration test: psql prints the same bytes through pgdual as
-- against PostgreSQL directly (invariant 4). Run with psql -X -a.
-- Never print anything that differs between two databases or runs
-- (OIDs, PIDs, database names, times).
\pset null '(null)'
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 0;
SHOW TimeZone;

-- DDL
CREATE TABLE items (
  id int PRIMARY KEY,
  name text NOT NULL,
  price numeric(10, 2),
  tags text[],
  made date,
  meta jsonb,
  flag boolean,
  blob bytea,
  at timestamptz,
  uid uuid,
  ratio float8,
  span interval
);
CREATE INDEX items_name ON items (name);
ALTER TABLE items ADD COLUMN note varchar(20) DEFAULT 'none';
COMMENT ON TABLE items IS 'things for sale';
\d items

-- Inserts and row counts
INSERT INTO items VALUES
  (1, 'apple', 1.25, '{red,fruit}', '2024-01-02', '{"a": 1, "b": [true, null]}', true,
   '\xdeadbeef', '2024-01-02 03:04:05+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5,
   '1 day 02:00:00');
INSERT INTO items (id, name, price) VALUES (2, 'banana', 0.5), (3, 'cherry', 12), (4, 'date', NULL);
INSERT INTO items (id, name, price, tags)
  SELECT g, 'bulk ' || g, g * 1.1, ARRAY['t' || g]
  FROM generate_series(100, 149) g;
INSERT INTO items (id, name) VALUES (5, 'elder') RETURNING id, name, note;
UPDATE items SET price = price * 2 WHERE id BETWEEN 100 AND 119;
DELETE FROM items WHERE id BETWEEN 140 AND 149;
SELECT count(*) AS bulk_rows FROM items WHERE id >= 100;

-- Selects of many types
SELECT * FROM items WHERE id < 100 ORDER BY id;
SELECT 1 AS int4, 'two' AS text, NULL::int AS null_int, 3.14::float8 AS float8,
       'Infinity'::float8 AS inf, 'NaN'::numeric AS nan,
       12345678901234567890.123456789::numeric AS big_numeric,
       (-32768)::smallint AS int2, 9223372036854775807::bigint AS int8,
       true AS bool, 'x'::char(3) AS bpchar, B'1010' AS bits;
SELECT E'tab\there' AS escaped, 'üñïçødé ✓' AS unicode, repeat('xy', 40) AS long_text,
       '' AS empty, ' leading and trailing ' AS spaces, E'two\nlines' AS multiline;
SELECT ARRAY[1, 2, 3] AS int_array, ARRAY[['a', 'b'], ['c', NULL]] AS text_matrix,
       ROW(1, 'a', NULL) AS record, '{"k": [1, 2, {"z": null}]}'::jsonb AS jsonb,
       '{"k": 1}'::json AS json, int4range(1, 10) AS range, point(1.5, -2) AS point,
       inet '10.0.0.1/8' AS inet, macaddr '08:00:2b:01:02:03' AS macaddr,
       '\x00ff10'::bytea AS bytea;
SELECT date '2024-02-29' AS date, time '23:59:59.999999' AS time,
       timestamp '2000-01-01 00:00:00' AS ts, timestamptz '1999-12-31 23:00:00-05' AS tstz,
       interval '1 year 2 mons 3 days 04:05:06.7' AS interval,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid,
       to_tsvector('simple', 'the quick brown fox') AS tsvector;
SELECT g AS n, g * g AS square, md5(g::text) AS hash
  FROM generate_series(1, 25) g;
SELECT name, price FROM items WHERE price IS NOT NULL ORDER BY price DESC, id LIMIT 5;
SELECT count(*), sum(price), avg(price)::numeric(10, 4), min(name), max(name) FROM items;
\x on
SELECT id, name, tags, meta FROM items WHERE id = 1;
\x off
\pset format aligned
\pset border 2
SELECT id, name FROM items WHERE id <= 3 ORDER BY id;
\pset border 1
\pset format unaligned
SELECT id, name FROM items WHERE id <= 3 ORDER BY id;
\pset format aligned
SELECT 1 WHERE false;

-- A multi-statement string: one Query message, one implicit transaction
SELECT 1 AS first \; SELECT 'second' AS second \; UPDATE items SET note = 'multi' WHERE id < 3;
SELECT id, note FROM items WHERE id < 6 ORDER BY id;
-- An error in a multi-statement string rolls back the whole string
UPDATE items SET note = 'never' WHERE id = 1 \; SELECT 1 / 0 \; UPDATE items SET note = 'never';
SELECT note FROM items WHERE id = 1;

-- Errors, with details and hints
SELECT * FROM no_such_table;
SELECT no_such_function(1, 'a');
INSERT INTO items (id, name) VALUES (1, 'duplicate');
INSERT INTO items (id) VALUES (999);
SELECT 'abc'::int;
SELEC 1;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY verbose
SELECT 1 / 0;
\set VERBOSITY default
\set SHOW_CONTEXT always
DO $$ BEGIN RAISE EXCEPTION 'custom failure %', 42 USING ERRCODE = 'P0042', HINT = 'try again', DETAIL = 'it went wrong'; END $$;
\set SHOW_CONTEXT errors
\echo :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE

-- Notices and warnings from a DO block
DO $$
BEGIN
  RAISE NOTICE 'hello from %', 'plpgsql';
  RAISE WARNING 'careful: % items', (SELECT count(*) FROM items);
  RAISE NOTICE USING MESSAGE = 'notice with extras', DETAIL = 'the detail', HINT = 'the hint';
  RAISE INFO 'info level';
END
$$;
SET client_min_messages = warning;
DO $$ BEGIN RAISE NOTICE 'suppressed'; RAISE WARNING 'not suppressed'; END $$;
RESET client_min_messages;
DROP TABLE IF EXISTS does_not_exist;

-- SQL-level prepared statements
PREPARE by_id(int) AS SELECT id, name FROM items WHERE id = $1;
EXECUTE by_id(2);
EXECUTE by_id(3);
DEALLOCATE by_id;
EXECUTE by_id(2);

-- \copy in and out
CREATE TABLE copy_src (id int, label text, amount numeric);
\copy copy_src FROM stdin
1	one	1.5
2	two	\N
3	th"ree, with comma	3
\.
INSERT INTO copy_src SELECT g, 'row ' || g, g * 0.5 FROM generate_series(4, 1000) g;
\copy copy_src TO 'copy_out.csv' WITH (FORMAT csv, HEADER)
CREATE TABLE copy_dst (LIKE copy_src);
\copy copy_dst FROM 'copy_out.csv' WITH (FORMAT csv, HEADER)
SELECT count(*), sum(amount), md5(string_agg(id || ':' || label, ',' ORDER BY id)) FROM copy_dst;
\copy (SELECT * FROM copy_src WHERE id <= 5 ORDER BY id) TO stdout
\copy (SELECT * FROM copy_src WHERE id <= 3 ORDER BY id) TO stdout WITH (FORMAT csv, HEADER)
COPY (SELECT id, label FROM copy_src WHERE id BETWEEN 10 AND 12 ORDER BY id) TO STDOUT;
\copy copy_dst FROM stdin
1001	bad row	not_a_number
\.
SELECT count(*) FROM copy_dst;

-- A transaction with a savepoint and a rollback to it
BEGIN;
INSERT INTO items (id, name) VALUES (10, 'ten');
SAVEPOINT s1;
INSERT INTO items (id, name) VALUES (11, 'eleven');
INSERT INTO items (id, name) VALUES (10, 'ten again');
SELECT 'in aborted transaction';
ROLLBACK TO SAVEPOINT s1;
INSERT INTO items (id, name) VALUES (12, 'twelve');
SAVEPOINT s2;
UPDATE items SET name = 'TWELVE' WHERE id = 12;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT id, name FROM items WHERE id BETWEEN 10 AND 12 ORDER BY id;
-- Rolled back
BEGIN;
DELETE FROM items;
SELECT count(*) AS inside FROM items;
ROLLBACK;
SELECT count(*) AS after_rollback FROM items;
-- A failed transaction's COMMIT reports ROLLBACK
BEGIN;
UPDATE items SET name = 'lost' WHERE id = 1;
SELECT 1 / 0;
COMMIT;
SELECT name FROM items WHERE id = 1;
\echo :ROW_COUNT

-- Session state
SET search_path = pg_catalog, public;
SHOW search_path;
RESET search_path;
SELECT current_setting('DateStyle') AS datestyle, current_setting('TimeZone') AS tz;
CREATE TEMP TABLE scratch AS SELECT g FROM generate_series(1, 3) g;
SELECT sum(g) FROM scratch;
DISCARD ALL;
SELECT sum(g) FROM scratch;

-- Cleanup
DROP TABLE copy_src, copy_dst;
DROP TABLE items;
