"""Step: which segments explain the change (single dimensions and pairs), and the responder's filter against all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from agent.report import SegmentsData
from agent.state import Investigation, StepTrail
from agent.steps.levels import Levels
from tools.anomaly import GRAIN_DELTA
from tools.metric_sql import metric_cells, numeric_values
from tools.ranking import MOVED_EXCESS
from tools.segments import SegmentScore, dimension_sets, rank_segments, score_segments

FILTER_LEADS_BELOW = 0.15  # inside the responder's filter, a top segment with less excess than this says nothing
Periods = list[tuple[str, datetime, datetime]]


@dataclass
class SegmentsOut:
    """Segments best first (the responder's whole filtered population first when it is the answer)."""

    segments: list[SegmentScore]
    population: SegmentScore | None  # the responder's filtered population scored against everyone
    evidence_id: str | None
    trail: StepTrail

    @property
    def top(self) -> SegmentScore | None:
        return self.segments[0] if self.segments else None


def step_segments(inv: Investigation, levels: Levels) -> SegmentsOut:
    """Single dimensions and pairs, scored by excess explanatory power and surprise."""
    mark = inv.mark()
    m = inv.metric
    dims = [d for d in m.dimensions if d not in inv.incident.filters]
    if not dims:
        return SegmentsOut(segments=[], population=None, evidence_id=None, trail=inv.trail(mark))
    periods: Periods = [("baseline", *levels.baseline_period), ("anomaly", *levels.analysis_period)]
    frame = inv.sql(metric_cells(m, dialect=inv.dialect, periods=periods, group_by=dims,
                                 filters=inv.incident.filters), f"{m.name} by {', '.join(dims)}: baseline vs anomaly")
    numeric_values(frame)
    tot, base, obs = period_levels(frame, levels.additive)  # overall, over the same periods (analysis from onset)
    len_b, len_a = _lengths(levels, inv.grain)
    scored: list[SegmentScore] = []
    for ds in dimension_sets(dims, pairs=len(dims) > 1):
        cells = frame.groupby(["period", *ds], dropna=False).apply(
            lambda g: pd.Series({"value": (g["value"] * g["n"]).sum() / g["n"].sum() if not levels.additive
                                 else g["value"].sum(), "n": g["n"].sum()}), include_groups=False).reset_index()
        scored.extend(score_segments(cells, tuple(ds), baseline=base, observed=obs, additive=levels.additive,
                                     len_baseline=len_b, len_anomaly=len_a))
    ranked = rank_segments(scored)
    population = _filtered_population(inv, levels, periods) if inv.incident.filters else None
    if inv.incident.filters and (not ranked or ranked[0].excess < FILTER_LEADS_BELOW
                                 or population_leads(population, ranked)):
        whole = population or SegmentScore(
            dimensions={k: str(v) for k, v in inv.incident.filters.items()}, share_of_change=1.0,
            population_share=1.0, excess=0.0, surprise=0.0, baseline=base, observed=obs,
            rows_baseline=int(tot.loc["baseline", "n"]) if "baseline" in tot.index else 0,
            rows_anomaly=int(tot.loc["anomaly", "n"]) if "anomaly" in tot.index else 0)
        ranked = [whole, *ranked]
    eid = inv.evidence.add("Segments that explain the change", SegmentsData(
        sql_evidence=frame.attrs["evidence"], baseline_period=[p.isoformat() for p in levels.baseline_period],
        anomaly_period=[p.isoformat() for p in levels.analysis_period],
        segments=[s.model_dump() for s in ranked[:5]]),
        method="Adtributor-style explanatory power and surprise over single dimensions and pairs; ranked by "
               "share_of_change - population_share")
    return SegmentsOut(segments=ranked, population=population, evidence_id=eid, trail=inv.trail(mark))


def _lengths(levels: Levels, grain: str) -> tuple[float, float]:
    """The baseline and analysis periods in buckets."""
    step = GRAIN_DELTA[grain]
    return ((levels.baseline_period[1] - levels.baseline_period[0]) / step,
            (levels.analysis_period[1] - levels.analysis_period[0]) / step)


def period_levels(frame: pd.DataFrame, additive: bool) -> tuple[pd.DataFrame, float, float]:
    """Per-period totals of a ``period, ..., value, n`` cells frame, and the baseline and anomaly levels."""
    tot = frame.assign(vn=frame["value"] * frame["n"]).groupby("period")[["vn", "n", "value"]].sum()

    def level(period: str) -> float:
        if period not in tot.index:
            return 0.0
        row = tot.loc[period]
        return float(row["value"]) if additive else float(row["vn"] / row["n"])

    return tot, level("baseline"), level("anomaly")


def _filtered_population(inv: Investigation, levels: Levels, periods: Periods) -> SegmentScore | None:
    """The responder's filtered population scored against everyone: did it move more than the rest?

    Inside the filter it explains all of the change by construction; only the unfiltered comparison says
    whether the shift is specific to it (an external event in one region) or everywhere.
    """
    m = inv.metric
    dims = tuple(d for d in inv.incident.filters if d in m.dimensions)
    if not dims:
        return None
    frame = inv.sql(metric_cells(m, dialect=inv.dialect, periods=periods, group_by=list(dims)),
                    f"{m.name} by {', '.join(dims)} (all of them, not only the incident's filter): baseline vs "
                    "anomaly")
    numeric_values(frame)
    tot, base, obs = period_levels(frame, levels.additive)
    if not {"baseline", "anomaly"} <= set(tot.index):
        return None
    wanted = {d: str(inv.incident.filters[d]) for d in dims}
    len_b, len_a = _lengths(levels, inv.grain)
    scored = score_segments(frame, dims, baseline=base, observed=obs, additive=levels.additive,
                            len_baseline=len_b, len_anomaly=len_a)
    return next((sc for sc in scored if sc.dimensions == wanted), None)


def population_leads(whole: SegmentScore | None, inside: list[SegmentScore]) -> bool:
    """The filtered population is the most specific answer: it moved beyond its share of everyone's rows (excess
    > 0.2) and no segment inside it carries that movement (the same rule as for any segment and its parts)."""
    return (whole is not None and whole.excess > MOVED_EXCESS
            and moving_part(whole, [rescaled(s, whole) for s in inside]) is None)


def moving_part(s: SegmentScore, segments: list[SegmentScore]) -> SegmentScore | None:
    """A listed sub-segment of `s` that carries its movement: the rest of `s` shows no excess of its own.

    Adtributor keeps the most specific explanation: android explaining 95% of a change with 46% of the rows
    loses to android+LATAM explaining 87% with 7%, since android outside LATAM explains 8% with 39%.
    """
    for c in segments:
        if len(c.dimensions) <= len(s.dimensions) or any(c.dimensions.get(d) != v for d, v in s.dimensions.items()):
            continue
        rest_excess = (s.share_of_change - c.share_of_change) - (s.population_share - c.population_share)
        if c.share_of_change > 0.5 * s.share_of_change and rest_excess <= 0.05:
            return c
    return None


def rescaled(sub: SegmentScore, whole: SegmentScore) -> SegmentScore:
    """A segment scored inside the responder's filter, as a part of the filter scored against everyone."""
    share = sub.share_of_change * whole.share_of_change
    pop = sub.population_share * whole.population_share
    return sub.model_copy(update={"dimensions": {**whole.dimensions, **sub.dimensions}, "share_of_change": share,
                                  "population_share": pop, "excess": share - pop})
