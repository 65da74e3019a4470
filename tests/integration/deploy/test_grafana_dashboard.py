"""The Grafana dashboard deploy/grafana/pgdual.json (docs/metrics.md, "Dashboard and alerts"): it
parses, every panel has a title and the `${datasource}` Prometheus data source, it covers the
dual-write spec's monitoring checklist, every PromQL expression parses (promtool), and every
metric it names, like every metric the alert rules in deploy/prometheus/alerts.yaml name, is one
that a running pgdual exports.

For the last check two pgdual instances run against the suite's PostgreSQL servers: one under
strategy sync taken through dual_write (a mirrored write, one that cannot be wrapped, one with a
non-deterministic value, a write the stores count differently), a real `pgdual backfill`,
shadow_read (a read that matches, one that differs) and a reload into cutover that the gate
refuses; and one under strategy cdc, which sets up logical replication. prometheus-cpp prints
no family without a series, and those series appear only with that traffic."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import run
from dual_write_helpers import change_config, migration, needs_proxy, on_both, on_store

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "pgdual.json"
RULES = REPO / "deploy" / "prometheus" / "alerts.yaml"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# How long the exported families may take to appear: the backfill watch and the reconciliation
# queue every 5 s, the cdc setup and its health reads, the status watch's looks.
EXPORT_PATIENCE = 120

# The spec's monitoring checklist (and this dashboard's other sections): metrics each must show.
CHECKLIST = {
    "write success rate per store": {"pgdual_writes_total"},
    "write latency per store": {"pgdual_write_duration_seconds_bucket"},
    "read comparison match rate": {"pgdual_shadow_reads_total", "pgdual_shadow_match_rate"},
    "backfill progress percentage": {"pgdual_backfill_progress_ratio", "pgdual_backfill_state"},
    "reconciliation queue depth": {"pgdual_reconciliation_queue_depth",
                                   "pgdual_reconciliation_unresolved"},
    "error rate by failure type": {"pgdual_secondary_failures_total",
                                   "pgdual_write_divergence_total"},
    "feature flag state per tenant/entity": {"pgdual_phase_info"},
    "journal": {"pgdual_journal_depth_records", "pgdual_journal_oldest_age_seconds",
                "pgdual_journal_dead_letters_total"},
    "replication lag": {"pgdual_cdc_lag_seconds", "pgdual_cdc_lag_bytes",
                        "pgdual_outbox_lag_seconds", "pgdual_secondary_lag_seconds"},
    "cutover readiness": {"pgdual_cutover_ready", "pgdual_cutover_criterion_ok",
                          "pgdual_fleet_instance_heartbeat_age_seconds"},
}

# --------------------------------------------------------------------------
# Reading PromQL

PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "offset", "bool", "inf", "nan", "atan2"}
GRAFANA_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict):
    """Every panel, rows included, and the panels a collapsed row holds."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels") or []


