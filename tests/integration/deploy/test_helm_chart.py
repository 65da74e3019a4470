"""The Helm chart deploy/helm/pgdual, checked with what a Debian machine has (no helm binary, no
database, no Kubernetes):

- values.schema.json (JSON Schema draft 7, as Helm reads it) accepts values.yaml and every
  example, accepts deploy/pgdual.example.yaml as `config`, and rejects known mistakes;
- yamllint (the repository's .yamllint) passes on deploy/, Helm templates excepted;
- the chart, rendered by helm_render.py with values.yaml + examples/orders-api.yaml, gives the
  very objects of deploy/kubernetes/*.yaml (see test_chart_renders_the_plain_manifests);
- the checksum annotation moves with every restart-only key of config/restart_keys.cpp and with
  no live key;
- the chart refuses values it cannot deploy, and the renderer refuses what it does not know.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # whatever pytest's import mode
import helm_render  # noqa: E402
from helm_render import ChartFailure, TemplateError, Unsupported, merge_values  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "pgdual"
EXAMPLES = CHART / "examples"
BASE_EXAMPLE = EXAMPLES / "orders-api.yaml"
PLAIN_MANIFESTS = ROOT / "deploy" / "kubernetes"
RELEASE = "orders-api"
CHECKSUM = "checksum/pgdual-restart-keys"
# Helm's bookkeeping labels: on the chart's objects only, so the comparison ignores them.
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance")
# What examples/orders-api.yaml may set to reproduce deploy/kubernetes/: what no chart can
# default (the application, existing objects' names, the database hosts and name). Everything
# else must come from values.yaml, so that the comparison checks the chart's defaults.
EXAMPLE_MAY_SET = {
    "app.name", "app.containers", "configMap.name", "secret.name",
    "config.backends.old.host", "config.backends.new.host", "config.migration.journal.databases",
    "backfill.enabled", "backfill.name", "backfill.database",
    "reconcile.enabled", "reconcile.name", "reconcile.database",
}


def load(path: Path):
    return yaml.safe_load(path.read_text())


def defaults() -> dict:
    return load(CHART / "values.yaml")


def example_values(*overlays: dict) -> dict:
    """values.yaml + examples/orders-api.yaml + overlays, merged as `helm -f ... -f ...`."""
    return merge_values(defaults(), load(BASE_EXAMPLE), *overlays)


def render(values: dict) -> dict[tuple[str, str], dict]:
    objects = helm_render.render_objects(CHART, values, release=RELEASE, namespace="default")
    by_key = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert len(by_key) == len(objects), "two objects of the same kind and name"
    return by_key


def app_pod(values: dict) -> dict:
    return render(values)[("Deployment", RELEASE)]["spec"]["template"]


def checksum(values: dict) -> str:
    return app_pod(values)["metadata"]["annotations"][CHECKSUM]


def pgdual_config(values: dict) -> dict:
    name = values["configMap"]["name"]
    return yaml.safe_load(render(values)[("ConfigMap", name)]["data"]["pgdual.yaml"])


def nest(path: str, value) -> dict:
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


def leaf_paths(value, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value:
        return set().union(*(leaf_paths(v, f"{prefix}{k}.") for k, v in value.items()))
    return {prefix[:-1]}


def validator() -> Draft7Validator:
    schema = json.loads((CHART / "values.schema.json").read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def schema_errors(values: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator().iter_errors(values)]


# --------------------------------------------------------------------------
# values.schema.json


def example_layers(example: Path) -> list[dict]:
    """orders-api.yaml stands alone; the other examples go on top of it (their headers say so)."""
    return [load(BASE_EXAMPLE)] + ([] if example == BASE_EXAMPLE else [load(example)])


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_schema_accepts_the_defaults():
    assert schema_errors(defaults()) == []


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_validates_and_renders(example):
    values = merge_values(defaults(), *example_layers(example))
    assert schema_errors(values) == []
    objects = render(values)
    assert ("Deployment", RELEASE) in objects
    for (kind, name), obj in objects.items():
        assert obj["apiVersion"] and kind and name, obj


def test_examples_exist():
    assert {p.name for p in EXAMPLE_FILES} >= {"orders-api.yaml", "prometheus-operator.yaml",
                                               "before-1.29.yaml"}


def test_schema_config_part_accepts_every_documented_key():
    """deploy/pgdual.example.yaml has every key of pgdual.yaml: the schema must know them all
    (admin_listen aside, which the chart writes itself)."""
    config = load(ROOT / "deploy" / "pgdual.example.yaml")
    config.pop("admin_listen")
    values = merge_values(defaults(), load(BASE_EXAMPLE))
    values["config"] = config
    assert schema_errors(values) == []


BAD_VALUES = [
    # (what is wrong, overlay on the orders-api example, where the schema must object)
    ("unknown top-level key", {"replicas": 3}, "(top)"),
    ("a required section set to null", {"config": None}, "(top)"),
    ("phase misspelt", {"config": {"migration": {"phase": "dual-write"}}},
     "config.migration.phase"),
    ("admin_listen written by hand", {"config": {"admin_listen": "0.0.0.0:9187"}},
     "config.admin_listen"),
    ("backend key misspelt", {"config": {"backends": {"old": {"pasword": "x"}}}},
     "config.backends.old"),
    ("sslmode misspelt", {"config": {"backends": {"new": {"sslmode": "verify_full"}}}},
     "config.backends.new.sslmode"),
    ("admin port out of range", {"pgdual": {"adminPort": 70000}}, "pgdual.adminPort"),
    ("admin port as a string", {"pgdual": {"adminPort": "9187"}}, "pgdual.adminPort"),
    ("probe given an httpGet", {"pgdual": {"probes": {"liveness": {"httpGet": {"port": 9187}}}}},
     "pgdual.probes.liveness"),
    ("backfill enabled without a database", {"backfill": {"database": ""}}, "backfill.database"),
    ("reconcile repair mode unknown", {"reconcile": {"repair": "yes"}}, "reconcile.repair"),
    ("object name with capitals", {"app": {"name": "Orders"}}, "app.name"),
    ("scrape interval in words", {"metrics": {"podMonitor": {"interval": "15 seconds"}}},
     "metrics.podMonitor.interval"),
    ("secret env without its key", {"secret": {"env": [{"name": "APP_DB_PASSWORD"}]}},
     "secret.env.0"),
    ("mapping: a column with cast and expr",
     nest("config.migration.mapping.tables", {"public.orders": {"columns": {
         "total": {"cast": "bigint", "expr": "total * 100", "inverse": "total / 100"}}}}),
     "config.migration.mapping.tables.public.orders.columns.total"),
    ("mapping: an expression without an inverse",
     nest("config.migration.mapping.tables", {"orders": {"columns": {"total": {"expr": "total"}}}}),
     "config.migration.mapping.tables.orders.columns.total"),
    ("mapping: a dropped column renamed",
     nest("config.migration.mapping.tables", {"orders": {"columns": {
         "flag": {"drop": True, "to": "flag2"}}}}),
     "config.migration.mapping.tables.orders.columns.flag"),
    ("mapping: lossless on a cast",
     nest("config.migration.mapping.tables", {"orders": {"columns": {
         "id": {"cast": "bigint", "lossless": True}}}}),
     "config.migration.mapping.tables.orders.columns.id"),
    ("mapping: a new column with default and expr",
     nest("config.migration.mapping.tables", {"orders": {"new_columns": {
         "created_at": {"default": "server", "expr": "now()"}}}}),
     "config.migration.mapping.tables.orders.new_columns.created_at"),
    ("mapping: a new column default other than server",
     nest("config.migration.mapping.tables", {"orders": {"new_columns": {
         "created_at": {"default": "now()"}}}}),
     "config.migration.mapping.tables.orders.new_columns.created_at.default"),
    ("mapping: not a table name", nest("config.migration.mapping.tables", {"a.b.c": {}}),
     "config.migration.mapping.tables"),
    ("mapping: rollback misspelt", nest("config.migration.mapping.rollback", "never"),
     "config.migration.mapping.rollback"),
    ("mapping under strategy cdc",
     {"config": {"migration": {"strategy": "cdc",
                               "mapping": {"tables": {"orders": {"to": "sales.orders"}}}}}},
     "config.migration"),
]


def test_schema_accepts_a_mapping():
    """The worked example of docs/schema-mapping.md."""
    mapping = {"schema": "pgdual_map", "rollback": "refuse_if_lossy", "tables": {
        "public.accounts": {
            "to": "bank.account",
            "columns": {
                "id": {"cast": "bigint"},
                "owner": {"to": "owner_name"},
                "balance": {"to": "balance_cents", "expr": "round(balance * 100)::bigint",
                            "inverse": "balance_cents / 100.0", "lossless": True},
                "note": {"if_null": "''", "inverse": "nullif(note, '')"},
                "legacy_flag": {"drop": True},
            },
            "new_columns": {"created_at": {"default": "server"},
                            "balance_eur": {"expr": "round(balance * 0.92, 2)"}},
        },
        '"Sales"."Q1"': {"to": "sales.q1", "columns": {"total": {}}},
    }}
    assert schema_errors(example_values(nest("config.migration.mapping", mapping))) == []


@pytest.mark.parametrize("overlay,where", [bad[1:] for bad in BAD_VALUES],
                         ids=[bad[0] for bad in BAD_VALUES])
def test_schema_rejects_bad_values(overlay, where):
    errors = schema_errors(example_values(overlay))
    assert any(error.startswith(where + ":") for error in errors), errors


# --------------------------------------------------------------------------
# yamllint


def yamllint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yamllint", "-c", str(ROOT / ".yamllint"), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_yamllint_passes_on_deploy_except_templates():
    listed = set(yamllint("--list-files", "deploy").stdout.split())
    must = {"deploy/helm/pgdual/Chart.yaml", "deploy/helm/pgdual/values.yaml",
            *(str(p.relative_to(ROOT)) for p in EXAMPLE_FILES),
            *(str(p.relative_to(ROOT)) for p in PLAIN_MANIFESTS.glob("*.yaml"))}
    assert must <= listed, must - listed
    assert not [f for f in listed if "/templates/" in f]
    result = yamllint("-f", "parsable", "deploy")
    assert result.returncode == 0 and not result.stdout, result.stdout + result.stderr


def test_yamllint_config_reports_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: 1\nkey: 2\nlist:\n    - a\n  - b\n")
    result = yamllint("-f", "parsable", str(bad), cwd=tmp_path)
    assert result.returncode != 0 and "key-duplicates" in result.stdout, result.stdout


# --------------------------------------------------------------------------
# The chart against deploy/kubernetes/


def comparable(obj: dict) -> dict:
    """Helm's bookkeeping labels dropped, and pgdual.yaml parsed, so that its comments and
    key order do not count."""
    obj = copy.deepcopy(obj)
    labels = obj["metadata"].get("labels")
    if labels is not None:
        for label in HELM_LABELS:
            labels.pop(label, None)
        if not labels:
            del obj["metadata"]["labels"]
    if obj["kind"] == "ConfigMap":
        obj["data"] = {key: yaml.safe_load(text) for key, text in obj["data"].items()}
    return obj


def differences(plain, chart, path: str) -> list[str]:
    if isinstance(plain, dict) and isinstance(chart, dict):
        found = []
        for key in sorted(set(plain) | set(chart), key=str):
            where = f"{path}.{key}" if "." not in str(key) else f'{path}["{key}"]'
            if key not in chart:
                found.append(f"{where}: only in deploy/kubernetes: {plain[key]!r}")
            elif key not in plain:
                found.append(f"{where}: only in the chart: {chart[key]!r}")
            else:
                found += differences(plain[key], chart[key], where)
        return found
    if isinstance(plain, list) and isinstance(chart, list) and len(plain) == len(chart):
        return [d for i, (a, b) in enumerate(zip(plain, chart))
                for d in differences(a, b, f"{path}[{i}]")]
    if type(plain) is not type(chart) or plain != chart:
        return [f"{path}: deploy/kubernetes has {plain!r}, the chart renders {chart!r}"]
    return []


def test_example_sets_only_what_the_manifests_name():
    assert leaf_paths(load(BASE_EXAMPLE)) <= EXAMPLE_MAY_SET


def test_chart_renders_the_plain_manifests():
    """The chart with values.yaml + examples/orders-api.yaml renders exactly the objects of
    deploy/kubernetes/*.yaml, matched by kind and name: every field of every object, except
    Helm's own labels; pgdual.yaml in the ConfigMap compared as parsed YAML. That covers the
    pgdual sidecar, its probes, resources, volumes and env, the application container, the
    NetworkPolicy, the backfill Job, the reconcile Deployment, and the checksum annotation,
    which sidecar.yaml must carry with the value the chart computes."""
    plain = {}
    for path in sorted(PLAIN_MANIFESTS.glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj is not None:
                plain[(obj["kind"], obj["metadata"]["name"])] = obj
    chart = render(example_values())
    assert sorted(chart) == sorted(plain)
    found = []
    for key in sorted(plain):
        found += differences(comparable(plain[key]), comparable(chart[key]), "/".join(key))
    hint = ("\n(the checksum differs: a restart-only key of configmap.yaml changed; put the "
            "chart's value into sidecar.yaml)") if any(CHECKSUM in d for d in found) else ""
    assert not found, "\n".join(found) + hint


# --------------------------------------------------------------------------
# The checksum annotation: restart-only keys roll the pods, live keys do not


def restart_only_keys() -> list[str]:
    """The key paths config/restart_keys.cpp names, read from its source."""
    src = (ROOT / "config" / "restart_keys.cpp").read_text()
    keys = re.findall(r'keys\.push_back\(\s*\{\s*"([^"]+)"', src)
    keys += re.findall(r'\bmember\(\s*"([^"]+)"', src)
    keys += ["tls." + name for name in re.findall(r"^\s*PGDUAL_TLS_KEY\((\w+)\);", src, re.M)]
    backend_keys = re.findall(r'^\s*PGDUAL_BACKEND_KEY\("(\w+)",', src, re.M)
    keys += [f"{prefix}.{key}" for prefix in re.findall(r'add_backend\(keys,\s*"([^"]+)"', src)
             for key in backend_keys]
    return sorted(set(keys))


RESTART_KEYS = restart_only_keys()
TLS = {"cert_file": "/etc/pgdual/tls/tls.crt", "key_file": "/etc/pgdual/tls/tls.key",
       "require": False}
# Keys a generic change cannot express: (base overlay, changed overlay).
SPECIAL_CHANGES = {
    "admin_listen": ({}, {"pgdual": {"adminPort": 9188}}),
    "tls": ({}, {"config": {"tls": TLS}}),
    "migration.strategy": ({}, {"config": {"migration": {"strategy": "cdc"}}}),
    "migration.cdc.publisher": ({}, nest("config.migration.cdc.publisher", {"host": "old.repl"})),
    "migration.cdc.copy_data": ({}, nest("config.migration.cdc.copy_data", "pgdual")),
    "migration.cdc.manage": ({}, nest("config.migration.cdc.manage", False)),
    "migration.mapping": ({}, nest("config.migration.mapping",
                                   {"tables": {"public.orders": {"to": "sales.orders"}}})),
}


def restart_change(key: str) -> tuple[dict, dict]:
    if key in SPECIAL_CHANGES:
        return SPECIAL_CHANGES[key]
    base = {"config": {"tls": TLS}} if key.startswith("tls.") else {}
    current = example_values(base)["config"]
    for part in key.split("."):
        current = (current or {}).get(part)
    if isinstance(current, bool) or key.endswith(".require"):
        new = not current
    elif isinstance(current, int) or key.endswith(("port", "_ms")) or key == "workers":
        new = (current or 0) + 1
    else:
        new = (current or "/etc/pgdual/x") + "-changed"
    return base, merge_values(base, nest("config." + key, new))


def test_restart_keys_are_read_from_restart_keys_cpp():
    assert len(RESTART_KEYS) >= 30, RESTART_KEYS
    assert {"listen", "admin_listen", "workers", "tls", "tls.require", "auth.method",
            "backends.old.host", "backends.new.sslkey", "migration.journal.instance",
            "migration.strategy", "migration.cdc.publisher"} <= set(RESTART_KEYS)


@pytest.mark.parametrize("key", RESTART_KEYS)
def test_a_restart_only_key_rolls_the_pods(key):
    base, changed = restart_change(key)
    before, after = checksum(example_values(base)), checksum(example_values(changed))
    assert before != after, f"{key} is restart-only (config/restart_keys.cpp): add it to " \
                            "pgdual.restartKeys in deploy/helm/pgdual/templates/_helpers.tpl"


def test_a_mapping_change_rolls_the_pods_but_its_rollback_rule_does_not():
    mapping = {"tables": {"public.orders": {"to": "sales.orders"}}}
    one = nest("config.migration.mapping", mapping)
    other = nest("config.migration.mapping", {"tables": {"public.orders": {"to": "sales.order"}}})
    allow = nest("config.migration.mapping", {**mapping, "rollback": "allow"})
    assert checksum(example_values(one)) != checksum(example_values(other))
    assert checksum(example_values(one)) == checksum(example_values(allow))


LIVE_CHANGES = {
    "migration.phase": nest("config.migration.phase", "dual_write"),
    "migration.strategy sync to async": nest("config.migration.strategy", "async"),
    "migration.strategy sync to outbox": nest("config.migration.strategy", "outbox"),
    "migration.tables": nest("config.migration.tables", {"public.orders": {"phase": "backfill"}}),
    "migration.journal.databases": nest("config.migration.journal.databases", ["orders", "bills"]),
    "migration.cdc.wait": nest("config.migration.cdc.wait", "commit"),
    "migration.shadow_read": nest("config.migration.shadow_read", {"sample_rate": 0.5}),
    "migration.mapping.rollback": nest("config.migration.mapping.rollback", "allow"),
    "limits.drain_timeout_ms": nest("config.limits.drain_timeout_ms", 25000),
    "log.level": nest("config.log.level", "debug"),
    "log.format": nest("config.log.format", "text"),
    "auth.users": nest("config.auth.users", [{"name": "app", "password": "${APP_DB_PASSWORD}"},
                                             {"name": "ro", "password": "${RO_PASSWORD}"}]),
    "backends.old.password_file": nest("config.backends.old.password_file", "/etc/pgdual/s/old"),
    "backends.new.password": nest("config.backends.new",
                                  {"password_file": None, "password": "${NEW_DB_PASSWORD}"}),
}


@pytest.mark.parametrize("change", LIVE_CHANGES.values(), ids=LIVE_CHANGES.keys())
def test_a_live_key_keeps_the_pods(change):
    before, after = example_values(), example_values(change)
    assert pgdual_config(before) != pgdual_config(after)  # the ConfigMap does change
    unchanged = checksum(before) == checksum(after)
    assert unchanged, "a key that reloads live must not roll the pods"


# --------------------------------------------------------------------------
# Scraping, older clusters, refusals


def test_scraping_binds_the_admin_port_and_adds_the_monitors():
    plain = example_values()
    assert pgdual_config(plain)["admin_listen"] == "127.0.0.1:9187"
    pod = example_values({"metrics": {"podMonitor": {"enabled": True}}})
    assert pgdual_config(pod)["admin_listen"] == "0.0.0.0:9187"
    assert checksum(pod) != checksum(plain)
    monitor = render(pod)[("PodMonitor", "orders-api-pgdual")]
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "admin"
    service = render(example_values({"metrics": {"serviceMonitor": {"enabled": True}}}))
    assert {("Service", "orders-api-pgdual-metrics"),
            ("ServiceMonitor", "orders-api-pgdual")} <= set(service)
    annotated = app_pod(example_values({"metrics": {"annotations": True}}))
    assert annotated["metadata"]["annotations"]["prometheus.io/port"] == "9187"


def test_before_1_29_pgdual_is_a_plain_container_with_a_pre_stop_sleep():
    spec = app_pod(example_values(load(EXAMPLES / "before-1.29.yaml")))["spec"]
    assert "initContainers" not in spec
    pgdual = next(c for c in spec["containers"] if c["name"] == "pgdual")
    assert pgdual["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]
    assert "restartPolicy" not in pgdual


REFUSED = {
    "no application container": (None, "app.containers"),
    "grace period within the drain timeout": (
        {"app": {"terminationGracePeriodSeconds": 20}}, "terminationGracePeriodSeconds"),
    "backfill without a database": ({"backfill": {"database": ""}}, "backfill.database"),
    "a backend without a host": ({"config": {"backends": {"new": {"host": ""}}}}, "new.host"),
}


@pytest.mark.parametrize("overlay,message", REFUSED.values(), ids=REFUSED.keys())
def test_the_chart_refuses_values_it_cannot_deploy(overlay, message):
    values = defaults() if overlay is None else example_values(overlay)
    with pytest.raises(ChartFailure, match=re.escape(message)):
        render(values)


def test_a_zero_drain_timeout_is_not_taken_for_the_default():
    """Sprig's `default` would replace 0 by 30000 s and refuse a 10 s grace period."""
    render(example_values({"app": {"terminationGracePeriodSeconds": 10},
                           "config": {"limits": {"drain_timeout_ms": 0}}}))


# --------------------------------------------------------------------------
# The renderer: Helm's semantics where they bite, and loud refusals


@pytest.mark.parametrize("src,values,expected", [
    ("{{ .Values.n }} {{ .Values.big }}", {"n": 9187, "big": 1000000}, "9187 1e+06"),
    ("a  {{- 1 -}}  \n b", {}, "a1b"),
    ("{{ default true false }}|{{ default 3 0 }}|{{ .Values.x | default \"d\" }}", {}, "true|3|d"),
    ('{{ toJson (dict "b" 1 "a" "<&>") }}', {}, '{"a":"\\u003c\\u0026\\u003e","b":1}'),
    ("{{ .Values.p | quote }}", {"p": 9187}, '"9187"'),
    ("{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}", {"m": {"b": 2, "a": 1}},
     "a=1;b=2;"),
    ('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}', {}, "2"),
    ('{{ define "t" }}[{{ . }}]{{ end }}{{ include "t" "x" | nindent 2 }}', {}, "\n  [x]"),
])
def test_renderer_follows_helm(src, values, expected):
    assert helm_render.render_string(src, values) == expected


@pytest.mark.parametrize("src,values,error", [
    ('{{ upper "x" }}', {}, Unsupported),
    ('{{ template "t" . }}', {}, Unsupported),
    ('{{ printf "%d" .Values.n }}', {"n": 1}, Unsupported),
    ("{{ `raw` }}", {}, Unsupported),
    ("{{ .Values.m }}", {"m": {"a": 1}}, Unsupported),
    ("{{ .Values.missing.field }}", {}, TemplateError),
    ("{{ eq .Values.n 1 }}", {"n": 1}, TemplateError),
    ('{{ printf "%s" .Values.n }}', {"n": 1}, TemplateError),
    ("{{ .Chart.Home }}", {}, TemplateError),
    ("{{ if true }}", {}, TemplateError),
])
def test_renderer_refuses_what_helm_or_it_would_not_do(src, values, error):
    with pytest.raises(error):
        helm_render.render_string(src, values)
