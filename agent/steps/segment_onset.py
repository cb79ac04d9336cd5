"""Step: the onset measured on the moving segment's own series, where the shift is not diluted by the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from agent.state import Investigation, StepTrail
from tools.anomaly import AnomalyWindow, onset_on
from tools.metric_sql import is_additive, metric_cells, numeric_values
from tools.segments import SegmentScore


@dataclass
class SegmentOnsetOut:
    onset: datetime | None  # None: the segment's own series shows no clearer onset
    trail: StepTrail


def step_segment_onset(inv: Investigation, anomaly: AnomalyWindow, segment: SegmentScore) -> SegmentOnsetOut:
    """Onset measured on the moving segment's own series, where the shift is not diluted by the rest."""
    mark = inv.mark()
    m = inv.metric
    first = pd.Timestamp(anomaly.series["bucket"].iloc[0]).to_pydatetime()
    filters = {**inv.incident.filters, **segment.dimensions}
    frame = inv.sql(metric_cells(m, dialect=inv.dialect, grain=inv.grain, start=first, end=anomaly.end,
                                 filters=filters), f"{m.name} per {inv.grain} in {segment.key}")
    numeric_values(frame)
    sign = 1.0 if anomaly.direction == "up" else -1.0
    lo = min(anomaly.onset, anomaly.start)
    onset = onset_on(frame, grain=inv.grain, start=lo, end=anomaly.end, rate=not is_additive(m, inv.dialect),
                     sign=sign)
    return SegmentOnsetOut(onset=onset, trail=inv.trail(mark))
