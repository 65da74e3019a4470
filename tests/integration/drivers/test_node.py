"""node-postgres through pgdual: simple and parameterised queries, a named
prepared statement used repeatedly, transactions, errors, notices,
LISTEN/NOTIFY."""

from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def test_node_postgres(env, proxy, fresh_db, run, direct_conn):
    if not (NODE_DIR / "node_modules" / "pg").is_dir():
        # scripts/test installs it; this covers running pytest by hand.
        run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock",
             "--loglevel=error"], timeout=600, cwd=NODE_DIR)
    result = run(["node", NODE_DIR / "check.js"], timeout=90, check=False, cwd=NODE_DIR,
                 env={"PGDUAL_CHECK_HOST": proxy.host, "PGDUAL_CHECK_PORT": proxy.port,
                      "PGDUAL_CHECK_DB": fresh_db, "PGDUAL_CHECK_USER": env.user,
                      "PGDUAL_CHECK_PASSWORD": env.password})
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    for line in ["OK connect", "OK simple", "OK parameterised", "OK named_prepared",
                 "OK transactions", "OK error_then_continue", "OK notice", "OK listen_notify",
                 "ALL OK"]:
        assert line in out, f"{line!r} missing:\n{out}"

    with direct_conn("old", fresh_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM nt ORDER BY id")]
    assert ids == [1, 2, 3, 4, 5, 10, 12]
