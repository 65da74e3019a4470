"""migration.mapping (issue 19, docs/schema-mapping.md) against real PostgreSQL 15 servers: the
new store renames a table, renames and retypes columns, computes a column from an expression,
adds a NOT NULL rule, has a column of its own and drops one. The application keeps the old names
throughout: pgbench with 16 clients on 5 hot rows and a mixed psql/psycopg script write through
pgdual in dual_write; the backfill copies the history; reconcile finds no difference, then finds
drift injected on the new store (reported in the old names) and repairs it; shadow reads match
under the mapping; untranslatable statements are refused or counted, never silent."""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal

import psycopg
import pytest

from conftest import deep_merge, default_config, free_port, to_yaml, wait_for
from dual_write_helpers import (FAST_JOURNAL, finish_process, metric, metric_sum, migration,
                                needs_proxy, on_store, pg_servers, pgbench_cmd, pgbench_summary,
                                pgdual_cli, query, reload_outcome, start_process,
                                wait_journal_drained, wait_sessions_settled)
from reconcile_helpers import expect_equal, reconcile, write_config

pytestmark = needs_proxy
_fixtures = (pg_servers,)  # a fixture imported from the helpers, used by name below

ROWS = 300
OLD_SCHEMA = (
    "CREATE TABLE accounts (id serial PRIMARY KEY, owner text, "
    "balance numeric(12,2) NOT NULL DEFAULT 0, note text, legacy_flag bool DEFAULT false)",
    "CREATE TABLE history (id bigserial PRIMARY KEY, account_id int NOT NULL, "
    "delta numeric(12,2) NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    f"INSERT INTO accounts (owner, balance, note, legacy_flag) SELECT 'owner ' || g, g * 1.25, "
    f"CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g END, g % 2 = 0 "
    f"FROM generate_series(1, {ROWS}) g",
)
NEW_SCHEMA = (
    "CREATE SCHEMA bank",
    "CREATE TABLE bank.account (id bigserial PRIMARY KEY, owner_name text, "
    "balance_cents bigint NOT NULL, note text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now(), balance_eur numeric(12,2))",
    "CREATE TABLE history (id bigserial PRIMARY KEY, account_id int NOT NULL, "
    "delta numeric(12,2) NOT NULL, at timestamptz NOT NULL DEFAULT now())",
)
MAPPING = {"tables": {"public.accounts": {
    "to": "bank.account",
    "columns": {
        "id": {"cast": "bigint"},
        "owner": {"to": "owner_name"},
        "balance": {"to": "balance_cents", "expr": "round(balance * 100)::bigint",
                    "inverse": "balance_cents / 100.0", "lossless": True},
        "note": {"if_null": "''", "inverse": "nullif(note, '')"},
        "legacy_flag": {"drop": True},
    },
    "new_columns": {"created_at": {"default": "server"},
                    "balance_eur": {"expr": "round(balance * 0.92, 2)"}},
}}}
# The new store's rows as the mapping says they must be, computed from each store's own data.
EXPECTED_FROM_OLD = ("SELECT id::bigint, owner, round(balance * 100)::bigint, coalesce(note, ''), "
                     "round(balance * 0.92, 2) FROM accounts ORDER BY id")
ACTUAL_ON_NEW = ("SELECT id, owner_name, balance_cents, note, balance_eur FROM bank.account "
                 "ORDER BY id")
HISTORY = "SELECT count(*), coalesce(sum(delta), 0) FROM history"
BENCH = """\\set id random(1, 5)
\\set delta random(-100, 100)
BEGIN;
UPDATE accounts SET balance = balance + :delta WHERE id = :id;
SELECT owner, balance FROM accounts WHERE id = :id;
INSERT INTO history (account_id, delta) VALUES (:id, :delta);
END;
"""


def settings(phase: str = "dual_write", **extra) -> dict:
    return migration(phase, mapping=MAPPING, **extra)


def served(dbname: str) -> dict:
    """The backends' database: what `pgdual run` checks the installed mapping against."""
    return {"backends": {"old": {"dbname": dbname}, "new": {"dbname": dbname}}}


@pytest.fixture
def stores(direct_conn, fresh_db):
    on_store(direct_conn, "old", fresh_db, *OLD_SCHEMA)
    on_store(direct_conn, "new", fresh_db, *NEW_SCHEMA)
    return fresh_db


