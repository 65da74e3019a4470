"""Strategy cdc across cutover and its rollback (issue 15, docs/cdc.md "Cutover and rollback").
With the application's writes paused, `pgdual cdc cutover` stops the old -> new replication at
lag 0, starts new -> old without a copy and moves the new store's sequences past the old's;
`pgdual cdc rollback` does the reverse. Before the reverse replication exists, a session in
phase cutover refuses writes (they would not reach the old store). Nothing written before,
between or after is lost, on either store."""

from __future__ import annotations

import psycopg
import pytest

from cdc_helpers import wait_caught_up
from conftest import wait_for
from dual_write_helpers import (change_config, metric, migration, needs_proxy, on_store, scalar,
                                table_digest)

pytestmark = needs_proxy

ORDER = {"items": "id", "counters": "id"}


def identical(direct_conn, dbname: str, reverse: bool) -> None:
    wait_caught_up(direct_conn, dbname, timeout=60, reverse=reverse)
    for table, order in ORDER.items():
        old = table_digest(direct_conn, "old", dbname, table, order)
        new = table_digest(direct_conn, "new", dbname, table, order)
        assert old == new, f"{table} differs: {old} vs {new}"


def cdc_cli(env, run, proxy, action: str, dbname: str, *args: str):
    return run([env.pgdual_bin, "cdc", action, "--config", str(proxy.config_path), "--database",
                dbname, *args], timeout=120, check=False,
               env={"PGDUAL_TEST_PASSWORD": env.password})


def test_cutover_and_rollback_under_cdc_lose_nothing(env, proxy_factory, fresh_db, direct_conn,
                                                     run):
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db,
                 "CREATE TABLE items (id bigserial PRIMARY KEY, v text)",
                 "CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO items (v) SELECT 'before ' || g FROM generate_series(1, 100) g",
             "INSERT INTO counters SELECT g, 0 FROM generate_series(1, 5) g")
    proxy = proxy_factory(migration("shadow_read", strategy="cdc",
                                    cdc={"health_interval_ms": 200, "wait": "commit"}))
    try:
        with proxy.connect(fresh_db) as conn:
            conn.execute("SELECT 1")
            wait_for(lambda: metric(proxy, "pgdual_cdc_ready", {"database": fresh_db}) == 1, 90,
                     what="forward replication to be set up and copied")
            for _ in range(20):
                conn.execute("INSERT INTO items (v) VALUES ('old primary')")
                conn.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
        identical(direct_conn, fresh_db, reverse=False)

        # Phase cutover before the reverse replication exists: writes are refused.
        change_config(proxy, migration={"phase": "cutover"})
        with proxy.connect(fresh_db) as conn:
            with pytest.raises(psycopg.Error, match="reverse replication"):
                conn.execute("UPDATE counters SET n = n + 100 WHERE id = 2")
            # Reads still work, from the new store.
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 120
        assert metric(proxy, "pgdual_cdc_refused_writes_total", {"database": fresh_db}) >= 1

        # Writes are paused (this test writes nothing now): turn the replication around.
        cut = cdc_cli(env, run, proxy, "cutover", fresh_db)
        assert cut.returncode != 0 and "--yes" in cut.stderr
        cut = cdc_cli(env, run, proxy, "cutover", fresh_db, "--yes")
        assert cut.returncode == 0, cut.stdout + cut.stderr
        assert "dropped subscription" in cut.stdout and "created subscription" in cut.stdout
        again = cdc_cli(env, run, proxy, "cutover", fresh_db, "--yes")
        assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout
        wait_for(lambda: metric(proxy, "pgdual_cdc_ready", {"database": fresh_db}) == 1, 30,
                 what="the reverse replication to be seen")
        # The new store's sequence was moved past the old store's values: no key collides.
        with proxy.connect(fresh_db) as conn:
            for _ in range(20):
                conn.execute("INSERT INTO items (v) VALUES ('new primary')")
                conn.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
            # cdc.wait: commit, reversed: on the old store once COMMIT returned.
            assert scalar(direct_conn, "old", fresh_db,
                          "SELECT count(*) FROM items WHERE v = 'new primary'") == 20
        identical(direct_conn, fresh_db, reverse=True)
        assert scalar(direct_conn, "old", fresh_db, "SELECT n FROM counters WHERE id = 1") == 40

        # Rollback of the cutover: writes paused again, replication turned back.
        back = cdc_cli(env, run, proxy, "rollback", fresh_db, "--yes")
        assert back.returncode == 0, back.stdout + back.stderr
        change_config(proxy, migration={"phase": "shadow_read"})
        wait_for(lambda: metric(proxy, "pgdual_cdc_ready", {"database": fresh_db}) == 1, 30,
                 what="the forward replication to be seen again")
        with proxy.connect(fresh_db) as conn:
            for _ in range(20):
                conn.execute("INSERT INTO items (v) VALUES ('old primary again')")
                conn.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
            assert scalar(direct_conn, "new", fresh_db,
                          "SELECT count(*) FROM items WHERE v = 'old primary again'") == 20
        identical(direct_conn, fresh_db, reverse=False)
        assert scalar(direct_conn, "new", fresh_db, "SELECT count(*) FROM items") == 160
        assert scalar(direct_conn, "new", fresh_db, "SELECT n FROM counters WHERE id = 1") == 60
    finally:
        proxy.stop()
        teardown = cdc_cli(env, run, proxy, "teardown", fresh_db, "--yes")
    assert teardown.returncode == 0, teardown.stdout + teardown.stderr
    for which in ("old", "new"):
        assert scalar(direct_conn, which, "postgres",
                      "SELECT count(*) FROM pg_replication_slots WHERE database = %s",
                      (fresh_db,)) == 0


