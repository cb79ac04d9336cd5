"""Could the data tell the truth from the change that followed it? An oracle check on a scenario's label.

The suite's ``external_surge`` family labels a segment as the root cause while a change to that region lands
hours after the surge began. The label is right by construction, but the data support it only if the
segment's rows between the onset and that change already show the shift; at 10-30 rows an hour they often do
not, and then no engine can place the surge before the change except by luck or by a bias towards segments.
(A change wider or narrower than the segment is told apart by the rows it reached that did not move, or the
rows it did not reach that did; only a change to exactly the segment leaves timing as the sole evidence.)

This oracle knows what the engine never sees (the truth's onset and segment) and asks the easiest form of the
question: is the segment's rate over ``[onset, change)`` off the same clock window on the three days before, by
the exact count test the engine's lead test uses (``tools.causal.rate_shift_p``)? ``separable`` is
``p < ALPHA``. Scores are reported for separable and inseparable scenarios apart (``evals/report.py``); the
engine and the generator are untouched. Applies only where the truth is a segment and a change to exactly that
segment lands after the onset and before detection; elsewhere ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evals.baselines import ScenarioData, parse_time
from tools.causal import LEAD_DAYS, rate_shift_p

ALPHA = 0.05     # an oracle that knows the onset and tests once: the least any engine would need


class Separability(BaseModel):
    """The oracle's reading of one scenario: the first change to exactly the truth's segment after its onset,
    and how clearly the segment's rows before that change already show the shift."""

    change: str
    hours: float          # from the truth's onset to that change
    rows: float           # the segment's rows in [onset, change)
    events: float
    expected: float       # events expected there at the reference rate
    p_value: float
    separable: bool

    def detail(self) -> str:
        return (f"{self.change} {self.hours:.1f} h after the onset: {self.events:.0f} events in {self.rows:.0f} "
                f"rows before it, {self.expected:.1f} expected (p={self.p_value:.2g})")


def _exactly(scope: Mapping[str, str | None], segment: Mapping[str, str]) -> bool:
    """The change reached the segment and nothing else: only timing can tell them apart. A wider change (a
    global config) is told apart by the parts of its scope that did not move, a narrower one by the parts of the
    segment it did not reach."""
    return {d: str(v) for d, v in scope.items() if v is not None} == {d: str(v) for d, v in segment.items()}


def separability(path: Path, truth: Mapping[str, Any] | None = None) -> Separability | None:
    """The oracle's reading for the scenario folder at `path` (``None`` where it does not apply)."""
    path = Path(path)
    truth = truth if truth is not None else json.loads((path / "truth.json").read_text())
    segment = truth.get("segment")
    onset = parse_time(truth.get("onset"))
    if (truth.get("root_cause") or {}).get("kind") != "segment" or not segment or onset is None:
        return None
    data = ScenarioData(path)
    try:
        metric = data.metric_name()
        detected = parse_time(data.incident.get("detected_at"))
        if metric is None or detected is None:
            return None
        after = sorted((c for c in data.change_rows() if onset < c["time"] <= detected
                        and _exactly(c["scope"], segment)), key=lambda c: c["time"])
        if not after:
            return None
        first = after[0]
        sign = -1.0 if float(truth.get("effect") or 0.0) < 0 else 1.0
        rate, rows = data.metric_rate(metric, onset, first["time"], segment)
        ref = [data.metric_rate(metric, onset - timedelta(days=d), first["time"] - timedelta(days=d), segment)
               for d in range(1, LEAD_DAYS + 1)]
        ref_rows = sum(n for _, n in ref)
        ref_events = sum((r or 0.0) * n for r, n in ref)
        events = (rate or 0.0) * rows
        p = rate_shift_p(events, rows, ref_events, ref_rows, sign)
        return Separability(change=first["id"], hours=(first["time"] - onset).total_seconds() / 3600, rows=rows,
                            events=round(events), expected=ref_events / ref_rows * rows if ref_rows else 0.0,
                            p_value=p, separable=p < ALPHA)
    finally:
        data.close()
