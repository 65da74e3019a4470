"""Strategy cdc under a fleet flip (issue 16, docs/cutover.md "The fleet flip"): two pgdual
instances in front of two real PostgreSQL 15 servers replicating old -> new. Their configs are
switched to cutover a second apart while clients write through both: the flip pauses the fleet,
turns the replication around at lag 0 (new -> old, no copy), moves the new store's sequences
past the old's, flips both instances and resumes; then the same back (the rollback). No client
error, no write lost or doubled, both stores identical, and the replication runs in the
direction of the phase each time, without `pgdual cdc cutover` run by hand."""

from __future__ import annotations

import threading
import time

import psycopg

from cdc_helpers import replication_name, wait_caught_up
from conftest import run, wait_for
from dual_write_helpers import metric, migration, needs_proxy, on_store, query, scalar, table_digest

pytestmark = needs_proxy

ORDER = {"items": "id", "counters": "id"}


class Writer(threading.Thread):
    """Inserts and increments through one instance until stopped; counts and keeps errors."""

    def __init__(self, proxy, dbname: str, counter: int):
        super().__init__(daemon=True)
        self.proxy, self.dbname, self.counter = proxy, dbname, counter
        self.stop = threading.Event()
        self.inserted = 0
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            with self.proxy.connect(self.dbname) as conn:
                while not self.stop.is_set():
                    conn.execute("INSERT INTO items (v) VALUES ('fleet')")
                    conn.execute("UPDATE counters SET n = n + 1 WHERE id = %s", (self.counter,))
                    self.inserted += 1
                    time.sleep(0.005)
        except psycopg.Error as error:
            self.errors.append(str(error))


def phase_of(proxy) -> str | None:
    for phase in ("shadow_read", "cutover"):
        if metric(proxy, "pgdual_phase_info", {"scope": "default", "name": "", "phase": phase}):
            return phase
    return None


def subscription_of(direct_conn, which: str, dbname: str) -> list[tuple]:
    return query(direct_conn, which, dbname, "SELECT subname FROM pg_subscription "
                 "WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())")


def switch(proxies, phase: str) -> None:
    for index, proxy in enumerate(proxies):
        if index:
            time.sleep(1.0)
        proxy.update_config(migration={"phase": phase})
        proxy.reload()


def test_a_fleet_flip_turns_cdc_around_and_back_under_writes(env, proxy_factory, fresh_db,
                                                             direct_conn):
    schema = f"pgdual_fleet_{fresh_db[-12:]}"
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db,
                 "CREATE TABLE items (id bigserial PRIMARY KEY, v text)",
                 "CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO items (v) SELECT 'before ' || g FROM generate_series(1, 100) g",
             "INSERT INTO counters SELECT g, 0 FROM generate_series(1, 4) g")
    overrides = migration("shadow_read", strategy="cdc", journal={"schema": schema},
                          cdc={"health_interval_ms": 200, "wait": "commit"},
                          cutover={"coordination": "fleet", "force": True,
                                   "pause_timeout_ms": 10000})
    proxies = [proxy_factory(overrides) for _ in range(2)]
    try:
        for proxy in proxies:
            with proxy.connect(fresh_db) as conn:
                conn.execute("SELECT 1")
        for proxy in proxies:
            wait_for(lambda: metric(proxy, "pgdual_cdc_ready", {"database": fresh_db}) == 1, 90,
                     what="forward replication set up and copied")
        writers = [Writer(proxy, fresh_db, counter)
                   for counter, proxy in enumerate(proxies * 2, start=1)]
        for writer in writers:
            writer.start()
        time.sleep(1)
        switch(proxies, "cutover")
        wait_for(lambda: all(phase_of(p) == "cutover" for p in proxies), 60,
                 what="both instances in cutover")
        time.sleep(2)
        # The replication runs new -> old now: the subscription is on the old store.
        assert subscription_of(direct_conn, "old", fresh_db) == \
            [(replication_name(fresh_db) + "_rev",)]
        assert subscription_of(direct_conn, "new", fresh_db) == []
        switch(proxies, "shadow_read")
        wait_for(lambda: all(phase_of(p) == "shadow_read" for p in proxies), 60,
                 what="both instances back in shadow_read")
        time.sleep(2)
        for writer in writers:
            writer.stop.set()
        for writer in writers:
            writer.join(30)
        errors = [e for writer in writers for e in writer.errors]
        assert not errors, errors
        assert subscription_of(direct_conn, "new", fresh_db) == [(replication_name(fresh_db),)]
        wait_caught_up(direct_conn, fresh_db, timeout=60)
        for table, order in ORDER.items():
            assert table_digest(direct_conn, "old", fresh_db, table, order) == \
                table_digest(direct_conn, "new", fresh_db, table, order), table
        inserted = sum(writer.inserted for writer in writers)
        assert inserted > 100
        for which in ("old", "new"):
            assert scalar(direct_conn, which, fresh_db, "SELECT count(*) FROM items") == \
                100 + inserted
            assert scalar(direct_conn, which, fresh_db, "SELECT sum(n) FROM counters") == inserted
        flips = query(direct_conn, "old", "postgres",
                      f"SELECT state FROM {schema}.fleet_flips WHERE reason <> 'baseline' "
                      "ORDER BY id")
        assert flips == [("done",), ("done",)], flips
    finally:
        for proxy in proxies:
            proxy.stop()
        teardown = run([env.pgdual_bin, "cdc", "teardown", "--config",
                        str(proxies[0].config_path), "--database", fresh_db, "--yes"],
                       timeout=120, check=False, env={"PGDUAL_TEST_PASSWORD": env.password})
    assert teardown.returncode == 0, teardown.stdout + teardown.stderr
