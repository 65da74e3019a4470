#!/usr/bin/python3
"""Memory per idle client connection of a proxy process.

    idle_rss.py --pid PID --port PORT --user USER --dbname DB --connections N [--password PW]

Opens one warm-up connection, reads the proxy's resident set (VmRSS), then opens N more
connections through the proxy on 127.0.0.1, runs one query on each (so that a pooler in
session mode binds a server connection to it, as pgdual does), leaves them idle for a second
and reads VmRSS again. Prints one line of JSON: the two readings and the growth per connection
in KiB. Every connection is closed before it exits; at most 120 s in all.
"""
import argparse
import json
import sys
import time

# libpq's own blocking calls: psycopg's connection objects wait with select(), which cannot
# watch a descriptor above 1023, and this opens thousands.
from psycopg import pq


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--dbname", required=True)
    parser.add_argument("--password", default="")
    parser.add_argument("--connections", type=int, required=True)
    args = parser.parse_args()
    conninfo = " ".join(f"{key}='{value}'" for key, value in (
        ("host", "127.0.0.1"), ("port", args.port), ("user", args.user),
        ("dbname", args.dbname), ("password", args.password), ("sslmode", "disable"),
        ("connect_timeout", 10)) if value != "").encode()
    deadline = time.monotonic() + 120
    connections = []

    def open_one():
        conn = pq.PGconn.connect(conninfo)
        connections.append(conn)
        if conn.status != pq.ConnStatus.OK:
            raise RuntimeError(conn.error_message.decode(errors="replace").strip())
        result = conn.exec_(b"SELECT 1")
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise RuntimeError(conn.error_message.decode(errors="replace").strip())

    try:
        open_one()  # warm-up: the proxy's first session allocates what every later one shares
        time.sleep(0.5)
        before = rss_kib(args.pid)
        for _ in range(args.connections):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(connections) - 1} connections within 120 s")
            open_one()
        time.sleep(1.0)
        after = rss_kib(args.pid)
        print(json.dumps({"connections": args.connections, "rss_before_kib": before,
                          "rss_after_kib": after,
                          "kib_per_connection": round((after - before) / args.connections, 1)}))
    finally:
        for conn in connections:
            conn.finish()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # one line for the report, not a traceback
        print(json.dumps({"error": str(error)}))
        sys.exit(1)