def substitute(expr: str) -> str:
    """Grafana's variables replaced so that Prometheus can parse the query: the interval ones by
    a duration, the dashboard's own by a regular expression that matches anything."""
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in ("__rate_interval", "__interval", "__range"):
            return "5m"
        if name.startswith("__"):
            return "300"
        return ".*"
    return GRAFANA_VARIABLE.sub(value, expr)


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL with the variables substituted) for every panel target and every query
    variable (label_values(selector, label): the selector)."""
    out = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets") or []:
            out.append((f"panel {panel.get('title')!r} {target.get('refId')}",
                        substitute(target["expr"])))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"\s*label_values\((.+),\s*\w+\s*\)\s*", query)
        assert match, f"variable {variable['name']}: not label_values(selector, label): {query}"
        out.append((f"variable {variable['name']}", substitute(match.group(1))))
    return out


def alert_queries() -> list[tuple[str, str]]:
    document = yaml.safe_load(RULES.read_text())
    return [(f"alert {rule['alert']}", rule["expr"])
            for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    aggregations, keywords, label names, durations or numbers."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"#[^\n]*", " ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)           # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)          # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ",
                  text, flags=re.IGNORECASE)       # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def exported_types(metrics_text: str) -> dict[str, str]:
    """{family: type} from the `# TYPE` lines of a /metrics answer."""
    return {match.group(1): match.group(2)
            for match in re.finditer(r"^# TYPE (\S+) (\S+)$", metrics_text, flags=re.MULTILINE)}


def is_exported(name: str, types: dict[str, str]) -> bool:
    if name in types:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return True
    return False


def named_metrics(queries: list[tuple[str, str]]) -> dict[str, list[str]]:
    """{metric: [where it is named]}"""
    out: dict[str, list[str]] = {}
    for where, expr in queries:
        for name in metric_names(expr):
            out.setdefault(name, []).append(where)
    return out


# --------------------------------------------------------------------------
# The file itself


def test_metric_names_are_read_from_promql():
    expr = ('histogram_quantile(0.99, sum by (backend, le) (rate(pgdual_write_duration_seconds_bucket'
            '{job=~"a|b", backend="old"}[5m] offset 1d))) / on (job) group_left () '
            'max without (instance) (pgdual_x:recorded) > 1e9 and bool topk(3, up)')
    assert metric_names(expr) == {"pgdual_write_duration_seconds_bucket", "pgdual_x:recorded",
                                  "up"}
    assert is_exported("pgdual_write_duration_seconds_bucket",
                       {"pgdual_write_duration_seconds": "histogram"})
    assert not is_exported("pgdual_writes_total_count", {"pgdual_writes_total": "counter"})


def test_dashboard_parses_and_every_panel_has_a_title_and_the_datasource():
    dashboard = load_dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 39
    assert dashboard.get("uid") and dashboard.get("title")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name, variable in variables.items():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, name
    ids, problems, placed = set(), [], []
    for panel in all_panels(dashboard):
        title = panel.get("title")
        where = f"panel {panel.get('id')} {title!r}"
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}: no title")
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{where}: datasource {panel.get('datasource')!r}")
        if panel.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(panel.get("id"))
        pos = panel.get("gridPos") or {}
        if not (pos.get("w", 0) > 0 and pos.get("h", 0) > 0 and pos.get("x", -1) >= 0
                and pos["x"] + pos["w"] <= 24 and pos.get("y", -1) >= 0):
            problems.append(f"{where}: gridPos {pos}")
            continue
        for other, opos in placed:
            if (pos["x"] < opos["x"] + opos["w"] and opos["x"] < pos["x"] + pos["w"]
                    and pos["y"] < opos["y"] + opos["h"] and opos["y"] < pos["y"] + pos["h"]):
                problems.append(f"{where}: overlaps {other}")
        placed.append((where, pos))
        if panel["type"] == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no query")
        refs = [target.get("refId") for target in targets]
        if len(set(refs)) != len(refs):
            problems.append(f"{where}: duplicate refId")
        for target in targets:
            if not str(target.get("expr", "")).strip():
                problems.append(f"{where}: a target without expr")
            if target.get("datasource", DATASOURCE) != DATASOURCE:
                problems.append(f"{where}: target datasource {target['datasource']!r}")
    assert not problems, "\n".join(problems)


def test_dashboard_covers_the_monitoring_checklist():
    named = set(named_metrics(dashboard_queries(load_dashboard())))
    missing = {item: sorted(metrics - named) for item, metrics in CHECKLIST.items()
               if metrics - named}
    assert not missing, missing
    # Latency per store: p50, p95 and p99 from the buckets, by backend.
    exprs = [expr for _, expr in dashboard_queries(load_dashboard())]
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(re.search(rf"histogram_quantile\(\s*{re.escape(quantile)}0*\s*,\s*sum by \([^)]*\bbackend\b"
                             r"[^)]*\)\s*\(rate\(pgdual_write_duration_seconds_bucket", expr)
                   for expr in exprs), quantile


def test_every_expression_parses(tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool is missing: scripts/test installs it (Debian package prometheus)")
    queries = dashboard_queries(load_dashboard())
    rules = [{"record": f"pgdual_dashboard:query_{i}", "expr": expr}
             for i, (_, expr) in enumerate(queries)]
    path = tmp_path / "dashboard_queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        listing = "\n".join(f"{i}: {where}: {expr}" for i, (where, expr) in enumerate(queries))
        pytest.fail(f"{result.stdout}{result.stderr}\n{listing}")


def test_every_query_names_only_pgdual_metrics():
    named = named_metrics(dashboard_queries(load_dashboard()) + alert_queries())
    foreign = {name: where for name, where in named.items() if not name.startswith("pgdual_")}
    assert not foreign, foreign


# --------------------------------------------------------------------------
# Against a running pgdual


def drive_sync_instance(env, proxy_factory, make_db, direct_conn):
    """A pgdual under strategy sync through dual_write, a backfill, shadow_read and a refused
    move into cutover; returns it."""
    dbname = make_db()
    schema = "dash_" + dbname[-8:]
    on_both(direct_conn, dbname, "CREATE TABLE items (id int PRIMARY KEY, v text)",
            "CREATE TABLE stamps (id int PRIMARY KEY, at timestamptz)")
    on_store(direct_conn, "old", dbname,
             "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 200) g")
    proxy = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="allow",
                                    journal={"schema": schema},
                                    shadow_read={"sample_rate": 1.0},
                                    cutover={"force": False}))
    with proxy.connect(dbname) as conn:
        conn.execute("INSERT INTO items VALUES (1001, 'live')")
        # One simple Query that commits inside: pgdual cannot wrap it (pgdual_drift_risk_total).
        conn.execute("BEGIN; UPDATE items SET v = 'live again' WHERE id = 1001; COMMIT")
        # Each store reads 'now' with its own clock (pgdual_nondeterministic_statements_total,
        # pgdual_reconciliation_needed_total, a mark in the reconciliation queue).
        conn.execute("INSERT INTO stamps VALUES (1, 'now')")

    # The historical rows (pgdual_backfill_*, read back from the progress table).
    result = run([env.pgdual_bin, "backfill", "--config", str(proxy.config_path), "--database",
                  dbname], timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    # The stores now differ on two rows: the same UPDATE counts 1 row on the old store and 2 on
    # the new one (pgdual_write_divergence_total).
    on_store(direct_conn, "new", dbname, "INSERT INTO items VALUES (5000, 'new store only')",
             "UPDATE items SET v = 'changed on the new store' WHERE id = 1")
    with proxy.connect(dbname) as conn:
        conn.execute("UPDATE items SET v = v WHERE id IN (1, 5000)")

    # Shadow reads: one that differs in a field, one that matches (pgdual_shadow_*).
    change_config(proxy, migration={"phase": "shadow_read"})
    with proxy.connect(dbname) as conn:
        for _ in range(3):
            conn.execute("SELECT id, v FROM items WHERE id = 1").fetchall()
            conn.execute("SELECT id, v FROM items WHERE id = 2").fetchall()

    # Into cutover: the gate refuses (too few comparisons; pgdual_cutover_gate_refusals_total).
    proxy.update_config(migration={"phase": "cutover"})
    proxy.reload()
    return proxy


def start_cdc_instance(proxy_factory, make_db, direct_conn):
    """A pgdual under strategy cdc, which sets up the logical replication of a database at its
    first session (pgdual_cdc_*); returns it."""
    dbname = make_db()
    on_both(direct_conn, dbname, "CREATE TABLE feed (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(migration("dual_write", strategy="cdc",
                                    journal={"schema": "dashcdc_" + dbname[-8:]},
                                    cdc={"health_interval_ms": 300}))
    with proxy.connect(dbname) as conn:
        conn.execute("INSERT INTO feed VALUES (1, 'through the old store')")
    return proxy


@needs_proxy
def test_every_metric_the_dashboard_and_the_alerts_name_is_exported(env, make_db, proxy_factory,
                                                                     direct_conn):
    named = named_metrics(dashboard_queries(load_dashboard()) + alert_queries())
    proxies = [drive_sync_instance(env, proxy_factory, make_db, direct_conn),
               start_cdc_instance(proxy_factory, make_db, direct_conn)]

    # Families appear as the instances' watches catch up: poll until none is missing.
    deadline = time.monotonic() + EXPORT_PATIENCE
    while True:
        types: dict[str, str] = {}
        for proxy in proxies:
            types.update(exported_types(proxy.metrics()))
        missing = {name: where for name, where in sorted(named.items())
                   if not is_exported(name, types)}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    if missing:
        details = "\n".join(f"  {name}: named by {', '.join(sorted(set(where)))}"
                            for name, where in missing.items())
        logs = "\n".join(proxy.log_tail(40) for proxy in proxies)
        pytest.fail(f"metrics no running pgdual exported within {EXPORT_PATIENCE}s:\n{details}\n"
                    f"exported: {' '.join(sorted(types))}\n{logs}")
