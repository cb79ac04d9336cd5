"""Which dimension values explain a metric's change (single dimensions and pairs).

Adtributor-style: explanatory power (the share of the overall change a segment accounts for) and surprise
(Jensen-Shannon divergence between the segment's share of the metric before and during the anomaly).
Segments are ranked by *excess* explanatory power, share_of_change - population_share: a segment that
explains 95% of the change with 10% of the traffic is more specific than a parent that explains the same
95% with 33% of it, and a change spread evenly over everyone gives every segment an excess near zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from pydantic import BaseModel


class SegmentScore(BaseModel):
    dimensions: dict[str, str]
    share_of_change: float
    population_share: float
    excess: float
    surprise: float
    baseline: float | None
    observed: float | None
    rows_baseline: int
    rows_anomaly: int

    @property
    def key(self) -> str:
        """``dim=value[,dim=value]`` sorted by dimension: the spec's id for a segment root cause."""
        return ",".join(f"{d}={v}" for d, v in sorted(self.dimensions.items()))


BEYOND_WHOLE = 1.2  # a share of the change past this is not "most of it": the rest moved the other way


def share_phrase(share_of_change: float, population_share: float) -> str:
    """How a segment's share of the change reads: "explains 80% of the change with 10% of the rows". A share far
    beyond 100% (the whole barely moved while the segment did: 6055% in a quiet series) says the rest of the
    population moved the other way, and the sentence says so instead of leaving a bare 6055%."""
    rows = f"with {population_share:.0%} of the rows"
    if share_of_change > BEYOND_WHOLE:
        return (f"moved more than the whole population did ({share_of_change:.0%} of its change: the rest moved the "
                f"other way), {rows}")
    return f"explains {share_of_change:.0%} of the change {rows}"


def _js(p: float, q: float) -> float:
    """Adtributor's per-element Jensen-Shannon surprise."""
    m = (p + q) / 2
    out = 0.0
    for x in (p, q):
        if x > 0 and m > 0:
            out += 0.5 * x * np.log(x / m)
    return float(out)


def dimension_sets(dimensions: Sequence[str], *, pairs: bool = True) -> list[tuple[str, ...]]:
    sets: list[tuple[str, ...]] = [(d,) for d in dimensions]
    if pairs:
        sets.extend(combinations(dimensions, 2))
    return sets


def score_segments(cells: pd.DataFrame, dims: tuple[str, ...], *, baseline: float, observed: float,
                   additive: bool, len_baseline: float = 1.0, len_anomaly: float = 1.0) -> list[SegmentScore]:
    """Score every value combination of ``dims`` from a ``period, dims..., value, n`` frame."""
    if cells.empty:
        return []
    frame = cells.copy()
    for d in dims:
        frame[d] = frame[d].astype(str)
    pivot = frame.pivot_table(index=list(dims), columns="period", values=["value", "n"], aggfunc="sum")
    delta = observed - baseline
    if additive:
        delta = observed / len_anomaly - baseline / len_baseline
    n_a_total = frame.loc[frame["period"] == "anomaly", "n"].sum()
    n_b_total = frame.loc[frame["period"] == "baseline", "n"].sum()
    out: list[SegmentScore] = []
    for key, row in pivot.iterrows():
        key_t = key if isinstance(key, tuple) else (key,)
        v_b = row.get(("value", "baseline"), np.nan)
        v_a = row.get(("value", "anomaly"), np.nan)
        n_b = row.get(("n", "baseline"), 0.0)
        n_a = row.get(("n", "anomaly"), 0.0)
        n_b = 0.0 if pd.isna(n_b) else float(n_b)
        n_a = 0.0 if pd.isna(n_a) else float(n_a)
        if additive:
            a = 0.0 if pd.isna(v_a) else float(v_a)
            b = 0.0 if pd.isna(v_b) else float(v_b)
            contribution = a / len_anomaly - b / len_baseline
            pop = b / baseline if baseline else (a / observed if observed else 0.0)
            p = b / baseline if baseline else 0.0
            q = a / observed if observed else 0.0
        else:
            if pd.isna(v_a) or n_a == 0:
                continue
            b = baseline if pd.isna(v_b) else float(v_b)
            s_a = n_a / n_a_total if n_a_total else 0.0
            s_b = n_b / n_b_total if n_b_total else 0.0
            contribution = s_a * (float(v_a) - b)
            pop = s_a
            p = s_b * b / baseline if baseline else s_b
            q = s_a * float(v_a) / observed if observed else s_a
        share = contribution / delta if delta else 0.0
        out.append(SegmentScore(
            dimensions=dict(zip(dims, key_t, strict=True)), share_of_change=float(share),
            population_share=float(pop), excess=float(share - pop), surprise=_js(p, q),
            baseline=None if pd.isna(v_b) else float(v_b), observed=None if pd.isna(v_a) else float(v_a),
            rows_baseline=int(n_b), rows_anomaly=int(n_a)))
    return out


def rank_segments(scored: list[SegmentScore], *, top: int = 10) -> list[SegmentScore]:
    """Best first by excess explanatory power, then surprise; only segments moving with the change."""
    moving = [s for s in scored if s.share_of_change > 0.05]
    moving.sort(key=lambda s: (round(s.excess, 6), s.surprise), reverse=True)
    return moving[:top]
