"""Step: changes the panel cannot tell apart (same scope, a bucket or two apart): which one started the shift?"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from agent.report import TwinOrderData
from agent.state import Candidate, Investigation, StepTrail
from tools.metric_sql import metric_cells, numeric_values
from tools.ranking import TWIN_RATIO
from tools.twins import twin_order, twin_periods


@dataclass
class TwinShare:
    """P(this change, not its twin, started the shift), read from the rows between the two."""

    change: str
    probability: float
    evidence_id: str
    reason: str


@dataclass
class TwinOrderOut:
    shares: list[TwinShare] = field(default_factory=list)
    trail: StepTrail = field(default_factory=StepTrail)

    @property
    def settled(self) -> set[str]:
        return {s.change for s in self.shares}

    def applied(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates with each settled change's *shared* factor multiplied by its probability."""
        by_id = {c.id: c for c in candidates if c.kind == "change"}
        for s in self.shares:
            c = by_id[s.change]
            by_id[s.change] = c.revised(reasons=[*c.reasons, s.reason], evidence=[s.evidence_id],
                                        shared=c.features.shared * s.probability)
        return [by_id[c.id] if c.kind == "change" else c for c in candidates]


def step_twin_order(inv: Investigation, candidates: list[Candidate], sign: float) -> TwinOrderOut:
    """Changes the panel cannot tell apart: the rows between them say which one started the shift.

    One guarded query per pair (the scope before the earlier change, between the two, after the later one);
    each change carries P(it started the shift) as its *shared* factor.
    """
    mark = inv.mark()
    out = TwinOrderOut()
    by_id = {c.id: c for c in candidates if c.kind == "change" and c.at is not None and c.score > 0}

    def when(cid: str) -> tuple:
        return (by_id[cid].at, cid)

    pairs = {tuple(sorted((c.id, t), key=when)) for c in by_id.values() for t in c.twins
             if t in by_id and by_id[t].at != c.at}
    for a, b in sorted(pairs):
        first, second = by_id[a], by_id[b]
        assert first.at is not None and second.at is not None
        scope = {**inv.incident.filters, **(first.reach or {})}
        cells = inv.sql(metric_cells(inv.metric, dialect=inv.dialect, periods=twin_periods(first.at, second.at),
                                     filters=scope),
                        f"{inv.metric.name} before {a}, between {a} and {b}, after {b}")
        numeric_values(cells)
        order = twin_order(cells, earlier=a, later=b, sign=sign)
        if order is None:
            continue
        eid = inv.evidence.add(f"Which of {a} and {b} started the shift",
                               TwinOrderData(sql_evidence=cells.attrs["evidence"], **order.model_dump()),
                               method="binomial likelihood of the rows between the two changes at the rate "
                                      "before the earlier one vs the rate after the later one")
        for c, p, between in ((first, order.p_earlier, f"it and {b}"), (second, 1.0 - order.p_earlier, f"{a} and it")):
            out.shares.append(TwinShare(change=c.id, probability=p, evidence_id=eid, reason=(
                f"the rows between {between} say it started the shift with probability {p:.0%} ({order.detail})")))
    out.trail = inv.trail(mark)
    return out


def share_twins(candidates: list[Candidate], settled: Collection[str] = ()) -> list[Candidate]:
    """Changes the panel cannot tell apart, scored within TWIN_RATIO of each other, split their evidence.

    Both keep the joint effect (neither is adjusted for the other), so each score says "one of us"; where the
    rows between them could not say which (`step_twin_order` did not settle it), each carries its share
    s / (s + s_twin). The ranking between them is unchanged. Returns new candidates; the inputs are untouched.
    """
    scores = {c.id: c.score for c in candidates if c.kind == "change"}
    out = []
    for c in candidates:
        s = scores.get(c.id, 0.0)
        close = [t for t in c.twins if t in scores and t not in settled and s > 0
                 and min(s, scores[t]) / max(s, scores[t]) >= TWIN_RATIO]
        if c.id in settled or not close:
            out.append(c)
            continue
        other = max(close, key=lambda t: scores[t])
        shared = s / (s + scores[other])
        out.append(c.revised(shared=shared, reasons=[*c.reasons, (
            f"the data cannot tell it from {other} (same scope, a bucket or two apart; scores {s:.2f} and "
            f"{scores[other]:.2f}): the two share the evidence, {shared:.0%} of it here")]))
    return out
