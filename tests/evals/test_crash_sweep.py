"""The crash sweep's bounded subset: perturbed scenarios give a spec-valid report or one ``error:`` line, exit 2.

Hypothesis draws four cases from the sweep's grid (derandomized, so a run is repeatable) and runs them through
the CLI in-process; two more run as real subprocesses. The full grid runs in ``make eval``
(``python -m evals.crash_sweep``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evals.crash_sweep import (
    Case,
    Outcome,
    Scenario,
    cases,
    judge,
    make_bases,
    prepare,
    run_inprocess,
    run_subprocess,
    spec_problems,
)

BASES = ["deploy_hour", "graph_last_minute"]
GRID = [c for c in cases(quick=True) if c.base in BASES]


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bases(tmp_path_factory.mktemp("bases"), BASES)


@pytest.fixture(autouse=True)
def _lexical_memory(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("RCA_EMBEDDING", "lexical")
    monkeypatch.setenv("RCA_CHROMA_PATH", str(tmp_path_factory.mktemp("memory")))


def _assert_contract(o: Outcome) -> None:
    assert o.status in {"ok", "error"}, f"{o.case}: {o.detail}\n" + "".join(o.tb)


@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=st.sampled_from(GRID))
def test_perturbed_scenarios_never_crash(case: Case, bases: Path, tmp_path_factory: pytest.TempPathFactory
                                         ) -> None:
    _assert_contract(run_inprocess(case, bases, tmp_path_factory.mktemp("work")))


@pytest.mark.parametrize("case", [Case("deploy_hour", (("one_bucket", "last"),)),
                                  Case("deploy_hour", (("zero_denominator", None),))],  # was NaN scores
                         ids=lambda c: c.name)
def test_edge_windows_in_process(case: Case, bases: Path, tmp_path: Path) -> None:
    _assert_contract(run_inprocess(case, bases, tmp_path))


def test_real_process_reports_or_refuses_in_one_line(bases: Path, tmp_path: Path) -> None:
    ok = run_subprocess(Case("graph_last_minute"), bases, tmp_path)
    assert ok.status == "ok", ok.detail
    assert ok.top is not None and ok.top.startswith("upstream:")
    refused = run_subprocess(Case("deploy_hour", (("window_outside_data", None),)), bases, tmp_path)
    assert refused.status == "error" and "no data" in refused.detail, refused.detail


def test_edits_do_what_they_say(bases: Path, tmp_path: Path) -> None:
    path = prepare(Case("deploy_hour", (("to_last_row", 1), ("no_dimensions", None))), bases, tmp_path)
    s = Scenario(path)
    window = s.incident["window"]
    assert window["end"] == (s.last_row().floor(s.bucket) + s.bucket).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(m["dimensions"] == [] for m in s.catalog["metrics"].values())
    path = prepare(Case("deploy_hour", (("history_days", 0.5),)), bases, tmp_path)
    s = Scenario(path)
    m = s.metric
    span = s.times(m["table"], m["timestamp"])
    assert span.max() - span.min() <= __import__("pandas").Timedelta(days=0.5)


def test_judge_applies_the_contract() -> None:
    assert judge("c", 2, "", "error: metric x has no data\n").status == "error"
    assert judge("c", 2, "", "error: a\nerror: b\n").status == "crash"  # two lines is not one line
    assert judge("c", 1, "", "Traceback (most recent call last):\n  ...\nKeyError: 3\n").status == "crash"
    assert judge("c", 0, "not json", "").status == "crash"
    assert judge("c", 0, '{"score": NaN}', "").status == "crash"  # NaN is not JSON
    crash = judge("c", 1, "", "", exc=KeyError(3))
    assert crash.status == "crash" and "KeyError" in crash.detail


def test_spec_problems_finds_what_is_off() -> None:
    report = {"incident_id": "I", "metric": "m", "anomaly": {"start": "a", "end": "b", "baseline": 1, "observed": 2},
              "root_causes": [{"rank": 1, "kind": "change", "id": "d-1", "score": 0.9, "evidence": ["E1"]},
                              {"rank": 2, "kind": "upstream", "id": "u", "score": 0.1, "evidence": ["E1"]}],
              "segments": [], "impact": {"affected_units": None}, "similar_incidents": [],
              "evidence": [{"id": "E1", "kind": "sql"}], "narrative": "x"}
    assert spec_problems(report) == []
    bad = json.loads(json.dumps(report))
    bad["root_causes"][1]["score"] = 0.95
    bad["root_causes"][0]["kind"] = "deploy"
    bad["root_causes"][0]["evidence"] = ["E9"]
    problems = spec_problems(bad)
    assert any("best first" in p for p in problems) and any("kind" in p for p in problems)
    assert any("unknown evidence" in p for p in problems)
