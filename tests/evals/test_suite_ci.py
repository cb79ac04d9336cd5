"""CI-sized slice of the evaluation suite: the first scenario of every family, generated and investigated.

These assert correctness (never time). Each family's first seed is used as generated, not a hand-picked one;
a known miss is marked strict-xfail with its reason so a fix shows up as a failure to update.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.investigate import investigate_scenario
from evals.generator import generate
from evals.suite import suite_specs
from tools.settings import Settings

FIRST = {s.family: s for s in suite_specs("small") if s.seed == 1}
TOP1 = {"delayed_config", "experiment_guardrail", "graph_mediator", "graph_last_bucket", "graph_period_shift",
        "metric_drop", "overlapping_changes",
        "pii_leak_deploy"}
KNOWN_MISS: dict[str, str] = {}
# Right first but not confident: overlapping_changes-01 has 10-50 rows an hour, and its onset is read 7 h
# late off the honest (out-of-sample) noise scale, so the right change scores 0.27.
UNSURE = {"overlapping_changes"}


def _case(family: str):  # noqa: ANN202
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISS[family])] if family in KNOWN_MISS else []
    return pytest.param(family, marks=marks, id=family)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(embedding="lexical", chroma_path=tmp_path_factory.mktemp("memory"))


@pytest.mark.parametrize("family", [_case(f) for f in sorted(FIRST)])
def test_first_scenario_of_each_family(family: str, tmp_path: Path, settings: Settings) -> None:
    spec = FIRST[family]
    folder = generate(spec.family, seed=spec.seed, size="small", out=tmp_path / spec.name, **spec.params)
    truth = json.loads((folder / "truth.json").read_text())["root_cause"]
    report = investigate_scenario(folder, settings=settings)
    ranked = [(c.kind, c.id) for c in report.root_causes]
    if truth["kind"] == "none":
        assert all(c.score < 0.5 for c in report.root_causes), [(c.id, c.score) for c in report.root_causes[:3]]
        return
    expected = (truth["kind"], truth["id"])
    assert expected in ranked[:3], ranked[:5]
    if family in TOP1:
        assert ranked[0] == expected, ranked[:3]
        if family not in UNSURE:
            assert report.root_causes[0].score >= 0.5
