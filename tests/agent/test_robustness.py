"""An investigation never dies of one candidate, nor of a window at the very edge of the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import agent.steps.change_estimates as estimates_module
from agent.incident import InputError
from agent.investigate import investigate_scenario
from tests.conftest import EXAMPLE, copy_scenario
from tools.settings import Settings


def _settings(tmp: Path, **kw: object) -> Settings:
    return Settings(chroma_path=tmp / "memory", embedding="lexical", **kw)


def test_a_failing_candidate_is_recorded_and_the_others_are_ranked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = estimates_module.estimate_change

    def flaky(**kw: Any) -> Any:
        if kw["change"].id == "cfg-18":
            raise RuntimeError("simulated failure\nsecond line")
        return real(**kw)

    monkeypatch.setattr(estimates_module, "estimate_change", flaky)
    report = investigate_scenario(copy_scenario(EXAMPLE, tmp_path / "s"), settings=_settings(tmp_path))
    assert report.root_causes[0].id == "cfg-17" and report.root_causes[0].score >= 0.5
    failed = next(c for c in report.root_causes if c.id == "cfg-18")
    assert failed.score == 0.0 and "simulated failure" in failed.reasons[0]
    errors = [e for e in report.evidence if e.kind == "error"]
    assert len(errors) == 1 and errors[0].id in failed.evidence
    assert errors[0].data["step"] == "change_estimates" and errors[0].data["message"] == "simulated failure"
    assert any("cfg-18" in lim and "failed" in lim for lim in report.limitations)


def test_engine_queries_are_not_cut_by_the_guards_row_cap(tmp_path: Path):
    """RCA_MAX_ROWS caps the responder's own SQL; the engine's panels (336 hourly buckets x segments here) are
    larger than a cap of 50 rows and must still arrive whole: the same report as with the default cap."""
    small = investigate_scenario(copy_scenario(EXAMPLE, tmp_path / "a"), settings=_settings(tmp_path, max_rows=50))
    default = investigate_scenario(copy_scenario(EXAMPLE, tmp_path / "b"), settings=_settings(tmp_path))
    assert [(c.id, c.score) for c in small.root_causes] == [(c.id, c.score) for c in default.root_causes]
    rows = [e.data["rows"] for e in small.evidence if e.kind == "sql"]
    assert max(rows) > 50 and not any(e.data["truncated"] for e in small.evidence if e.kind == "sql")


def test_an_engine_query_cut_at_its_own_cap_says_so(tmp_path: Path):
    report = investigate_scenario(copy_scenario(EXAMPLE, tmp_path / "s"),
                                  settings=_settings(tmp_path, engine_max_rows=100))
    cut = [e for e in report.evidence if e.kind == "sql" and e.data["truncated"]]
    assert cut and all(e.data["rows"] == 100 for e in cut)
    assert any("truncated at 100 rows" in lim for lim in report.limitations)


def _last_row_scenario(root: Path, *, days: int = 8, window_rows: int = 1) -> Path:
    """Minute grain, two metrics in a graph, an outlier in the very last row (more rows than RCA_MAX_ROWS)."""
    (root / "data").mkdir(parents=True)
    rng = np.random.default_rng(7)
    n = days * 24 * 60
    t = pd.date_range("2026-05-01", periods=n, freq="min")
    a = rng.normal(100, 3, n)
    a[-1] += 60
    b = 0.5 * a + rng.normal(0, 1, n)
    stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.concat([pd.DataFrame({"ts": stamp, "name": "a", "value": a}),
               pd.DataFrame({"ts": stamp, "name": "b", "value": b})]).to_csv(root / "data" / "metrics.csv",
                                                                          index=False)
    (root / "catalog.yaml").write_text(
        "dialect: duckdb\ngrain: minute\nmetrics:\n"
        "  a_total: {table: metrics, timestamp: ts, value: \"sum(case when name = 'a' then value else 0 end)\"}\n"
        "  b_total: {table: metrics, timestamp: ts, value: \"sum(case when name = 'b' then value else 0 end)\"}\n"
        "graph:\n- [a_total, b_total]\n")
    start = t[-1] + pd.Timedelta(minutes=window_rows - 1)
    end = start + pd.Timedelta(minutes=1)
    (root / "incident.json").write_text(json.dumps({
        "id": "INC-LAST", "title": "b total jumped", "metric": "b_total", "detected_at": end.isoformat() + "Z",
        "window": {"start": start.isoformat() + "Z", "end": end.isoformat() + "Z"}}))
    return root


def test_a_single_bucket_window_at_the_last_row_of_the_data_is_investigated(tmp_path: Path):
    report = investigate_scenario(_last_row_scenario(tmp_path / "s"), settings=_settings(tmp_path))
    assert report.anomaly.start == "2026-05-08T23:59:00" and report.anomaly.end == "2026-05-09T00:00:00"
    assert report.anomaly.observed is not None and report.anomaly.observed > 70   # the outlier, not the mean
    assert report.root_causes[0].kind == "upstream" and report.root_causes[0].id == "a_total"


def test_a_window_with_truly_no_rows_is_still_a_clear_error(tmp_path: Path):
    with pytest.raises(InputError, match="no data in the incident window"):
        investigate_scenario(_last_row_scenario(tmp_path / "s", window_rows=3), settings=_settings(tmp_path))
