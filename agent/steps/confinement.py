"""Step: did the rest of a wider change's scope move? Changes reaching beyond the moving population are checked."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from agent.report import ConfinementData
from agent.state import Candidate, Investigation, StepTrail
from agent.steps.levels import Levels
from tools.confinement import confinement
from tools.metric_sql import metric_cells, numeric_values
from tools.ranking import CONFINE_MIN, CONFINED, MOVED_EXCESS
from tools.segments import SegmentScore


@dataclass
class Confined:
    """One change's check: its evidence item, and when confined the reason it is scored down."""

    evidence_id: str
    reason: str | None  # None: the rest of its scope moved too (not confined)


@dataclass
class ConfinementOut:
    checks: dict[str, Confined] = field(default_factory=dict)  # change id -> its check
    trail: StepTrail = field(default_factory=StepTrail)

    def applied(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates with each check's evidence cited and confined changes' specificity at ``CONFINED``."""
        out = []
        for c in candidates:
            check = self.checks.get(c.id) if c.kind == "change" else None
            if check is None:
                out.append(c)
            elif check.reason is None:
                out.append(c.revised(evidence=[check.evidence_id]))
            else:
                reasons = [*c.reasons[:1], check.reason, *c.reasons[1:]]
                out.append(c.revised(reasons=reasons, evidence=[check.evidence_id], specificity=CONFINED))
        return out


def moving_population(inv: Investigation, top_segment: SegmentScore | None) -> dict[str, str] | None:
    """Where the movement is: the responder's filter when there is one, else the top segment if it moved beyond
    its share of the rows (the confinement test then asks whether that movement is clear)."""
    if inv.incident.filters:  # `check_filters` made them dimensions
        return {d: str(v) for d, v in inv.incident.filters.items()}
    if top_segment is not None and top_segment.excess > MOVED_EXCESS:
        return dict(top_segment.dimensions)
    return None


def step_confinement(inv: Investigation, levels: Levels, candidates: list[Candidate], moving: dict[str, str] | None,
                     sign: float) -> ConfinementOut:
    """Check the changes whose scope reached beyond the moving population: did the rest of it stay flat?

    Inside the moving population a wider change has no untreated comparison; the rest of its scope is one.
    """
    mark = inv.mark()
    out = ConfinementOut()
    if not moving or levels.additive:
        return out
    frames: dict[tuple, pd.DataFrame] = {}
    for c in candidates:
        if c.kind != "change" or c.reach is None or c.score < CONFINE_MIN:
            continue
        reach = {d: str(v) for d, v in c.reach.items()}
        wider = [d for d in moving if d not in reach]
        if any(d in moving and moving[d] != v for d, v in reach.items()) or not wider:
            continue
        key = (tuple(sorted(reach.items())), tuple(wider))
        scope = ", ".join(f"{d}={v}" for d, v in key[0]) or "all"
        if key not in frames:
            frames[key] = _scope_cells(inv, levels, reach, wider, scope)
        frame = frames[key]
        inside = {d: moving[d] for d in wider}
        found = confinement(frame, inside, sign)
        if found is None:
            continue
        eid = inv.evidence.add(f"Did the rest of {c.id}'s scope move?", ConfinementData(
            sql_evidence=frame.attrs.get("evidence"), change=c.id, inside=inside, confined=found.confined,
            z=round(found.z, 2), detail=found.detail),
            method="log lift, anomaly vs baseline period, of the moving part of the change's scope against the "
                   "rest of it (binomial errors on the log scale)")
        where = ",".join(f"{d}={v}" for d, v in sorted(inside.items()))
        out.checks[c.id] = Confined(evidence_id=eid, reason=(
            f"its scope ({scope}) reached beyond {where}, and only {where} moved ({found.detail}): it is the cause "
            f"only if its effect stayed inside {where}") if found.confined else None)
    out.trail = inv.trail(mark)
    return out


def _scope_cells(inv: Investigation, levels: Levels, reach: dict[str, str], wider: list[str], scope: str
                 ) -> pd.DataFrame:
    """The change's scope split by the dimensions it reaches beyond the moving population, baseline vs anomaly."""
    m = inv.metric
    periods = [("baseline", *levels.baseline_period), ("anomaly", *levels.analysis_period)]
    frame = inv.sql(metric_cells(m, dialect=inv.dialect, periods=periods, group_by=wider, filters=reach),
                    f"{m.name} by {', '.join(wider)} across {scope} (the moving part against the rest "
                    "of the change's scope): baseline vs anomaly")
    numeric_values(frame)
    return frame.dropna(subset=["value"])
