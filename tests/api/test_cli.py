"""The ``rca`` command line: in-process with Typer's CliRunner, and the installed console script as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import write_mini_scenario

runner = CliRunner()
RCA = Path(sys.executable).parent / "rca"
SPEC_KEYS = {"incident_id", "metric", "anomaly", "root_causes", "segments", "impact", "similar_incidents",
             "evidence", "narrative"}
WIDTH = {"COLUMNS": "80"}   # what rich assumes when stderr is not a terminal
WIDE = {"COLUMNS": "1000"}  # no wrapping: lets the other tests check content (wrapping is tested on its own)


@pytest.fixture(autouse=True)
def _isolated_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep incident memory (Chroma) in the test's temp dir, with the offline lexical embedding."""
    monkeypatch.setenv("RCA_CHROMA_PATH", str(tmp_path / "memory"))
    monkeypatch.setenv("RCA_EMBEDDING", "lexical")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def make_bad(kind: str, example: Path) -> tuple[Path, str]:
    """A broken copy of the example scenario and a fragment its one-line error must contain."""
    if kind == "missing_folder":
        return example.parent / "no-such-scenario", "scenario folder not found"
    if kind == "unknown_metric":
        _edit(example / "incident.json", '"metric": "age_gate_skip_rate"', '"metric": "no_such_metric"')
        return example, "unknown metric 'no_such_metric'"
    if kind == "empty_window":
        inc = json.loads((example / "incident.json").read_text())
        inc["window"] = {"start": "2026-05-06T02:00:00Z", "end": "2026-05-05T02:00:00Z"}
        (example / "incident.json").write_text(json.dumps(inc))
        return example, "window is empty"
    if kind == "bad_change_timestamp":
        _edit(example / "data" / "config_changes.csv", "2026-05-05 16:00:00", "last tuesday")
        return example, "config_changes.csv: column 'changed_at' must hold timestamps, found 'last tuesday'"
    if kind == "missing_column":
        _edit(example / "catalog.yaml", "    - region\nchanges", "    - region\n    - country\nchanges")
        return example, "metrics.age_gate_skip_rate.dimensions[2]: column 'country' not found in table 'signups'"
    raise AssertionError(kind)


BAD = ["missing_folder", "unknown_metric", "empty_window", "bad_change_timestamp", "missing_column"]