def mapping_cli(env, config_path, dbname: str, verb: str, check: bool = True):
    return pgdual_cli(env, "mapping", verb, "--config", str(config_path), "--database",
                      dbname, check=check)


def mapped_proxy(env, proxy_factory, tmp_path, dbname: str, phase: str = "dual_write", **extra):
    """pgdual with the mapping, installed on the new store first (pgdual run refuses to start
    without it)."""
    config = write_config(env, tmp_path, phase, name="mapping", mapping=MAPPING, **extra)
    out = mapping_cli(env, config, dbname, "install").stdout
    assert "installed on the new store" in out, out
    return proxy_factory(deep_merge(settings(phase, **extra), served(dbname)))


def assert_mapped_equal(direct_conn, dbname: str, proxy) -> None:
    expected = query(direct_conn, "old", dbname, EXPECTED_FROM_OLD)
    actual = query(direct_conn, "new", dbname, ACTUAL_ON_NEW)
    assert expected == actual, (f"{len(expected)} rows expected, {len(actual)} on the new store; "
                                f"first difference: "
                                f"{next((e, a) for e, a in zip(expected + [None], actual + [None]) if e != a)}"
                                f"\n{proxy.log_tail()}")
    assert query(direct_conn, "old", dbname, HISTORY) == query(direct_conn, "new", dbname, HISTORY)


def backfill(env, proxy, dbname: str) -> str:
    code, out, err = finish_process(start_process(
        [env.pgdual_bin, "backfill", "--config", str(proxy.config_path), "--database", dbname]),
        timeout=180)
    assert code == 0, f"backfill failed:\n{out}\n{err}"
    return out


def test_check_names_the_key_and_the_column(env, stores, direct_conn, tmp_path):
    config_path = write_config(env, tmp_path, mapping=MAPPING)
    ok = mapping_cli(env, config_path, stores, "check")
    assert "1 mapped table valid on both stores" in ok.stdout
    assert "lossy: note, legacy_flag" in ok.stdout
    broken = {
        # a type the new column does not have
        "id": ({"cast": "integer"}, "columns.id: cast: integer, but new column id is bigint"),
        # a NOT NULL column fed by a nullable one without a rule
        "note": ({}, "columns.note: new column note is NOT NULL"),
        # not immutable: a backfill and a trigger would compute different values
        "owner": ({"to": "owner_name", "expr": "owner || now()::text", "inverse": "owner_name"},
                  "columns.owner: the new value cannot be computed"),
    }
    for column, (rule, message) in broken.items():
        config = deep_merge(default_config(env, free_port(), free_port()), settings())
        mapping = {"tables": {"public.accounts": dict(MAPPING["tables"]["public.accounts"])}}
        columns = dict(mapping["tables"]["public.accounts"]["columns"])
        columns[column] = rule
        mapping["tables"]["public.accounts"]["columns"] = columns
        config = {**config, "migration": {**config["migration"], "mapping": mapping}}
        path = tmp_path / f"broken_{column}.yaml"
        path.write_text(to_yaml(config))
        result = pgdual_cli(env, "mapping", "check", "--config", str(path), "--database", stores,
                            check=False)
        assert result.returncode == 1, result.stdout + result.stderr
        assert message in result.stderr, result.stderr
        assert 'migration.mapping.tables["public.accounts"]' in result.stderr
        # check-config --database runs the same check.
        checked = pgdual_cli(env, "check-config", "--database", stores, str(path), check=False)
        assert checked.returncode == 1 and message in checked.stderr, checked.stderr
    # check changed nothing on the new store.
    assert query(direct_conn, "new", stores, "SELECT to_regclass('pgdual_map.accounts')") \
        == [(None,)]


def test_strategy_cdc_refuses_a_mapping(env, tmp_path):
    path = write_config(env, tmp_path, mapping=MAPPING, strategy="cdc")
    result = pgdual_cli(env, "check-config", str(path), check=False)
    assert result.returncode == 1
    assert "strategy cdc replicates each table into the table of the same name" in result.stderr


