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

import psycopg


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
    conninfo = dict(host="127.0.0.1", port=args.port, user=args.user, dbname=args.dbname,
                    password=args.password or None, sslmode="disable", connect_timeout=10)
    deadline = time.monotonic() + 120
    connections = []
    try:
        warm = psycopg.connect(**conninfo, autocommit=True)
        connections.append(warm)
        warm.execute("SELECT 1").fetchall()
        time.sleep(0.5)
        before = rss_kib(args.pid)
        for _ in range(args.connections):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(connections) - 1} connections within 120 s")
            conn = psycopg.connect(**conninfo, autocommit=True)
            connections.append(conn)
            conn.execute("SELECT 1").fetchall()
        time.sleep(1.0)
        after = rss_kib(args.pid)
        print(json.dumps({"connections": args.connections, "rss_before_kib": before,
                          "rss_after_kib": after,
                          "kib_per_connection": round((after - before) / args.connections, 1)}))
    finally:
        for conn in connections:
            conn.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # one line for the report, not a traceback
        print(json.dumps({"error": str(error)}))
        sys.exit(1)
