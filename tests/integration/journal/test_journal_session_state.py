"""A journaled transaction is replayed with the settings that shaped it
(docs/journal.md): the relay's own connection must read the same unqualified
table names, timestamps and strings as the client's session did. Startup
`options` (search_path, TimeZone, DateStyle) and later SETs are both
recorded; the secondary is down while the writes happen, so every one of
them goes through the journal."""

from __future__ import annotations

from datetime import timezone

from dual_write_helpers import (journal_migration, needs_proxy, on_both, pg_servers,  # noqa: F401
                                table_rows, wait_journal_drained)

pytestmark = needs_proxy


def test_replay_uses_the_sessions_settings(fresh_db, proxy_factory, direct_conn, pg_servers):
    on_both(direct_conn, fresh_db,
            "CREATE SCHEMA app",
            "CREATE TABLE app.events (id int PRIMARY KEY, at timestamptz NOT NULL, d date, note text)",
            # A decoy with the same name in public: a replay without the search_path lands here.
            "CREATE TABLE public.events (id int PRIMARY KEY, at timestamptz, d date, note text)")
    proxy = proxy_factory(journal_migration("dual_write"))
    options = "-c search_path=app -c TimeZone=America/New_York -c DateStyle=SQL,DMY"
    with proxy.connect(fresh_db, options=options) as conn:
        conn.execute("INSERT INTO events VALUES (0, '2024-01-01 00:00', '01/02/2024', 'mirrored')")
        pg_servers.stop("new")
        # Text literals the server reads through TimeZone and DateStyle: 02/03 is 2 March (DMY).
        conn.execute("INSERT INTO events VALUES (1, '2024-06-01 12:00', '02/03/2024', 'startup options')")
        conn.execute("SET TimeZone = 'Asia/Tokyo'")
        conn.execute("INSERT INTO events VALUES (2, '2024-06-01 12:00', '03/04/2024', 'after SET')")
        conn.execute("SET standard_conforming_strings = off")
        conn.execute(r"INSERT INTO events VALUES (3, '2024-06-01 12:00', NULL, 'back\\slash')")
    pg_servers.start("new")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)

    rows = table_rows(direct_conn, fresh_db, "app.events")
    assert rows["old"] == rows["new"], rows
    assert len(rows["new"]) == 4
    # The same instants, not the relay's default time zone's.
    instants = {r[0]: r[1].astimezone(timezone.utc).isoformat() for r in rows["new"]}
    assert instants[1] == "2024-06-01T16:00:00+00:00", instants
    assert instants[2] == "2024-06-01T03:00:00+00:00", instants
    assert str(rows["new"][2][2]) == "2024-04-03"
    assert rows["new"][3][3] == "back\\slash"
    assert table_rows(direct_conn, fresh_db, "public.events")["new"] == [], "replayed into the wrong schema"


def test_journal_bad_input_is_refused_and_loses_nothing(env, fresh_db, proxy_factory, direct_conn,
                                                        tmp_path):
    """The journal's config and commands refuse bad input with a clear message: a reload with a
    bad journal key keeps the running config (writes still reach both stores), and the CLI
    names what is wrong and exits 2."""
    from dual_write_helpers import pgdual_cli, reload_outcome

    on_both(direct_conn, fresh_db, "CREATE TABLE b (id int PRIMARY KEY)")
    proxy = proxy_factory(journal_migration("dual_write"))
    reload_outcome(proxy, False, migration={"journal": {"max_attempts": 0,
                                                       "permanent_sqlstates": ["nope"]}})
    log = proxy.log_text()
    assert "migration.journal.max_attempts" in log, proxy.log_tail()
    assert "migration.journal.permanent_sqlstates[0]" in log and "SQLSTATE" in log, proxy.log_tail()
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO b VALUES (1)")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=30)
    rows = table_rows(direct_conn, fresh_db, "b")
    assert rows["old"] == rows["new"] == [(1,)]

    missing = pgdual_cli(env, "journal", "status", check=False)
    assert missing.returncode == 2 and "needs --config" in missing.stderr, missing
    unknown = pgdual_cli(env, "journal", "purge", "--config", "x.yaml", "--everything", check=False)
    assert unknown.returncode == 2 and "unknown argument --everything" in unknown.stderr, unknown
    bad = tmp_path / "bad.yaml"
    bad.write_text("migration:\n  journal:\n    store: disk\n")
    refused = pgdual_cli(env, "journal", "status", "--config", str(bad), check=False)
    assert refused.returncode != 0 and "migration.journal.store" in refused.stderr, refused
