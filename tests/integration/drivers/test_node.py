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


END_RIGHT_AFTER_CONNECT = """
const { Client } = require('pg');
const client = new Client({
  host: process.env.H, port: Number(process.env.P), database: process.env.D,
  user: process.env.U, password: process.env.W,
});
const seen = [];
client.on('error', (e) => seen.push('error event: ' + e.message));
client.connect().then(() => seen.push('connected'), (e) => seen.push('connect: ' + e.message));
client.end().then(() => seen.push('ended'), (e) => seen.push('end: ' + e.message));
// Whatever the promises do, report after a while (a promise that never settles keeps nothing
// alive in node: the process would just exit).
setTimeout(() => { console.log(JSON.stringify(seen)); process.exit(0); }, 1500);
"""


def test_node_end_right_after_connect_closes_as_postgresql_does(env, proxy, fresh_db, run):
    """client.end() right after client.connect(): node-postgres writes its Terminate before
    the StartupMessage. PostgreSQL reads that as a startup packet of invalid length, logs it
    and closes without a message; pgdual must too (it used to answer with an ErrorResponse,
    which node-postgres raised as an error event)."""
    outputs = {}
    for name, host, port in (("postgres", env.host, env.old_port),
                             ("pgdual", proxy.host, proxy.port)):
        result = run(["node", "-e", END_RIGHT_AFTER_CONNECT], timeout=60, check=False,
                     cwd=NODE_DIR, env={"H": host, "P": port, "D": fresh_db, "U": env.user,
                                        "W": env.password})
        assert result.returncode == 0, f"{name}: {result.stdout}\n{result.stderr}"
        outputs[name] = result.stdout.strip()
        assert outputs[name].startswith("["), outputs  # the script reported
    assert "invalid startup packet" not in outputs["pgdual"], outputs
    assert outputs["pgdual"] == outputs["postgres"], outputs
