"""The separability oracle: does a scenario's data show a segment's surge before the change to that segment?"""

from __future__ import annotations

import json
from pathlib import Path

from evals.generator import generate
from evals.report import RunMeta, render_markdown
from evals.scorer import ScenarioScore
from evals.separability import separability


def _surge(tmp_path: Path, name: str, **params: object) -> Path:
    return generate("external_surge", seed=3, size="small", out=tmp_path / name,
                    segment={"region": "LATAM"}, onset_hour=10.0, **params)


def test_a_loud_surge_is_separable_and_a_faint_one_is_not(tmp_path: Path) -> None:
    loud = separability(_surge(tmp_path, "loud", effect=0.3, volume=3.0))
    faint = separability(_surge(tmp_path, "faint", effect=0.01, volume=0.3))
    assert loud is not None and faint is not None
    # the competitor is the change to exactly the surging region, hours after the onset
    truth = json.loads((tmp_path / "loud" / "truth.json").read_text())
    assert loud.hours > 1.0 and loud.rows > 0
    assert loud.separable and loud.p_value < 1e-6 and loud.events > 3 * loud.expected
    assert not faint.separable and faint.p_value >= 0.05
    assert truth["segment"] == {"region": "LATAM"} and loud.change in loud.detail()


def test_it_does_not_apply_where_the_truth_is_a_change(tmp_path: Path) -> None:
    folder = generate("pii_leak_deploy", seed=1, size="small", out=tmp_path / "pii")
    assert separability(folder) is None


def test_the_report_splits_scores_by_separability() -> None:
    scores = [ScenarioScore(scenario="s1", family="external_surge", ac={1: True, 2: True, 3: True}, top1_score=0.6,
                            separable=True, separability="deploy-1 2.0 h after the onset: 9 events"),
              ScenarioScore(scenario="s2", family="external_surge", ac={1: False, 2: True, 3: True},
                            top1_score=0.9, separable=False, separability="deploy-2 3.0 h after the onset"),
              ScenarioScore(scenario="s3", family="pii_leak_deploy", ac={1: True, 2: True, 3: True},
                            top1_score=1.0)]
    md = render_markdown(scores, RunMeta(date="d", commit="c"), chart=None)
    section = md.split("## Separability (oracle)")[1]
    assert "| separable | 1 | 100% | 100% | 0.60 |" in section
    assert "| not separable | 1 | 0% | 100% | 0.90 |" in section
    assert "| s2 | no | no | 0.90 | deploy-2 3.0 h after the onset |" in section and "s3" not in section
    assert "Separability" not in render_markdown(scores[2:], RunMeta(date="d", commit="c"), chart=None)