def _flat(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------------------------- subprocess


@pytest.fixture(scope="module")
def investigated(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The installed console script on the mini scenario, run once (cwd and memory in a temp dir)."""
    tmp = tmp_path_factory.mktemp("cli-sub")
    scenario = write_mini_scenario(tmp / "mini")
    env = {**os.environ, "RCA_CHROMA_PATH": str(tmp / "memory"), "RCA_EMBEDDING": "lexical", **WIDTH}
    return subprocess.run([str(RCA), "investigate", str(scenario), "--json"], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=300)


@pytest.mark.slow   # a fresh interpreter imports DoWhy, Chroma, ...: ~10 s
def test_console_script_investigate_prints_only_the_report_json(investigated: subprocess.CompletedProcess[str]):
    assert investigated.returncode == 0, investigated.stderr
    report = json.loads(investigated.stdout)          # the whole of stdout is one JSON document
    assert SPEC_KEYS <= set(report)
    assert report["incident_id"] == "INC-MINI" and report["root_causes"][0]["id"] == "d-2"
    assert report["segments"][0]["dimensions"] == {"platform": "web", "region": "EU"}
    # progress goes to stderr, and nothing went wrong
    assert "loading workspace" in investigated.stderr and "Traceback" not in investigated.stderr


def test_console_script_catalog_check_fails_with_exit_2(tmp_path: Path):
    scenario = write_mini_scenario(tmp_path / "mini")
    _edit(scenario / "catalog.yaml", "timestamp: deployed_at", "timestamp: deploy_time")
    _edit(scenario / "catalog.yaml", "logs: [user_id, ip_address]", "logs: [user_id, ip_addr]")
    env = {**os.environ, **WIDE}
    proc = subprocess.run([str(RCA), "catalog", "check", str(scenario)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(f"error: {scenario / 'catalog.yaml'}: changes.deployments.timestamp: column "
                               "'deploy_time' not found in table 'deployments'")
    assert lines[1].startswith(f"error: {scenario / 'catalog.yaml'}: pii.logs[1]: column 'ip_addr' not found")
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------------- CliRunner


def test_catalog_check_ok(example_dir: Path):
    result = runner.invoke(app, ["catalog", "check", str(example_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("ok: 1 metrics, 1 change sources, 0 experiment sources, 0 graph edges, "
                                     "2 tables")


def test_catalog_check_reports_every_error(example_dir: Path):
    _edit(example_dir / "catalog.yaml", "timestamp: signup_time", "timestamp: signed_up_at")
    _edit(example_dir / "catalog.yaml", "id: change_id", "id: change")
    result = runner.invoke(app, ["catalog", "check", str(example_dir)], env=WIDE)
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: {example_dir / 'catalog.yaml'}: ") for line in lines)
    assert "metrics.age_gate_skip_rate.timestamp: column 'signed_up_at'" in lines[0]
    assert "changes.config.id: column 'change'" in lines[1] and "did you mean change_id" in lines[1]
    assert "Traceback" not in result.output


def test_sql_json(example_dir: Path):
    result = runner.invoke(app, ["sql", str(example_dir), "select region, count(*) as n from signups "
                                                          "group by region order by region", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"sql", "columns", "rows", "elapsed_ms", "truncated"}
    assert payload["columns"] == ["region", "n"] and payload["rows"] == [["EU", 5751], ["NA", 5730]]
    assert payload["truncated"] is False and "LIMIT" in payload["sql"]


def test_sql_json_serializes_timestamps(example_dir: Path):
    result = runner.invoke(app, ["sql", str(example_dir), "select min(signup_time) as first from signups", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == [["2026-05-04 00:00:06"]]


def test_sql_table_view(example_dir: Path):
    result = runner.invoke(app, ["sql", str(example_dir), "select change_id from config_changes order by 1"])
    assert result.exit_code == 0, result.output
    assert all(c in result.stdout for c in ("cfg-16", "cfg-17", "cfg-18"))
    assert "3 rows" in result.stderr


@pytest.mark.parametrize("query, rule", [("select user_id from signups", "pii_exposed"),
                                         ("update signups set region = 'EU'", "read_only")])
def test_sql_rejected_is_exit_2(example_dir: Path, query: str, rule: str):
    result = runner.invoke(app, ["sql", str(example_dir), query, "--json"], env=WIDE)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {rule}:") and "Traceback" not in result.output


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_exit_2_with_an_error_and_no_traceback(kind: str, example_dir: Path):
    scenario, fragment = make_bad(kind, example_dir)
    result = runner.invoke(app, ["investigate", str(scenario), "--json"], env=WIDE)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert all(line.startswith(("error: ", "… ")) for line in result.stderr.splitlines())  # else only progress
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_error_is_a_single_line(kind: str, example_dir: Path):
    scenario, fragment = make_bad(kind, example_dir)
    result = runner.invoke(app, ["investigate", str(scenario), "--json", "--quiet"], env=WIDTH)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr


def test_investigate_json_in_process(mini_ro: Path):
    result = runner.invoke(app, ["investigate", str(mini_ro), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert SPEC_KEYS <= set(report) and report["root_causes"][0]["id"] == "d-2"
    assert "… loading workspace" in result.stderr and "segments" in result.stderr


def test_investigate_human_view(mini_dir: Path):
    result = runner.invoke(app, ["investigate", str(mini_dir), "--quiet"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "INC-MINI" in result.stdout and "d-2" in result.stdout and "Candidate causes" in result.stdout
    assert result.stderr == ""      # --quiet: no progress


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert "investigate" in result.output and "catalog" in result.output and "sql" in result.output
