"""Running `pgdual reconcile` from the integration tests (jobs/reconcile,
cmd/commands/reconcile.cpp): the command line, its JSON report, and drift injected directly on
one store."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import default_config, deep_merge, free_port, run, to_yaml
from dual_write_helpers import finish_process, migration, start_process

RUN_TIMEOUT = 180
PROGRESS = "pgdual.reconcile_progress"
QUEUE = "pgdual.reconcile_queue"


@dataclass
class Outcome:
    code: int
    report: dict | None  # the JSON report on stdout (--format json); None when not JSON
    stdout: str
    stderr: str

    def table(self, name: str) -> dict:
        found = [t for t in self.report["tables"] if t["table"] == name]
        assert len(found) == 1, f"{name} in the report's tables: {self.report['tables']}"
        return found[0]

    def differences(self, name: str) -> set[tuple[str, tuple]]:
        """(kind, key) of every difference reported for a table."""
        return {(d["kind"], tuple(d["key"])) for d in self.table(name)["differences"]}

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def write_config(env, tmp_path: Path, phase: str = "dual_write", name: str = "reconcile",
                 extra: dict | None = None, **settings) -> Path:
    config = deep_merge(default_config(env, free_port(), free_port()),
                        migration(phase, **settings))
    if extra:
        config = deep_merge(config, extra)
    path = tmp_path / f"{name}.yaml"
    path.write_text(to_yaml(config))
    return path


def command(env, config: Path, dbname: str, *args: str) -> list[str]:
    return [env.pgdual_bin, "reconcile", "--config", str(config), "--database", dbname, *args]


def parse(stdout: str) -> dict | None:
    try:
        return json.loads(stdout)
    except ValueError:
        return None


def reconcile(env, config: Path, dbname: str, *args: str,
              timeout: float = RUN_TIMEOUT) -> Outcome:
    """`pgdual reconcile ... --format json ARGS` to its end."""
    result = run(command(env, config, dbname, "--format", "json", *args), timeout=timeout,
                 check=False)
    return Outcome(result.returncode, parse(result.stdout), result.stdout, result.stderr)


def start_reconcile(env, config: Path, dbname: str, *args: str) -> subprocess.Popen:
    return start_process(command(env, config, dbname, "--format", "json", *args))


def finish_reconcile(process: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> Outcome:
    code, out, err = finish_process(process, timeout)
    return Outcome(code, parse(out), out, err)


def expect_equal(outcome: Outcome) -> None:
    assert outcome.code == 0, str(outcome)
    assert outcome.report["verdict"] == "equal", str(outcome)
    for table in outcome.report["tables"]:
        assert table["state"] == "done", str(outcome)
        assert table["remaining"] == 0, str(outcome)
