"""The Prometheus alert rules in deploy/prometheus/alerts.yaml (docs/metrics.md, "Dashboard and
alerts"): promtool accepts them, their unit tests (alerts_test.yaml) pass, and every rule follows
the monitoring-mixin conventions the runbook relies on: a CamelCase name starting with Pgdual,
severity warning or critical, a summary, a description that names the firing series, and a
runbook_url whose anchor is a heading of docs/runbook.md.

No PostgreSQL server or pgdual is needed; test_grafana_dashboard.py checks that every metric the
rules name is exported by a running pgdual."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy" / "prometheus" / "alerts.yaml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "alerts_test.yaml"
RUNBOOK = REPO / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/pgdual/pgdual/blob/main/docs/runbook.md#"

# The alerts the runbook has a section for (docs/runbook.md, one heading per alert).
EXPECTED_ALERTS = {
    "PgdualSecondaryFailing", "PgdualBackendDown", "PgdualJournalGrowing", "PgdualJournalOld",
    "PgdualJournalDeadLetters", "PgdualShadowMatchRateLow", "PgdualReplicationSlotRetainingWal",
    "PgdualReplicationLagHigh", "PgdualBackfillStalled", "PgdualReconciliationUnresolved",
    "PgdualInstancePhaseMismatch", "PgdualConfigReloadFailing", "PgdualAdminPaused",
}
NAME = re.compile(r"Pgdual(?:[A-Z][a-z0-9]*)+")
DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: scripts/test installs it (Debian package prometheus)")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120,
                              cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"promtool {' '.join(args)} timed out\n{exc.stdout}\n{exc.stderr}")


def alert_rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    assert isinstance(document, dict) and isinstance(document.get("groups"), list), \
        "alerts.yaml must be a `groups:` file"
    rules = []
    for group in document["groups"]:
        assert group.get("name"), f"a group without a name: {group}"
        assert group.get("rules"), f"group {group['name']} has no rules"
        rules.extend(group["rules"])
    return rules


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as
    hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_promtool_accepts_the_rules():
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_rule_unit_tests_pass():
    result = run_promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_follows_the_conventions():
    rules = alert_rules()
    problems = []
    for rule in rules:
        name = rule.get("alert")
        if not name:
            problems.append(f"not an alerting rule: {rule}")
            continue
        if not NAME.fullmatch(name):
            problems.append(f"{name}: not CamelCase starting with Pgdual")
        if not str(rule.get("expr", "")).strip():
            problems.append(f"{name}: no expr")
        if "for" in rule and not DURATION.fullmatch(str(rule["for"])):
            problems.append(f"{name}: for {rule['for']!r} is not a duration")
        severity = (rule.get("labels") or {}).get("severity")
        if severity not in ("warning", "critical"):
            problems.append(f"{name}: severity {severity!r} is not warning or critical")
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not str(annotations.get(key, "")).strip():
                problems.append(f"{name}: no {key} annotation")
        description = str(annotations.get("description", ""))
        if not re.search(r"\{\{[^}]*\$(labels|value)", description):
            problems.append(f"{name}: the description names neither $labels nor $value")
        if annotations.get("runbook_url") != RUNBOOK_URL + name.lower():
            problems.append(f"{name}: runbook_url {annotations.get('runbook_url')!r} is not "
                            f"{RUNBOOK_URL + name.lower()}")
    assert not problems, "\n".join(problems)
    assert {rule.get("alert") for rule in rules} == EXPECTED_ALERTS


def test_every_alert_has_unit_tests_that_fire_it_and_that_do_not():
    document = yaml.safe_load(RULE_TESTS.read_text())
    assert document["rule_files"] == ["alerts.yaml"]
    fires, quiet = set(), set()
    for case in document["tests"]:
        for check in case.get("alert_rule_test") or []:
            expected = check.get("exp_alerts") or []
            (fires if expected else quiet).add(check["alertname"])
            for alert in expected:
                # What a receiver routes on and shows must be pinned down, not just the count.
                assert (alert.get("exp_labels") or {}).get("severity"), (check, alert)
                assert set(alert.get("exp_annotations") or {}) == \
                    {"summary", "description", "runbook_url"}, (check, alert)
    assert EXPECTED_ALERTS - fires == set(), "never seen firing"
    assert EXPECTED_ALERTS - quiet == set(), "never seen staying quiet"
    assert fires | quiet <= EXPECTED_ALERTS, "tests of alerts that do not exist"


def test_every_runbook_anchor_is_a_heading_of_the_runbook():
    if not RUNBOOK.exists():
        pytest.skip("docs/runbook.md does not exist yet")
    anchors = set()
    in_fence = False
    for line in RUNBOOK.read_text().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match and not in_fence:
            anchors.add(github_anchor(match.group(1)))
    missing = sorted({rule["alert"] for rule in alert_rules()
                      if rule["annotations"]["runbook_url"].split("#", 1)[1] not in anchors})
    assert not missing, f"docs/runbook.md has no heading for {missing}"