def test_dual_write_backfill_reconcile_under_a_mapping(env, proxy_factory, stores, direct_conn,
                                                       tmp_path):
    # Full values in the reports, so that the test can read the keys.
    proxy = mapped_proxy(env, proxy_factory, tmp_path, stores, shadow_read={"log_values": "full"})
    # The history first: the new store then holds every row, in the new shape.
    out = backfill(env, proxy, stores)
    assert "public.accounts" in out
    assert_mapped_equal(direct_conn, stores, proxy)

    # 16 clients race on 5 hot rows through pgdual, in each protocol mode.
    script = tmp_path / "bench.sql"
    script.write_text(BENCH)
    for mode in ("simple", "prepared"):
        code, out, err = finish_process(start_process(
            pgbench_cmd(proxy, env, stores, "-n", "-c", "16", "-j", "2", "-T", "4", "-M", mode,
                        "-f", str(script)), {"PGPASSWORD": env.password}), timeout=90)
        assert code == 0, f"{out}\n{err}\n{proxy.log_tail()}"
        processed, failed = pgbench_summary(out)
        assert processed > 100 and failed == 0, out

    # A mixed script: psql (simple protocol, COPY, a transaction) and psycopg (extended).
    psql = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", proxy.dsn(stores)], text=True, capture_output=True,
        timeout=60, input="""
INSERT INTO accounts (owner, balance, note) VALUES ('fresh', 10.50, NULL) RETURNING id, owner, note;
UPDATE accounts SET owner = upper(owner), legacy_flag = true WHERE id BETWEEN 10 AND 20;
UPDATE accounts a SET balance = a.balance + h.delta FROM history h
  WHERE h.account_id = a.id AND h.id = (SELECT min(id) FROM history);
DELETE FROM accounts WHERE id = 30;
BEGIN;
INSERT INTO accounts (owner, balance) VALUES ('in a transaction', 3);
UPDATE accounts SET note = 'set' WHERE owner = 'in a transaction';
COMMIT;
COPY accounts (id, owner, balance, note) FROM STDIN;
90001	copied one	1.11	\\N
90002	copied two	2.22	two
\\.
""")
    assert psql.returncode == 0, psql.stderr + proxy.log_tail()
    assert " fresh " in psql.stdout
    with proxy.connect(stores) as conn:
        for i in range(20):
            conn.execute("UPDATE accounts SET balance = balance * 2, note = %s WHERE id = %s",
                         (None if i % 2 else f"n{i}", 40 + i), prepare=True)
        row = conn.execute("INSERT INTO accounts (owner, balance, note) VALUES (%s, %s, %s) "
                           "RETURNING owner, balance, note", ("psycopg", 7.77, None)).fetchone()
        assert row == ("psycopg", Decimal("7.77"), None)
    wait_sessions_settled(proxy, timeout=30)
    assert_mapped_equal(direct_conn, stores, proxy)
    assert metric_sum(proxy, "pgdual_mapping_untranslatable_total") == 0
    assert metric(proxy, "pgdual_mapping_statements_total") > 100

    # Reconcile compares the old table with the new store's view: no difference...
    expect_equal(reconcile(env, proxy.config_path, stores, "--tables", "accounts,history"))
    # ...then drift on the new store, found in the old names and repaired.
    on_store(direct_conn, "new", stores,
             "UPDATE bank.account SET balance_cents = balance_cents + 1 WHERE id = 50",
             "DELETE FROM bank.account WHERE id = 51",
             "INSERT INTO bank.account (id, owner_name, balance_cents, note) "
             "VALUES (100000, 'stray', 1, '')")
    found = reconcile(env, proxy.config_path, stores, "--tables", "accounts")
    assert found.code == 1, str(found)
    assert found.differences("public.accounts") == {
        ("different", ("50",)), ("only_on_old", ("51",)), ("only_on_new", ("100000",))}, str(found)
    differing = [d for d in found.table("public.accounts")["differences"]
                 if d["kind"] == "different"]
    assert differing[0]["columns"] == ['"balance"'], differing  # the old store's column
    repaired = reconcile(env, proxy.config_path, stores, "--tables", "accounts",
                         "--repair", "execute")
    assert repaired.code == 0, str(repaired)
    expect_equal(reconcile(env, proxy.config_path, stores, "--tables", "accounts"))
    assert_mapped_equal(direct_conn, stores, proxy)


