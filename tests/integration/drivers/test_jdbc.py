"""pgjdbc through pgdual: server-side prepared statements after the
prepareThreshold, batches, transactions with a savepoint, fetch size
(portals executed in chunks), errors, DatabaseMetaData."""

from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "clients" / "JdbcCheck.java"
JDBC_JAR = "/usr/share/java/postgresql.jar"


def test_jdbc(env, proxy, fresh_db, run, direct_conn):
    url = (f"jdbc:postgresql://{proxy.host}:{proxy.port}/{fresh_db}"
           "?sslmode=disable&prepareThreshold=5&connectTimeout=10&socketTimeout=60")
    result = run(["java", "-cp", JDBC_JAR, SOURCE, url, env.user, env.password],
                 timeout=180, check=False)
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    for line in ["OK connect", "OK prepared server_side=", "OK batch rows=100",
                 "OK batch_error sqlstate=23505", "OK transactions", "OK fetch_size rows=1000",
                 "OK error_then_continue", "OK metadata product=PostgreSQL columns=3", "ALL OK"]:
        assert line in out, f"{line!r} missing:\n{out}"

    with direct_conn("old", fresh_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM jt WHERE id >= 500 ORDER BY id")]
    assert ids == [500, 502, 504]
