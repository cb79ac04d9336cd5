"""Step: the metric over the baseline and the anomaly window, computed exactly in the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from agent.incident import InputError
from agent.state import Investigation, StepTrail
from tools.anomaly import GRAIN_DELTA, AnomalyWindow
from tools.metric_sql import is_additive, metric_cells

BASELINE_SPAN = timedelta(hours=72)  # the baseline: up to three days before the onset (a weekly cycle is not needed)


@dataclass
class Levels:
    baseline: float
    observed: float
    baseline_period: tuple[datetime, datetime]
    analysis_period: tuple[datetime, datetime]
    additive: bool
    evidence: str
    delta: float
    trail: StepTrail

    @property
    def onset(self) -> datetime:
        return self.analysis_period[0]


def step_levels(inv: Investigation, anomaly: AnomalyWindow) -> Levels:
    """Metric over the baseline and the anomaly window, computed exactly in the warehouse."""
    mark = inv.mark()
    m = inv.metric
    onset = min(anomaly.onset, anomaly.start)
    first = pd.Timestamp(anomaly.series["bucket"].iloc[0]).to_pydatetime()
    b_start = max(first, onset - BASELINE_SPAN)
    if b_start >= onset:
        raise InputError(f"metric {m.name} has no data before the anomaly onset {onset.isoformat()}: no baseline")
    periods = [("anomaly", anomaly.start, anomaly.end), ("baseline", b_start, onset),
               ("analysis", onset, anomaly.end)]
    frame = inv.sql(metric_cells(m, dialect=inv.dialect, periods=periods, filters=inv.incident.filters),
                    f"{m.name}: baseline vs anomaly window")
    vals = {r["period"]: float(r["value"]) if pd.notna(r["value"]) else None for _, r in frame.iterrows()}
    base, obs = vals.get("baseline"), vals.get("anomaly")
    if obs is None or base is None:
        raise InputError(f"metric {m.name} has no rows in the baseline or the anomaly window")
    additive = is_additive(m, inv.dialect)
    if additive:
        buckets_b = (onset - b_start) / GRAIN_DELTA[inv.grain]
        buckets_a = (anomaly.end - anomaly.start) / GRAIN_DELTA[inv.grain]
        base, obs = base / max(buckets_b, 1), obs / max(buckets_a, 1)
    return Levels(baseline=base, observed=obs, baseline_period=(b_start, onset), analysis_period=(onset, anomaly.end),
                  additive=additive, evidence=frame.attrs["evidence"], delta=obs - base, trail=inv.trail(mark))