def test_switching_between_sync_and_cdc_loses_and_duplicates_nothing(env, proxy_factory,
                                                                     fresh_db, direct_conn, run):
    """docs/cdc.md, "Switching strategies": sync -> cdc on tables both stores hold (writes
    paused, setup with copy_data: none, then writes), and cdc -> sync (writes paused, lag 0,
    teardown, then sync). Every row exactly once on both stores, no apply error."""
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db,
                 "CREATE TABLE items (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0)")
    sync_proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with sync_proxy.connect(fresh_db) as conn:
        for i in range(1, 51):
            conn.execute("INSERT INTO items (id, v) VALUES (%s, 'sync')", (i,))
        conn.execute("UPDATE items SET n = n + 1 WHERE id <= 10")
    sync_proxy.stop()
    assert table_digest(direct_conn, "old", fresh_db, "items", "id") == \
        table_digest(direct_conn, "new", fresh_db, "items", "id")

    cdc_proxy = proxy_factory(migration("dual_write", strategy="cdc",
                                        cdc={"copy_data": "none", "manage": False,
                                             "health_interval_ms": 200}))
    try:
        setup = cdc_cli(env, run, cdc_proxy, "setup", fresh_db)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        with cdc_proxy.connect(fresh_db) as conn:
            for i in range(51, 101):
                conn.execute("INSERT INTO items (id, v) VALUES (%s, 'cdc')", (i,))
            conn.execute("UPDATE items SET n = n + 1 WHERE id <= 10 OR id > 90")
        wait_caught_up(direct_conn, fresh_db, timeout=60)
        assert table_digest(direct_conn, "old", fresh_db, "items", "id") == \
            table_digest(direct_conn, "new", fresh_db, "items", "id")
        assert metric(cdc_proxy, "pgdual_cdc_apply_errors", {"database": fresh_db}) == 0
        # Back to sync: writes paused, the new store caught up, the replication dropped.
        wait_caught_up(direct_conn, fresh_db, timeout=60)
    finally:
        cdc_proxy.stop()
        teardown = cdc_cli(env, run, cdc_proxy, "teardown", fresh_db, "--yes")
    assert teardown.returncode == 0, teardown.stdout + teardown.stderr
    sync_again = proxy_factory(migration("dual_write", strategy="sync"))
    with sync_again.connect(fresh_db) as conn:
        for i in range(101, 151):
            conn.execute("INSERT INTO items (id, v) VALUES (%s, 'sync again')", (i,))
        conn.execute("UPDATE items SET n = n + 1")
    assert table_digest(direct_conn, "old", fresh_db, "items", "id") == \
        table_digest(direct_conn, "new", fresh_db, "items", "id")
    counts = scalar(direct_conn, "new", fresh_db,
                    "SELECT array[count(*), sum(n)] FROM items")
    assert counts == [150, 20 + 10 + 150]
