// node-postgres client for pgdual's integration tests.
//
//   node check.js   (connection from PGDUAL_CHECK_HOST, _PORT, _DB, _USER, _PASSWORD)
//
// Prints "OK <check> ..." per passed check and "ALL OK" at the end; on the
// first failure prints the error and exits 1. Every wait has a timeout.
'use strict';

const assert = require('node:assert/strict');
const { Client } = require('pg');

const config = {
  host: process.env.PGDUAL_CHECK_HOST,
  port: Number(process.env.PGDUAL_CHECK_PORT),
  database: process.env.PGDUAL_CHECK_DB,
  user: process.env.PGDUAL_CHECK_USER,
  password: process.env.PGDUAL_CHECK_PASSWORD,
  ssl: false,
  connectionTimeoutMillis: 10000,
  query_timeout: 30000,
};

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function expectError(promise, code) {
  try {
    await promise;
  } catch (err) {
    assert.equal(err.code, code, `wanted SQLSTATE ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  throw new Error(`expected an error with SQLSTATE ${code}`);
}

async function main() {
  const client = new Client(config);
  const notices = [];
  client.on('notice', (msg) => notices.push(msg));
  await client.connect();
  console.log('OK connect');

  // Simple query protocol (no parameters).
  let res = await client.query('SELECT 1 AS one, $$two$$ AS two');
  assert.deepEqual(res.rows, [{ one: 1, two: 'two' }]);
  await client.query('DROP TABLE IF EXISTS nt; CREATE TABLE nt (id int PRIMARY KEY, name text)');
  console.log('OK simple');

  // Parameterised: extended protocol with the unnamed statement.
  res = await client.query('SELECT $1::int + $2::int AS sum, $3::text AS t', [2, 3, 'ü']);
  assert.deepEqual(res.rows, [{ sum: 5, t: 'ü' }]);
  for (let i = 1; i <= 5; i++) {
    res = await client.query('INSERT INTO nt VALUES ($1, $2) RETURNING id', [i, `n${i}`]);
    assert.equal(res.rows[0].id, i);
  }
  console.log('OK parameterised');

  // A named prepared statement: parsed once, then only Bind/Execute.
  for (let i = 1; i <= 10; i++) {
    const id = (i % 5) + 1;
    res = await client.query({ name: 'get_name', text: 'SELECT name FROM nt WHERE id = $1', values: [id] });
    assert.deepEqual(res.rows, [{ name: `n${id}` }]);
  }
  res = await client.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'get_name'");
  assert.equal(res.rows[0].n, 1);
  console.log('OK named_prepared');

  // Transactions.
  await client.query('BEGIN');
  await client.query('INSERT INTO nt VALUES (10, $1)', ['committed']);
  await client.query('COMMIT');
  await client.query('BEGIN');
  await client.query('INSERT INTO nt VALUES (11, $1)', ['rolled back']);
  await client.query('ROLLBACK');
  await client.query('BEGIN');
  await client.query('INSERT INTO nt VALUES (12, $1)', ['kept']);
  await client.query('SAVEPOINT s');
  await expectError(client.query('INSERT INTO nt VALUES (10, $1)', ['dup']), '23505');
  await expectError(client.query('SELECT 1'), '25P02');
  await client.query('ROLLBACK TO SAVEPOINT s');
  await client.query('COMMIT');
  res = await client.query('SELECT array_agg(id ORDER BY id) AS ids FROM nt WHERE id >= 10');
  assert.deepEqual(res.rows[0].ids, [10, 12]);
  console.log('OK transactions');

  // Errors in both protocols, then the session carries on.
  await expectError(client.query('SELECT 1/0'), '22012');
  await expectError(client.query('SELECT $1::int / 0', [1]), '22012');
  await expectError(client.query({ name: 'bad', text: 'SELECT * FROM no_such_table' }), '42P01');
  res = await client.query({ name: 'get_name', text: 'SELECT name FROM nt WHERE id = $1', values: [2] });
  assert.deepEqual(res.rows, [{ name: 'n2' }]);
  console.log('OK error_then_continue');

  // Notices (the DROP TABLE IF EXISTS above sent one too).
  assert.equal(notices.length, 1);
  assert.match(notices[0].message, /does not exist, skipping/);
  notices.length = 0;
  await client.query("DO $$ BEGIN RAISE NOTICE 'hello %', 'node'; END $$");
  assert.equal(notices.length, 1);
  assert.equal(notices[0].message, 'hello node');
  console.log('OK notice');

  // LISTEN/NOTIFY between two connections.
  const sender = new Client(config);
  await sender.connect();
  const received = [];
  let wake;
  client.on('notification', (msg) => {
    received.push(msg);
    if (wake) wake();
  });
  await client.query('LISTEN node_channel');
  const arrived = (count) => withTimeout(new Promise((resolve) => {
    wake = () => { if (received.length >= count) resolve(); };
    wake();
  }), 5000, `${count} notification(s)`);
  await sender.query("NOTIFY node_channel, 'first'");
  await sender.query("SELECT pg_notify('node_channel', $1)", ['second']);
  await arrived(2);
  assert.deepEqual(received.map((m) => [m.channel, m.payload]),
    [['node_channel', 'first'], ['node_channel', 'second']]);
  await sender.end();
  console.log('OK listen_notify');

  await client.end();
  console.log('ALL OK');
}

const watchdog = setTimeout(() => {
  console.log('FAIL watchdog: check.js did not finish in 60 s');
  process.exit(1);
}, 60000);
watchdog.unref();

main().catch((err) => {
  console.log(`FAIL ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
