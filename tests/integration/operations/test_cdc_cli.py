"""`pgdual cdc preflight|setup|status|teardown` from the command line (cdc/preflight, cdc/setup,
cmd/commands/cdc.cpp) against the two real PostgreSQL 15 servers, which scripts/test starts with
wal_level = logical: preflight refusals (a table without a primary key unless
replica_identity_full, a table missing on the new store, a narrowed column) create nothing;
setup creates the publication, the subscription and its slot, and a second run changes nothing;
rows written on the old store directly reach the new one; a table entering a dual-write phase is
added and copied, one leaving it is removed; an orphan slot of an interrupted setup is dropped;
teardown leaves no publication, subscription or slot on either server.

No pgdual proxy runs here. Every test tears down what it created, even when it fails (fixture
cdc_db: `pgdual cdc teardown`, then plain SQL for whatever is left, so that the databases can be
dropped), and every wait is bounded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import default_config, deep_merge, free_port, run, to_yaml, wait_for
from dual_write_helpers import migration, needs_proxy, on_both, on_store, query, scalar

pytestmark = needs_proxy

RUN_TIMEOUT = 120
REPLICATION_WAIT = 60  # seconds for rows to reach the new store (initial copy or apply)


@dataclass
class Outcome:
    code: int
    report: dict | None
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def check(self, name: str) -> list[dict]:
        return [c for c in self.report["checks"] if c["name"] == name]


def write_config(env, tmp_path: Path, phase: str = "dual_write", name: str = "cdc",
                 cdc: dict | None = None, **settings) -> Path:
    settings.setdefault("strategy", "cdc")
    config = deep_merge(default_config(env, free_port(), free_port()), migration(phase, **settings))
    if cdc:
        config["migration"]["cdc"] = cdc
    path = tmp_path / f"{name}.yaml"
    path.write_text(to_yaml(config))
    return path


def cdc_cli(env, action: str, config: Path, dbname: str, *args: str,
            fmt: str = "json") -> Outcome:
    result = run([env.pgdual_bin, "cdc", action, "--config", str(config), "--database", dbname,
                  "--format", fmt, *args], timeout=RUN_TIMEOUT, check=False)
    try:
        report = json.loads(result.stdout) if fmt == "json" else None
    except ValueError:
        report = None
    return Outcome(result.returncode, report, result.stdout, result.stderr)


def forward_name(dbname: str) -> str:
    # cdc/names.hpp: test database names are already lower-case [a-z0-9_] and short.
    return "pgdual_" + dbname


def objects(direct_conn, dbname: str) -> dict[str, list]:
    """pgdual's replication objects of the database on both servers."""
    name = forward_name(dbname)
    return {
        "old publications": query(direct_conn, "old", dbname,
                                  "SELECT pubname FROM pg_publication WHERE pubname LIKE %s",
                                  (name + "%",)),
        "old slots": query(direct_conn, "old", dbname,
                           "SELECT slot_name FROM pg_replication_slots WHERE database = %s",
                           (dbname,)),
        "old subscriptions": query(direct_conn, "old", dbname,
                                   "SELECT subname FROM pg_subscription WHERE subdbid = "
                                   "(SELECT oid FROM pg_database WHERE datname = %s)", (dbname,)),
        "new publications": query(direct_conn, "new", dbname,
                                  "SELECT pubname FROM pg_publication WHERE pubname LIKE %s",
                                  (name + "%",)),
        "new subscriptions": query(direct_conn, "new", dbname,
                                   "SELECT subname FROM pg_subscription WHERE subdbid = "
                                   "(SELECT oid FROM pg_database WHERE datname = %s)", (dbname,)),
        "new slots": query(direct_conn, "new", dbname,
                           "SELECT slot_name FROM pg_replication_slots WHERE database = %s",
                           (dbname,)),
    }


def nothing_left(direct_conn, dbname: str) -> bool:
    return not any(objects(direct_conn, dbname).values())


