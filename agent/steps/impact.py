"""Step: distinct units in the window inside the top cause's reach (never the ids)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.report import ImpactData, ImpactOut
from agent.state import Candidate, Investigation, StepTrail
from tools.anomaly import AnomalyWindow
from tools.impact import impact_query


@dataclass
class ImpactStepOut:
    impact: ImpactOut
    trail: StepTrail


def step_impact(inv: Investigation, top: Candidate | None, anomaly: AnomalyWindow) -> ImpactStepOut:
    """Distinct units in the window inside the top cause's reach (never the ids)."""
    mark = inv.mark()
    m = inv.metric
    if not m.unit:
        return ImpactStepOut(impact=ImpactOut(affected_units=None, reach="metric has no unit: no impact sizing"),
                             trail=inv.trail(mark))
    reach = top.reach if top is not None and top.kind in {"change", "segment"} else None
    experiment = top.experiment if top is not None and top.kind == "experiment" else None
    q = impact_query(metric=m, dialect=inv.dialect, start=anomaly.start, end=anomaly.end, reach=reach,
                     filters=inv.incident.filters, experiment=experiment)
    frame = inv.sql(q, "Affected units")
    n = int(frame["affected_units"].iloc[0] or 0)
    text = ("treatment arm of " + top.id if top is not None and experiment else
            ", ".join(f"{d}={v}" for d, v in sorted((reach or {}).items())) or "all")
    eid = inv.evidence.add("Affected units", ImpactData(
        sql_evidence=frame.attrs["evidence"], affected_units=n, reach=text,
        window=[anomaly.start.isoformat(), anomaly.end.isoformat()], affected_when=m.affected_when))
    return ImpactStepOut(impact=ImpactOut(affected_units=n, reach=text, evidence=[eid, frame.attrs["evidence"]]),
                         trail=inv.trail(mark))