def test_shadow_reads_compare_under_the_mapping(env, proxy_factory, stores, direct_conn, tmp_path):
    proxy = mapped_proxy(env, proxy_factory, tmp_path, stores, "shadow_read",
                         shadow_read={"log_values": "full"})
    backfill(env, proxy, stores)

    def reads(result: str) -> float:
        return metric(proxy, "pgdual_shadow_reads_total",
                      {"table": "public.accounts", "result": result})

    with proxy.connect(stores) as conn:
        for i in range(1, 21):
            conn.execute("SELECT id, owner, balance FROM accounts WHERE id = %s", (i,),
                         prepare=True)
    wait_for(lambda: reads("match") >= 20, 10, what="20 matching shadow reads")
    assert reads("mismatch") == 0, proxy.log_tail()
    # A value changed on the new store shows as a mismatch of the old column.
    on_store(direct_conn, "new", stores,
             "UPDATE bank.account SET owner_name = 'drifted' WHERE id = 5")
    with proxy.connect(stores) as conn:
        conn.execute("SELECT id, owner, balance FROM accounts WHERE id = 5")
    wait_for(lambda: reads("mismatch") >= 1, 10, what="the drifted row's mismatch")
    assert "owner" in proxy.log_text()
    # A read of the dropped column is not compared: the view cannot give it back; nor one of
    # note, which it gives back only through a lossy inverse ('' reads as NULL), nor a prepared
    # statement's later executions.
    skipped = reads("skipped")
    with proxy.connect(stores) as conn:
        assert conn.execute("SELECT legacy_flag FROM accounts WHERE id = 2").fetchone() == (True,)
        for i in range(1, 4):
            conn.execute("SELECT note FROM accounts WHERE id = %s", (i,), prepare=True)
    wait_for(lambda: reads("skipped") >= skipped + 4, 10, what="the skipped reads")
    assert reads("mismatch") == 1
    assert metric(proxy, "pgdual_mapping_untranslatable_total",
                  {"table": "public.accounts", "action": "skipped"}) >= 1


@pytest.mark.parametrize("policy", ["reject", "allow"])
def test_untranslatable_statements_follow_the_policy(env, proxy_factory, stores, direct_conn,
                                                     tmp_path, policy):
    proxy = mapped_proxy(env, proxy_factory, tmp_path, stores, nondeterministic=policy)
    backfill(env, proxy, stores)
    upsert = ("INSERT INTO accounts (id, owner, balance) VALUES (1, 'upsert', 1) "
              "ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner")
    with proxy.connect(stores) as conn:
        if policy == "reject":
            with pytest.raises(psycopg.Error) as refused:
                conn.execute(upsert)
            assert refused.value.sqlstate == "0A000"
            assert "cannot be translated to the new store's schema" in str(refused.value)
            assert query(direct_conn, "old", stores,
                         "SELECT owner FROM accounts WHERE id = 1") == [("owner 1",)]
            # A lossy column read into a write would compute another value on the new store.
            with pytest.raises(psycopg.Error) as lossy:
                conn.execute("UPDATE accounts SET owner = note WHERE id = 4")
            assert lossy.value.sqlstate == "0A000" and "reads column note" in str(lossy.value)
        else:
            conn.execute(upsert)  # the primary runs it; the table needs reconciliation
            assert query(direct_conn, "old", stores,
                         "SELECT owner FROM accounts WHERE id = 1") == [("upsert",)]
        # Translatable statements go on as before.
        conn.execute("UPDATE accounts SET owner = 'after' WHERE id = 2")
    wait_sessions_settled(proxy, timeout=30)
    action = "rejected" if policy == "reject" else "allowed"
    assert metric(proxy, "pgdual_mapping_untranslatable_total",
                  {"table": "public.accounts", "action": action}) == (2 if policy == "reject"
                                                                      else 1)
    assert query(direct_conn, "new", stores,
                 "SELECT owner_name FROM bank.account WHERE id = 2") == [("after",)]
    if policy == "allow":
        assert "sent to the new store untranslated" in proxy.log_text()
        assert metric_sum(proxy, "pgdual_reconciliation_needed_total") >= 1


def test_start_refuses_a_mapping_not_installed(env, proxy_factory, stores):
    proxy = proxy_factory(deep_merge(settings(), served(stores)), wait=False)
    code = proxy.process.wait(timeout=30)
    assert code == 1
    assert "run pgdual mapping install" in proxy.log_text()