def force_cleanup(env, direct_conn, dbname: str) -> None:
    """Plain SQL for whatever teardown left: the databases cannot be dropped while a
    subscription lives in one (new store) or a slot belongs to one (old store)."""
    for which in ("new", "old"):
        with direct_conn(which, dbname) as conn:
            for (sub,) in conn.execute(
                    "SELECT subname FROM pg_subscription WHERE subdbid = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchall():
                conn.execute(f'ALTER SUBSCRIPTION "{sub}" DISABLE')
                conn.execute(f'ALTER SUBSCRIPTION "{sub}" SET (slot_name = NONE)')
                conn.execute(f'DROP SUBSCRIPTION "{sub}"')
    for which in ("old", "new"):
        with direct_conn(which, dbname) as conn:
            def slots():
                return conn.execute("SELECT slot_name, active FROM pg_replication_slots "
                                    "WHERE database = current_database()").fetchall()
            wait_for(lambda: not any(active for _, active in slots()), 30,
                     what=f"the {which} store's slots of {dbname} to be released")
            for (slot, _) in slots():
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


@pytest.fixture
def cdc_db(env, tmp_path, fresh_db, direct_conn):
    """A fresh database; afterwards pgdual's replication objects of it are dropped (by
    `pgdual cdc teardown`, then by plain SQL for anything left), whatever the test did."""
    yield fresh_db
    config = write_config(env, tmp_path, name="teardown")
    try:
        cdc_cli(env, "teardown", config, fresh_db, "--yes")
    finally:
        force_cleanup(env, direct_conn, fresh_db)


def new_rows(direct_conn, dbname: str, table: str) -> list[tuple]:
    return query(direct_conn, "new", dbname, f"SELECT * FROM {table} ORDER BY 1")


def old_rows(direct_conn, dbname: str, table: str) -> list[tuple]:
    return query(direct_conn, "old", dbname, f"SELECT * FROM {table} ORDER BY 1")


def wait_replicated(direct_conn, dbname: str, table: str) -> None:
    wait_for(lambda: new_rows(direct_conn, dbname, table) == old_rows(direct_conn, dbname, table),
             REPLICATION_WAIT, what=f"{table} to be identical on the new store")


# --------------------------------------------------------------------------
# Tests


def test_keyless_table_refused_then_accepted_with_replica_identity_full(env, tmp_path, cdc_db,
                                                                        direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE keyed (id int PRIMARY KEY, v text)",
            "CREATE TABLE keyless (a int, b text)")
    on_store(direct_conn, "old", cdc_db, "INSERT INTO keyless VALUES (1, 'one'), (2, 'two')")
    config = write_config(env, tmp_path)

    outcome = cdc_cli(env, "preflight", config, cdc_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.report["ok"] is False
    [identity] = outcome.check("replica identity")
    assert identity["status"] == "fail"
    assert "public.keyless" in identity["message"] and "public.keyed" not in identity["message"]
    assert "replica_identity_full" in identity["message"]
    table = cdc_cli(env, "preflight", config, cdc_db, fmt="table")
    assert table.code == 1 and "public.keyless" in table.stdout and "fail" in table.stdout

    # setup refuses too, and creates nothing.
    outcome = cdc_cli(env, "setup", config, cdc_db)
    assert outcome.code == 1, str(outcome)
    assert "replica identity" in outcome.report["error"] and outcome.report["actions"] == []
    assert nothing_left(direct_conn, cdc_db), objects(direct_conn, cdc_db)

    full = write_config(env, tmp_path, name="full", cdc={"replica_identity_full": True})
    outcome = cdc_cli(env, "preflight", full, cdc_db)
    assert outcome.code == 0, str(outcome)
    [identity] = outcome.check("replica identity")
    assert identity["status"] == "warn" and "REPLICA IDENTITY FULL" in identity["message"]
    assert outcome.report["replica_identity_full"] == ["public.keyless"]

    outcome = cdc_cli(env, "setup", full, cdc_db)
    assert outcome.code == 0, str(outcome)
    assert any("REPLICA IDENTITY FULL on public.keyless" in a for a in outcome.report["actions"])
    assert scalar(direct_conn, "old", cdc_db,
                  "SELECT relreplident FROM pg_class WHERE oid = 'keyless'::regclass") == "f"
    wait_replicated(direct_conn, cdc_db, "keyless")
    # The application's UPDATE and DELETE still work on the old store, and replicate.
    on_store(direct_conn, "old", cdc_db, "UPDATE keyless SET b = 'uno' WHERE a = 1",
             "DELETE FROM keyless WHERE a = 2")
    wait_replicated(direct_conn, cdc_db, "keyless")
    assert new_rows(direct_conn, cdc_db, "keyless") == [(1, "uno")]


def test_setup_creates_the_objects_once_and_rows_replicate(env, tmp_path, cdc_db, direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE items (id int PRIMARY KEY, name text, n bigint)")
    on_store(direct_conn, "old", cdc_db,
             "INSERT INTO items SELECT g, 'item ' || g, g * 10 FROM generate_series(1, 500) g")
    config = write_config(env, tmp_path)
    name = forward_name(cdc_db)

    outcome = cdc_cli(env, "setup", config, cdc_db)
    assert outcome.code == 0, str(outcome)
    actions = outcome.report["actions"]
    assert any(a.startswith(f"created publication {name}") for a in actions), actions
    assert any(a.startswith(f"added to publication {name}: public.items") for a in actions)
    assert any(a.startswith(f"created subscription {name}") for a in actions), actions
    assert outcome.report["published_tables"] == ["public.items"]
    assert query(direct_conn, "old", cdc_db,
                 "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
                 (name,)) == [("public", "items")]
    assert query(direct_conn, "old", cdc_db,
                 "SELECT pubinsert, pubupdate, pubdelete, pubtruncate, "
                 "obj_description(oid, 'pg_publication') LIKE 'owned by pgdual%%' "
                 "FROM pg_publication WHERE pubname = %s",
                 (name,)) == [(True, True, True, True, True)]
    assert query(direct_conn, "new", cdc_db,
                 "SELECT subslotname, subenabled, substream, subsynccommit, subdisableonerr "
                 "FROM pg_subscription WHERE subname = %s",
                 (name,)) == [(name, True, True, "local", False)]
    assert scalar(direct_conn, "old", cdc_db,
                  "SELECT plugin FROM pg_replication_slots WHERE slot_name = %s",
                  (name,)) == "pgoutput"

    # The initial copy, then writes made on the old store directly (not through pgdual).
    wait_replicated(direct_conn, cdc_db, "items")
    on_store(direct_conn, "old", cdc_db,
             "INSERT INTO items SELECT g, 'late ' || g, g FROM generate_series(501, 600) g",
             "UPDATE items SET name = 'changed' WHERE id % 7 = 0",
             "DELETE FROM items WHERE id BETWEEN 100 AND 149")
    wait_replicated(direct_conn, cdc_db, "items")
    assert scalar(direct_conn, "new", cdc_db, "SELECT count(*) FROM items") == 550

    # A second run finds everything in place and changes nothing.
    again = cdc_cli(env, "setup", config, cdc_db)
    assert again.code == 0, str(again)
    assert again.report["actions"] == [], str(again)
    text = cdc_cli(env, "setup", config, cdc_db, fmt="table")
    assert text.code == 0 and "nothing to change" in text.stdout, str(text)
    assert len(objects(direct_conn, cdc_db)["old slots"]) == 1

    # status: ready once the tables are synchronised (bounded).
    def ready():
        status = cdc_cli(env, "status", config, cdc_db)
        return status if status.code == 0 else None
    status = wait_for(ready, REPLICATION_WAIT, what="cdc status to report ready", interval=0.5)
    assert status.report["ready"] is True
    assert status.report["publisher"]["slot_exists"] is True
    assert status.report["subscriber"]["subscription_exists"] is True


def test_a_table_entering_a_dual_write_phase_is_added_and_copied(env, tmp_path, cdc_db,
                                                                 direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE early (id int PRIMARY KEY, v text)",
            "CREATE TABLE later (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", cdc_db,
             "INSERT INTO early SELECT g, 'e' || g FROM generate_series(1, 50) g",
             "INSERT INTO later SELECT g, 'l' || g FROM generate_series(1, 80) g")
    name = forward_name(cdc_db)
    first = write_config(env, tmp_path, phase="prepare", name="first",
                         tables={"public.early": {"phase": "dual_write"}})
    outcome = cdc_cli(env, "setup", first, cdc_db)
    assert outcome.code == 0, str(outcome)
    assert outcome.report["published_tables"] == ["public.early"]
    wait_replicated(direct_conn, cdc_db, "early")
    assert new_rows(direct_conn, cdc_db, "later") == []

    # `later` enters dual_write: added to the publication, the subscription refreshed, its rows
    # copied, and rows written meanwhile arrive too.
    second = write_config(env, tmp_path, phase="dual_write", name="second")
    outcome = cdc_cli(env, "setup", second, cdc_db)
    assert outcome.code == 0, str(outcome)
    actions = outcome.report["actions"]
    assert f"added to publication {name}: public.later" in actions, actions
    assert any(a.startswith(f"refreshed subscription {name}") and "public.later" in a
               for a in actions), actions
    assert not any(a.startswith("created") for a in actions), actions
    on_store(direct_conn, "old", cdc_db, "INSERT INTO later VALUES (81, 'after the refresh')")
    wait_replicated(direct_conn, cdc_db, "later")
    assert cdc_cli(env, "setup", second, cdc_db).report["actions"] == []

    # `early` moves on to cutover: removed from the publication; its writes stay on the old
    # store.
    third = write_config(env, tmp_path, phase="dual_write", name="third",
                         tables={"public.early": {"phase": "cutover"}})
    outcome = cdc_cli(env, "setup", third, cdc_db)
    assert outcome.code == 0, str(outcome)
    assert any(a.startswith(f"removed from publication {name}") and "public.early" in a
               for a in outcome.report["actions"]), str(outcome)
    assert query(direct_conn, "old", cdc_db,
                 "SELECT tablename FROM pg_publication_tables WHERE pubname = %s",
                 (name,)) == [("later",)]


def test_teardown_leaves_no_publication_subscription_or_slot(env, tmp_path, cdc_db,
                                                              direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE t (id int PRIMARY KEY)")
    on_store(direct_conn, "old", cdc_db, "INSERT INTO t SELECT generate_series(1, 100)")
    config = write_config(env, tmp_path)
    assert cdc_cli(env, "setup", config, cdc_db).code == 0
    wait_replicated(direct_conn, cdc_db, "t")
    assert not nothing_left(direct_conn, cdc_db)

    refused = cdc_cli(env, "teardown", config, cdc_db)
    assert refused.code == 2 and "--yes" in refused.stderr, str(refused)
    assert objects(direct_conn, cdc_db)["new subscriptions"], "teardown without --yes dropped"

    outcome = cdc_cli(env, "teardown", config, cdc_db, "--yes")
    assert outcome.code == 0, str(outcome)
    name = forward_name(cdc_db)
    assert any(a.startswith(f"dropped subscription {name} on the new store")
               for a in outcome.report["actions"]), str(outcome)
    assert f"dropped publication {name} on the old store" in outcome.report["actions"]
    assert outcome.report["remaining"] == []
    assert nothing_left(direct_conn, cdc_db), objects(direct_conn, cdc_db)
    assert scalar(direct_conn, "old", cdc_db,
                  "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgdual\\_%%' "
                  "AND database = current_database()") == 0

    # Nothing left to drop: still exit 0.
    again = cdc_cli(env, "teardown", config, cdc_db, "--yes", fmt="table")
    assert again.code == 0 and "nothing to drop" in again.stdout, str(again)


def test_a_table_missing_on_the_new_store_is_refused(env, tmp_path, cdc_db, direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE present (id int PRIMARY KEY)")
    on_store(direct_conn, "old", cdc_db, "CREATE TABLE absent (id int PRIMARY KEY)")
    config = write_config(env, tmp_path)
    outcome = cdc_cli(env, "preflight", config, cdc_db)
    assert outcome.code == 1, str(outcome)
    [tables] = outcome.check("tables (new store)")
    assert tables["status"] == "fail"
    assert tables["message"].startswith("public.absent missing on the new store"), tables
    assert "pg_dump --schema-only" in tables["message"]

    outcome = cdc_cli(env, "setup", config, cdc_db)
    assert outcome.code == 1 and "public.absent missing on the new store" in outcome.report["error"]
    assert nothing_left(direct_conn, cdc_db), objects(direct_conn, cdc_db)


def test_column_differences_and_rows_already_on_the_new_store_are_refused(env, tmp_path, cdc_db,
                                                                          direct_conn):
    on_store(direct_conn, "old", cdc_db,
             "CREATE TABLE widened (id int PRIMARY KEY, v varchar(10))",
             "CREATE TABLE narrowed (id bigint PRIMARY KEY, extra text)",
             "CREATE TABLE filled (id int PRIMARY KEY)")
    on_store(direct_conn, "new", cdc_db,
             "CREATE TABLE widened (id bigint PRIMARY KEY, v text, added int NOT NULL DEFAULT 0)",
             "CREATE TABLE narrowed (id int PRIMARY KEY, required text NOT NULL)",
             "CREATE TABLE filled (id int PRIMARY KEY)", "INSERT INTO filled VALUES (1)")
    outcome = cdc_cli(env, "preflight", write_config(env, tmp_path), cdc_db)
    assert outcome.code == 1, str(outcome)
    [columns] = outcome.check("columns")
    assert columns["status"] == "fail"
    message = columns["message"]
    assert "widened" not in message, message
    assert "public.narrowed: column id is bigint on the old store but integer on the new" in message
    assert "column extra (text) is missing on the new store" in message
    assert "column required exists on the new store only and is NOT NULL" in message
    [copy] = outcome.check("initial copy")
    assert copy["status"] == "fail" and "public.filled" in copy["message"]
    assert "copy_data: none" in copy["message"]

    # With copy_data: none the rows are taken to be there already.
    none = write_config(env, tmp_path, name="none", cdc={"copy_data": "none"})
    outcome = cdc_cli(env, "preflight", none, cdc_db)
    assert [c["status"] for c in outcome.check("initial copy")] == ["pass"], str(outcome)


def test_setup_drops_an_orphan_slot_of_an_interrupted_run(env, tmp_path, cdc_db, direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE t (id int PRIMARY KEY)")
    name = forward_name(cdc_db)
    # What CREATE SUBSCRIPTION leaves on the old store when it dies before committing.
    on_store(direct_conn, "old", cdc_db,
             f"SELECT pg_create_logical_replication_slot('{name}', 'pgoutput')")
    outcome = cdc_cli(env, "setup", write_config(env, tmp_path), cdc_db)
    assert outcome.code == 0, str(outcome)
    assert outcome.report["actions"][0].startswith(f"dropped the orphan replication slot {name}")
    assert scalar(direct_conn, "old", cdc_db,
                  "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (name,)) in (
                      True, False)
    on_store(direct_conn, "old", cdc_db, "INSERT INTO t VALUES (1)")
    wait_replicated(direct_conn, cdc_db, "t")


def test_setup_refuses_without_strategy_cdc(env, tmp_path, cdc_db, direct_conn):
    on_both(direct_conn, cdc_db, "CREATE TABLE t (id int PRIMARY KEY)")
    config = write_config(env, tmp_path, strategy="sync")
    preflight = cdc_cli(env, "preflight", config, cdc_db)
    assert preflight.code == 0, str(preflight)
    assert [c["status"] for c in preflight.check("strategy")] == ["warn"]
    outcome = cdc_cli(env, "setup", config, cdc_db)
    assert outcome.code == 1 and "not cdc" in outcome.report["error"], str(outcome)
    assert nothing_left(direct_conn, cdc_db), objects(direct_conn, cdc_db)


def test_partitioned_table_is_published_as_its_root_and_leaves_replicate(env, tmp_path, cdc_db,
                                                                         direct_conn):
    on_both(direct_conn, cdc_db,
            "CREATE TABLE events (id int, at date NOT NULL, PRIMARY KEY (id, at)) "
            "PARTITION BY RANGE (at)",
            "CREATE TABLE events_2025 PARTITION OF events "
            "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
            "CREATE TABLE events_2026 PARTITION OF events "
            "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    on_store(direct_conn, "old", cdc_db,
             "INSERT INTO events VALUES (1, '2025-03-01'), (2, '2026-03-01')")
    outcome = cdc_cli(env, "setup", write_config(env, tmp_path), cdc_db)
    assert outcome.code == 0, str(outcome)
    assert outcome.report["published_tables"] == ["public.events"]
    wait_replicated(direct_conn, cdc_db, "events")
    on_store(direct_conn, "old", cdc_db, "INSERT INTO events VALUES (3, '2026-06-01')",
             "DELETE FROM events WHERE id = 1")
    wait_replicated(direct_conn, cdc_db, "events")
    assert new_rows(direct_conn, cdc_db, "events_2026") == old_rows(direct_conn, cdc_db,
                                                                   "events_2026")


def test_teardown_without_the_slot_on_the_old_store(env, tmp_path, cdc_db, direct_conn):
    """DROP SUBSCRIPTION fails when the publisher lost the slot: teardown drops the subscription
    without it (DISABLE, SET (slot_name = NONE), DROP) and still leaves nothing behind."""
    on_both(direct_conn, cdc_db, "CREATE TABLE t (id int PRIMARY KEY)")
    config = write_config(env, tmp_path)
    assert cdc_cli(env, "setup", config, cdc_db).code == 0
    name = forward_name(cdc_db)
    on_store(direct_conn, "new", cdc_db, f'ALTER SUBSCRIPTION "{name}" DISABLE')
    with direct_conn("old", cdc_db) as conn:
        wait_for(lambda: conn.execute(
            "SELECT NOT active FROM pg_replication_slots WHERE slot_name = %s",
            (name,)).fetchone()[0], 30, what="the slot to be released")
        conn.execute("SELECT pg_drop_replication_slot(%s)", (name,))

    outcome = cdc_cli(env, "teardown", config, cdc_db, "--yes")
    assert outcome.code == 0, str(outcome)
    assert any(a.startswith(f"dropped subscription {name} on the new store without its slot")
               for a in outcome.report["actions"]), str(outcome)
    assert nothing_left(direct_conn, cdc_db), objects(direct_conn, cdc_db)


def test_status_reports_not_ready_without_replication(env, tmp_path, cdc_db, direct_conn):
    config = write_config(env, tmp_path)
    outcome = cdc_cli(env, "status", config, cdc_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.report["ready"] is False
    assert outcome.report["subscriber"]["subscription_exists"] is False
    table = cdc_cli(env, "status", config, cdc_db, fmt="table")
    assert table.code == 1 and "not ready" in table.stdout, str(table)


def test_an_unreachable_publisher_address_is_reported_by_setup(env, tmp_path, cdc_db,
                                                               direct_conn):
    """The new server connects to the old one itself: preflight cannot see that address fail,
    CREATE SUBSCRIPTION does, and setup says which address it used (never the password)."""
    on_both(direct_conn, cdc_db, "CREATE TABLE t (id int PRIMARY KEY)")
    publisher = {"host": env.host, "port": free_port(), "user": env.user,
                 "password": "${PGDUAL_TEST_PASSWORD}", "sslmode": "disable"}
    config = write_config(env, tmp_path, cdc={"publisher": publisher})
    outcome = cdc_cli(env, "setup", config, cdc_db)
    assert outcome.code == 2, str(outcome)
    error = outcome.report["error"]
    assert "CREATE SUBSCRIPTION" in error and f"{env.user}@{env.host}:{publisher['port']}" in error
    assert env.password not in outcome.stdout + outcome.stderr
    assert objects(direct_conn, cdc_db)["new subscriptions"] == []
    assert objects(direct_conn, cdc_db)["old slots"] == []


def test_missing_privileges_are_named_with_their_fix(env, tmp_path, cdc_db, direct_conn):
    """A role that is neither a superuser nor the tables' owner, without REPLICATION or CREATE on
    the database: preflight (which it can still run) names each missing privilege."""
    on_both(direct_conn, cdc_db, "CREATE TABLE t (id int PRIMARY KEY)")
    role = "cdc_plain_" + cdc_db[-8:]
    for which in ("old", "new"):
        on_store(direct_conn, which, "postgres",
                 f"CREATE ROLE {role} LOGIN PASSWORD '{env.password}'")
        on_store(direct_conn, which, cdc_db, f"REVOKE CREATE ON DATABASE \"{cdc_db}\" FROM PUBLIC")
    try:
        def backend(which: str) -> dict:
            return {"host": env.host, "port": env.port(which), "user": role,
                    "password": "${PGDUAL_TEST_PASSWORD}", "sslmode": "disable"}
        path = write_config(env, tmp_path, name="plain")
        config = deep_merge(default_config(env, free_port(), free_port()),
                            migration("dual_write", strategy="cdc"))
        config["backends"] = {"old": backend("old"), "new": backend("new")}
        path.write_text(to_yaml(config))
        outcome = cdc_cli(env, "preflight", path, cdc_db)
        assert outcome.code == 1 and outcome.report["error"] == "", str(outcome)
        [old] = outcome.check("privileges (old store)")
        assert old["status"] == "fail"
        assert "may not CREATE in the database" in old["message"]
        assert "does not own public.t" in old["message"]
        [replication] = outcome.check("privileges (replication role)")
        assert replication["status"] == "fail"
        assert f"lacks REPLICATION: ALTER ROLE {role} REPLICATION" in replication["message"]
        [new] = outcome.check("privileges (new store)")
        assert new["status"] == "fail" and "CREATE SUBSCRIPTION" in new["message"]
        assert nothing_left(direct_conn, cdc_db)
    finally:
        for which in ("old", "new"):
            on_store(direct_conn, which, cdc_db, f"DROP OWNED BY {role}")
            on_store(direct_conn, which, "postgres", f"DROP ROLE IF EXISTS {role}")
