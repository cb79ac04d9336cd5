"""The template narrative says what the numbers say, and every number cites its evidence."""

from __future__ import annotations

import re

import pytest

from agent.narrative import render_narrative
from agent.report import AnomalyData, AnomalyEvidence, AnomalyOut, ImpactOut, Report


def report(*, baseline: float, observed: float, direction: str, found: bool) -> Report:
    return Report(
        incident_id="INC-1", metric="consent_reject_rate",
        anomaly=AnomalyOut(start="2026-04-11T15:00:00", end="2026-04-12T03:00:00", baseline=baseline,
                           observed=observed, direction=direction, evidence=["E1"]),  # type: ignore[arg-type]
        root_causes=[], segments=[], impact=ImpactOut(affected_units=None), similar_incidents=[],
        evidence=[AnomalyEvidence(id="E1", title="Anomaly window", data=AnomalyData(
            start="2026-04-11T15:00:00", end="2026-04-12T03:00:00", onset="2026-04-11T15:00:00",
            window_source="incident", direction=direction, found=found))], narrative="")


@pytest.mark.parametrize(("baseline", "observed", "direction", "found", "verb", "noise"), [
    (0.10, 0.19, "up", True, "went up", False),
    (0.95, 0.80, "down", True, "went down", False),
    # within noise the searched (worsening) direction and the levels can disagree: the levels decide the verb
    (0.3119, 0.3147, "down", False, "went up", True),
    (0.02, 0.02, "up", False, "stayed level", True),
])
def test_what_moved_follows_the_levels_and_says_when_it_is_noise(baseline: float, observed: float, direction: str,
                                                                  found: bool, verb: str, noise: bool):
    text = render_narrative(report(baseline=baseline, observed=observed, direction=direction, found=found),
                            segments_evidence=None, similar_evidence=None)
    moved = text.split("**What moved.**", 1)[1].split("\n", 1)[0]
    assert f"`consent_reject_rate` {verb} from" in moved
    assert ("within its normal noise" in moved) is noise
    if noise:
        assert f"no {direction}ward move stands out" in moved
    assert all(re.search(r"\[E1\]", sentence) for sentence in moved.split(". ") if sentence.strip())
