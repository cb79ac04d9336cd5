"""Step: attribute the anomaly to upstream metrics of the catalog's graph with dowhy.gcm."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from agent.report import UpstreamData
from agent.state import Candidate, Investigation, StepTrail
from agent.steps.levels import Levels
from tools.anomaly import GRAIN_DELTA, AnomalyWindow
from tools.metric_sql import metric_cells
from tools.ranking import UPSTREAM_CLEAR, UPSTREAM_DISCOUNT, Features, anomaly_factor


@dataclass
class UpstreamOut:
    candidates: list[Candidate]
    trail: StepTrail

    @property
    def clear(self) -> bool:
        """An upstream metric's shift explains the movement (an alternative to a before/after estimate)."""
        return any(u.score >= UPSTREAM_CLEAR for u in self.candidates)


def daily_phase(index: pd.DatetimeIndex, grain: str) -> np.ndarray | None:
    """Hour of day per bucket when the grain is sub-daily and two days are covered; else no seasons."""
    if grain not in {"minute", "hour"} or len(index) == 0 or index[-1] - index[0] < pd.Timedelta(days=2):
        return None
    return np.asarray(index.hour)


def step_upstream(inv: Investigation, anomaly: AnomalyWindow, levels: Levels) -> UpstreamOut:
    """Attribute the anomaly to upstream metrics of the graph with dowhy.gcm."""
    mark = inv.mark()
    ancestors = inv.catalog.ancestors(inv.metric.name)
    if not ancestors:
        return UpstreamOut(candidates=[], trail=inv.trail(mark))
    from tools.period_shift import attribute_period_shift, is_period_window
    from tools.upstream import attribute_upstream

    nodes = [inv.metric.name, *ancestors]
    series = _node_series(inv, anomaly, nodes)
    mask = (series.index >= pd.Timestamp(levels.onset)) & (series.index < pd.Timestamp(anomaly.end))
    sub = [(u, d) for u, d in inv.catalog.graph if u in nodes and d in nodes]
    direction = 1 if anomaly.direction == "up" else -1
    try:
        # A period-long window (a quarter at day grain) shifted as a whole: attribute the change of
        # distribution against the periods before it; a short window is an outlier to attribute.
        if is_period_window(window_buckets=int(mask.sum()), reference_buckets=int((~mask).sum())):
            result = attribute_period_shift(series=series, graph=sub, target=inv.metric.name, window=mask,
                                            direction=direction)
        else:
            result = attribute_upstream(series=series, graph=sub, target=inv.metric.name, anomaly=mask,
                                        direction=direction, seasons=daily_phase(series.index, inv.grain))
    except ValueError as err:
        inv.limitations.append(f"upstream attribution not possible: {err}")
        return UpstreamOut(candidates=[], trail=inv.trail(mark))
    eid = inv.evidence.add(f"Attribution of {inv.metric.name}'s anomaly to the graph", UpstreamData(
        scores=[s.model_dump() for s in result.scores], notes=result.notes, elapsed_ms=round(result.elapsed_ms, 1)),
        method=result.method)
    parents: dict[str, list[str]] = {}
    for up, down in sub:
        parents.setdefault(down, []).append(up)
    shifted = {s.metric for s in result.scores if s.shifted}
    out = []
    for s in result.scores:
        if s.metric == inv.metric.name:
            continue
        # The attribution's own ranking (``s.score``: gcm contribution gated by the node's own anomaly, with
        # credit passed up to anomalous parents) decides; the traversal below only explains it. Re-ranking
        # roots first was measured: PetShop through the engine fell from 0.81 to 0.65 top-1.
        shifted_parents = [p for p in parents.get(s.metric, []) if p in shifted]
        f = Features(explained=s.share, p_value=s.p_value, anomaly=anomaly_factor(anomaly))
        why = [f"gcm attributes {s.share:.0%} of the anomaly to {s.metric}; its own series moved "
               f"{s.node_z:+.1f} robust z in the window"]
        if s.credit_from:
            why.append(f"the model cannot know what it does to {', '.join(s.credit_from)} "
                       f"({'; '.join(s.credit_from.values())}), so their share passes to it: "
                       f"{s.credit_share:.0%} of the attribution in all")
        if s.shifted and not shifted_parents:
            why.append("it shifted and none of its own upstream metrics did: the shift starts here")
        elif shifted_parents:
            why.append(f"its upstream {', '.join(shifted_parents)} shifted too: likely a mediator")
        out.append(Candidate(kind="upstream", id=s.metric, title=f"upstream metric {s.metric}", features=f,
                             fixed_score=min(max(float(s.score or 0.0), 0.0), 1.0) * f.anomaly,
                             effect=s.contribution, p_value=s.p_value, reasons=why, evidence=[eid]))
    return UpstreamOut(candidates=out, trail=inv.trail(mark))


def _node_series(inv: Investigation, anomaly: AnomalyWindow, nodes: list[str]) -> pd.DataFrame:
    """Every node's series at the catalog grain, one column each, gaps interpolated."""
    from tools.period_shift import reference_start

    first = pd.Timestamp(anomaly.series["bucket"].iloc[0]).to_pydatetime()
    # a period-long window is compared with up to two periods before it
    first = reference_start(first=first, start=anomaly.start, end=anomaly.end, step=GRAIN_DELTA[inv.grain])
    frames = []
    for name in nodes:
        md = inv.catalog.metrics[name]
        filters = {k: v for k, v in inv.incident.filters.items() if k in md.dimensions}
        f = inv.sql(metric_cells(md, dialect=inv.dialect, grain=inv.grain, start=first, end=anomaly.end,
                                 filters=filters), f"{name} per {inv.grain}")
        frames.append(f.set_index(pd.to_datetime(f["bucket"]))["value"].astype(float).rename(name))
    return pd.concat(frames, axis=1).sort_index().interpolate(limit_direction="both")


def without_comparison_discounted(candidates: list[Candidate], upstream: UpstreamOut) -> list[Candidate]:
    """When an upstream shift explains the movement, before/after change estimates (no untreated comparison)
    lose ``UPSTREAM_DISCOUNT`` of their design factor: the same movement has a better-evidenced explanation."""
    if not upstream.clear:
        return candidates
    return [c.revised(design=c.features.design * UPSTREAM_DISCOUNT, reasons=[
        *c.reasons, "before/after estimate without an untreated comparison, and an upstream metric shift explains "
                    "the same movement"]) if c.kind == "change" and c.features.design < 1.0 else c
        for c in candidates]
