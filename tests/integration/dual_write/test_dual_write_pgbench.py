"""pgbench TPC-B through pgdual in dual_write with strategy sync: after runs
in each query mode, pgbench_accounts, _tellers and _branches are identical
on both stores, and pgbench_history has the same rows by count and sum of
delta (test_deterministic_writes.py compares every column of it, mtime
included)."""

from __future__ import annotations

from dual_write_helpers import (finish_process, migration, needs_proxy, pgbench_cmd,
                                pgbench_summary, query, start_process, table_digest, tool)

pytestmark = needs_proxy

SECONDS_PER_MODE = 10
ORDER = {"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid"}


def direct_target(env, which: str):
    class Target:
        host = env.host
        port = env.port(which)
    return Target


def digests(direct_conn, dbname: str) -> dict:
    out = {}
    for which in ("old", "new"):
        store = {t: table_digest(direct_conn, which, dbname, t, order) for t, order in ORDER.items()}
        store["pgbench_history"] = tuple(query(
            direct_conn, which, dbname,
            "SELECT count(*), coalesce(sum(delta), 0), coalesce(sum(aid::bigint * delta), 0) "
            "FROM pgbench_history")[0])
        out[which] = store
    return out


def test_tpcb_sync_stores_identical(env, proxy_factory, fresh_db, direct_conn, run):
    # The same initial data on both stores: pgbench -i is deterministic
    # (every balance 0, blank fillers), checked below before the runs.
    for which in ("old", "new"):
        run(pgbench_cmd(direct_target(env, which), env, fresh_db, "-i", "-s", "1", "-q"),
            timeout=120, env={"PGPASSWORD": env.password})
    before = digests(direct_conn, fresh_db)
    assert before["old"] == before["new"], before

    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    report = []
    for mode in ("simple", "extended", "prepared"):
        process = start_process(
            pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "8", "-j", "2",
                        "-T", str(SECONDS_PER_MODE), "-M", mode),
            {"PGPASSWORD": env.password})
        code, out, err = finish_process(process, timeout=SECONDS_PER_MODE + 60)
        assert code == 0, f"pgbench -M {mode} failed:\n{out}\n{err}\n{proxy.log_tail()}"
        processed, failed = pgbench_summary(out)
        assert processed > 0 and failed == 0, out
        report.append(f"{mode}: {processed} transactions")

        after = digests(direct_conn, fresh_db)
        mismatched = [t for t in after["old"] if after["old"][t] != after["new"][t]]
        assert not mismatched, (
            f"after -M {mode} the stores differ in {mismatched}:\n"
            + "\n".join(f"  {t}: old={after['old'][t]} new={after['new'][t]}" for t in mismatched)
            + "\n" + proxy.log_tail())
        history_old = after["old"]["pgbench_history"][0]
        history_before = before["old"]["pgbench_history"][0]
        # Every committed TPC-B transaction adds one history row; -T may cut
        # a client off after its END, hence the slack of -c.
        assert processed <= history_old - history_before <= processed + 8, (mode, out)
        before = after
    print("; ".join(report))


def test_tpcb_accounts_checksum_direct_sanity(env, fresh_db, direct_conn, run):
    """The digest really tells different tables apart (guards the test above
    against comparing nothing)."""
    for which in ("old", "new"):
        run([tool("pgbench"), "-h", env.host, "-p", env.port(which), "-U", env.user,
             "-i", "-s", "1", "-q", "-I", "dtg", fresh_db], timeout=120,
            env={"PGPASSWORD": env.password})
    with direct_conn("new", fresh_db) as conn:
        conn.execute("UPDATE pgbench_accounts SET abalance = 1 WHERE aid = 77777")
    old = table_digest(direct_conn, "old", fresh_db, "pgbench_accounts", "aid")
    new = table_digest(direct_conn, "new", fresh_db, "pgbench_accounts", "aid")
    assert old[0] == new[0] == 100000
    assert old != new

