"""Baselines on small scenarios built here, where each baseline's right answer is known by construction."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from evals.baselines import biggest_jump, gcm_only, last_change, parse_time
from evals.scorer import score_scenario

T0 = datetime(2026, 1, 1)


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def build_change_scenario(root: Path, *, window: dict | None = None) -> Path:
    """48 hours of logs; from 2026-01-02 06:00 every android row leaks an IP (deploy d-android's scope).

    Changes: c-global (day 1, no effect), d-android (the cause, 06:00), d-ios (08:00, no effect, the latest
    before the 09:00 window) and c-late (after the window starts).
    """
    rows = []
    for h in range(48):
        t = T0 + timedelta(hours=h)
        for platform in ("android", "ios"):
            for region in ("EU", "US"):
                for i in range(3):
                    leak = platform == "android" and t >= datetime(2026, 1, 2, 6)
                    when = (t + timedelta(minutes=10 * i)).isoformat(sep=" ")
                    user = f"u{h}{platform}{region}{i}"
                    rows.append([when, user, platform, region, "31.1.4", str(leak).lower()])
    header = ["ts", "user_id", "platform", "region", "app_version", "has_ip"]
    write_csv(root / "data" / "logs.csv", header, rows)
    write_csv(root / "data" / "deploys.csv", ["deploy_id", "deployed_at", "platform", "summary"], [
        ["d-android", "2026-01-02T06:00:00Z", "android", "logger rewrite"],
        ["d-ios", "2026-01-02 08:00:00", "ios", "ios tweak"],
    ])
    write_csv(root / "data" / "config.csv", ["change_id", "changed_at", "region"], [
        ["c-global", "2026-01-01 12:00:00", "*"],
        ["c-late", "2026-01-02 10:00:00", ""],
    ])
    catalog = {
        "dialect": "duckdb", "grain": "hour",
        "metrics": {"ip_log_rate": {
            "table": "logs", "timestamp": "ts", "value": "avg(case when has_ip then 1.0 else 0.0 end)",
            "unit": "user_id", "dimensions": ["platform", "region", "app_version"], "higher_is_worse": True}},
        "changes": {
            "deployments": {"table": "deploys", "id": "deploy_id", "timestamp": "deployed_at",
                            "description": "summary", "scope": ["platform"]},
            "config": {"table": "config", "id": "change_id", "timestamp": "changed_at", "scope": ["region"]},
        },
    }
    (root / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    incident = {"id": "INC-T1", "title": "Raw IPs in logs", "metric": "ip_log_rate",
                "detected_at": "2026-01-02T12:00:00Z"}
    if window:
        incident["window"] = window
    (root / "incident.json").write_text(json.dumps(incident))
    (root / "truth.json").write_text(json.dumps({"root_cause": {"kind": "change", "id": "d-android"},
                                                 "segment": {"platform": "android"}}))
    return root


def ids(report: dict) -> list[str]:
    return [rc["id"] for rc in report["root_causes"]]


def test_last_change_is_the_latest_before_the_window_start(tmp_path: Path) -> None:
    path = build_change_scenario(tmp_path / "s", window={"start": "2026-01-02T09:00:00Z",
                                                         "end": "2026-01-02T12:00:00Z"})
    rep = last_change(path)
    assert ids(rep) == ["d-ios", "d-android", "c-global"]  # c-late is after the window start
    assert [rc["rank"] for rc in rep["root_causes"]] == [1, 2, 3]
    assert rep["segments"] == [{"dimensions": {"platform": "ios"}}]
    truth = json.loads((path / "truth.json").read_text())
    score = score_scenario(truth, rep, system="last_change")
    assert score.ac == {1: False, 2: True, 3: True}


def test_last_change_without_window_uses_detection_time(tmp_path: Path) -> None:
    rep = last_change(build_change_scenario(tmp_path / "s"))
    assert ids(rep)[0] == "c-late"  # 10:00 <= detected 12:00
    assert rep["segments"] == []  # c-late reaches every region


def test_biggest_jump_finds_the_change_whose_scope_moved(tmp_path: Path) -> None:
    path = build_change_scenario(tmp_path / "s", window={"start": "2026-01-02T09:00:00Z",
                                                         "end": "2026-01-02T12:00:00Z"})
    rep = biggest_jump(path)
    assert ids(rep)[0] == "d-android"
    assert rep["root_causes"][0]["jump"] == pytest.approx(1.0)
    assert "c-late" in ids(rep)  # before the window end: still a candidate
    assert rep["segments"] == [{"dimensions": {"platform": "android"}}]
    truth = json.loads((path / "truth.json").read_text())
    assert score_scenario(truth, rep).ac[1] and score_scenario(truth, rep).segment_correct


def test_biggest_jump_is_direction_aware(tmp_path: Path) -> None:
    path = build_change_scenario(tmp_path / "s")
    catalog = yaml.safe_load((path / "catalog.yaml").read_text())
    catalog["metrics"]["ip_log_rate"]["higher_is_worse"] = False
    (path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    rep = biggest_jump(path)
    # the android rise is now an improvement: it ranks below the changes that did nothing
    assert ids(rep)[-1] == "d-android"
    assert rep["root_causes"][-1]["jump"] == pytest.approx(-1.0)


def test_gcm_only_is_not_applicable_without_a_graph(tmp_path: Path) -> None:
    assert gcm_only(build_change_scenario(tmp_path / "s")) is None


def test_parse_time_gives_naive_utc() -> None:
    assert parse_time("2026-01-02T08:00:00+02:00") == datetime(2026, 1, 2, 6)
    assert parse_time("2026-01-02T06:00:00Z") == datetime(2026, 1, 2, 6)
    assert parse_time("2026-01-02 06:00:00") == datetime(2026, 1, 2, 6)
    assert parse_time(None) is None


def build_graph_scenario(root: Path) -> Path:
    """cpu -> latency <- queue; in the last 4 hours cpu spikes and drags latency up; queue stays normal."""
    rng = np.random.default_rng(7)
    hours = 96
    rows = []
    for h in range(hours):
        t = T0 + timedelta(hours=h)
        anomalous = h >= hours - 4
        cpu = rng.normal(50, 5) + (60 if anomalous else 0)
        queue = rng.normal(10, 2)
        latency = 2.0 * cpu + 3.0 * queue + rng.normal(0, 3)
        rows.append([t.isoformat(sep=" "), round(cpu, 3), round(queue, 3), round(latency, 3)])
    write_csv(root / "data" / "svc.csv", ["ts", "cpu", "queue", "latency"], rows)
    metric = lambda col: {"table": "svc", "timestamp": "ts", "value": f"avg({col})", "dimensions": []}  # noqa: E731
    catalog = {"dialect": "duckdb", "grain": "hour",
               "metrics": {"latency": metric("latency"), "cpu": metric("cpu"), "queue": metric("queue")},
               "graph": [["cpu", "latency"], ["queue", "latency"]]}
    (root / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    end = T0 + timedelta(hours=hours - 1)
    (root / "incident.json").write_text(json.dumps({
        "id": "INC-G", "title": "Latency up", "metric": "latency", "detected_at": end.isoformat() + "Z",
        "window": {"start": (end - timedelta(hours=3)).isoformat() + "Z", "end": end.isoformat() + "Z"}}))
    (root / "truth.json").write_text(json.dumps({"root_cause": {"kind": "upstream", "id": "cpu"}}))
    return root


def test_gcm_only_blames_the_upstream_metric_that_moved(tmp_path: Path) -> None:
    rep = gcm_only(build_graph_scenario(tmp_path / "g"))
    assert rep is not None
    assert ids(rep) == ["cpu", "queue"]  # the target itself is never a candidate
    assert all(rc["kind"] == "upstream" for rc in rep["root_causes"])
    # no change source in this catalog: the change baselines do not apply
    assert last_change(tmp_path / "g") is None and biggest_jump(tmp_path / "g") is None


def test_gcm_only_plain_dowhy_fallback_without_tools_upstream(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tools.upstream", None)  # import now raises ImportError
    rep = gcm_only(build_graph_scenario(tmp_path / "g"))
    assert rep is not None and ids(rep) == ["cpu", "queue"]
    assert rep["root_causes"][0]["attribution"] > rep["root_causes"][1]["attribution"]