def jdbc_shapes(env, proxy, dbname: str) -> dict:
    """What MappingShapeCheck.java prints, by line kind: one set of rows, one column list."""
    source = os.path.join(os.path.dirname(os.path.dirname(__file__)), "clients",
                          "MappingShapeCheck.java")
    url = f"jdbc:postgresql://{proxy.host}:{proxy.port}/{dbname}?sslmode=disable&connectTimeout=10"
    out = subprocess.run(["java", "-cp", "/usr/share/java/postgresql.jar", source, url, env.user,
                          env.password, "7"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr + proxy.log_tail()
    shapes: dict = {}
    for line in out.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        what, _, value = rest.partition(" ")
        key = f"{kind} {what}"
        if what == "COLUMNS":
            assert shapes.setdefault(key, value) == value, (key, shapes[key], value)
        else:
            shapes.setdefault(key, set()).add(value)
    return shapes


def test_cutover_and_rollback_under_a_mapping(env, proxy_factory, stores, direct_conn, tmp_path):
    proxy = mapped_proxy(env, proxy_factory, tmp_path, stores)
    backfill(env, proxy, stores)
    synced = pgdual_cli(env, "sequences", "sync", "--config", str(proxy.config_path),
                        "--database", stores)
    # The old column's sequence is the new column's there, under its own name.
    assert "public.accounts_id_seq -> bank.account_id_seq" in synced.stdout, synced.stdout
    shape = "INSERT INTO accounts (owner, balance, note) VALUES (%s, %s, %s) " \
            "RETURNING id, owner, balance, note"
    with proxy.connect(stores) as conn:
        cursor = conn.execute(shape, ("before cutover", 1.5, None))
        before = [(c.name, c.type_code) for c in cursor.description]

    jdbc_before = jdbc_shapes(env, proxy, stores)

    reload_outcome(proxy, True, migration={"phase": "cutover"})
    # pgjdbc (server-side prepared, binary results after five runs) sees the same names, types
    # and values from the new store, the widened id aside.
    jdbc_after = jdbc_shapes(env, proxy, stores)
    # (pgjdbc names an integer column with a sequence default "serial".)
    before_id, _, rest_before = jdbc_before["READ COLUMNS"].partition(" ")
    after_id, _, rest_after = jdbc_after["READ COLUMNS"].partition(" ")
    assert rest_before == rest_after == "owner:text balance:numeric note:text"
    assert before_id in ("id:int4", "id:serial") and after_id in ("id:int8", "id:bigserial"), \
        (before_id, after_id)
    assert jdbc_after["READ ROW"] == jdbc_before["READ ROW"] == {"7 owner 7 8.75 note 7"}
    assert jdbc_after["INSERT COLUMNS"] == jdbc_before["INSERT COLUMNS"] \
        == "owner:text balance:numeric note:text"
    assert jdbc_after["INSERT ROW"] == {f"jdbc {i} 1.25 null" for i in range(6)}
    # 16 clients on 5 hot rows with the new store answering: its view's trigger re-reads each
    # row under lock, so no update is lost (a row changed under a statement fails it with 40001,
    # which pgbench retries, without a bound within -T); both stores end with balance = start +
    # the history's deltas.
    start = dict(query(direct_conn, "old", stores,
                       "SELECT id, balance FROM accounts WHERE id <= 5"))
    history_before = dict(query(direct_conn, "old", stores,
                                "SELECT account_id, sum(delta) FROM history "
                                "WHERE account_id <= 5 GROUP BY 1"))
    script = tmp_path / "bench.sql"
    script.write_text(BENCH)
    code, out, err = finish_process(start_process(
        pgbench_cmd(proxy, env, stores, "-n", "-c", "16", "-j", "2", "-T", "4", "-M", "prepared",
                    "--max-tries", "0", "-f", str(script)), {"PGPASSWORD": env.password}),
        timeout=90)
    assert code == 0, f"{out}\n{err}\n{proxy.log_tail()}"
    processed, failed = pgbench_summary(out)
    assert processed > 100 and failed == 0, out
    wait_sessions_settled(proxy, timeout=30)
    for which, sql in (("old", "SELECT id, balance FROM accounts WHERE id <= 5"),
                       ("new", "SELECT id, (balance_cents / 100.0)::numeric(12,2) "
                               "FROM bank.account WHERE id <= 5")):
        history = dict(query(direct_conn, which, stores,
                             "SELECT account_id, sum(delta) FROM history WHERE account_id <= 5 "
                             "GROUP BY 1"))
        for account, balance in query(direct_conn, which, stores, sql):
            added = history.get(account, 0) - history_before.get(account, 0)
            assert balance == start[account] + added, (which, account, balance, start, added)
    assert_mapped_equal(direct_conn, stores, proxy)
    with proxy.connect(stores) as conn:
        cursor = conn.execute(shape, ("after cutover", 2.25, None))
        row = cursor.fetchone()
        after = [(c.name, c.type_code) for c in cursor.description]
        # The client's names; types as before but the widened id (int4 -> int8).
        assert [name for name, _ in after] == [name for name, _ in before]
        assert after[1:] == before[1:] and before[0][1] == 23 and after[0][1] == 20
        assert row[1:] == ("after cutover", Decimal("2.25"), None)
        new_id = row[0]
        # Read back from the new store, in the old shape, in text and in binary.
        for binary in (False, True):
            assert conn.execute("SELECT owner, balance, note FROM accounts WHERE id = %s",
                                (new_id,), binary=binary).fetchone() == row[1:]
        conn.execute("UPDATE accounts SET balance = balance + 1, note = 'later' WHERE id = %s",
                     (new_id,), prepare=True)
        conn.execute("DELETE FROM accounts WHERE id = 3")
        # The new store answers the client now: a column it does not keep cannot be read.
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("SELECT legacy_flag FROM accounts WHERE id = 1")
        assert refused.value.sqlstate == "0A000"
        assert "the new store is primary" in str(refused.value)
    wait_sessions_settled(proxy, timeout=30)
    assert query(direct_conn, "new", stores, "SELECT owner_name, balance_cents, note FROM "
                 f"bank.account WHERE id = {new_id}") == [("after cutover", 325, "later")]
    assert_mapped_equal(direct_conn, stores, proxy)

    # note maps NULL to '' without a lossless inverse: leaving cutover is refused...
    log = reload_outcome(proxy, False, migration={"phase": "dual_write"})
    assert "rollback of cutover refused" in log and "public.accounts.note" in log, log
    # ...until the operator accepts it (a live key).
    reload_outcome(proxy, True, migration={"phase": "dual_write",
                                           "mapping": {"rollback": "allow"}})
    with proxy.connect(stores) as conn:
        conn.execute("UPDATE accounts SET owner = 'rolled back' WHERE id = %s", (new_id,))
    wait_sessions_settled(proxy, timeout=30)
    assert query(direct_conn, "old", stores, f"SELECT owner FROM accounts WHERE id = {new_id}") \
        == [("rolled back",)]
    assert_mapped_equal(direct_conn, stores, proxy)


def test_journal_replays_the_mapped_statements(env, proxy_factory, stores, direct_conn, tmp_path,
                                               pg_servers):
    proxy = mapped_proxy(env, proxy_factory, tmp_path, stores, journal=dict(FAST_JOURNAL))
    backfill(env, proxy, stores)
    pg_servers.stop("new")
    try:
        with proxy.connect(stores) as conn:
            for i in range(1, 41):
                conn.execute("UPDATE accounts SET balance = balance + %s, owner = %s "
                             "WHERE id = %s", (i, f"while down {i}", i), prepare=True)
                conn.execute("INSERT INTO history (account_id, delta) VALUES (%s, %s)", (i, i))
            conn.execute("INSERT INTO accounts (owner, balance, note) VALUES ('down', 4, NULL)")
        # What waits for the new store is its own text: the view's name, not the old table's.
        wait_for(lambda: query(direct_conn, "old", stores,
                               "SELECT count(*) FROM pgdual.journal WHERE position("
                               "'\"pgdual_map\".\"accounts\"'::bytea IN record) > 0")[0][0] >= 40,
                 15, what="journal records holding the mapped statements")
    finally:
        pg_servers.start("new")
    wait_journal_drained(proxy, direct_conn, "old", stores, timeout=90)
    assert_mapped_equal(direct_conn, stores, proxy)
    expect_equal(reconcile(env, proxy.config_path, stores, "--tables", "accounts,history"))
