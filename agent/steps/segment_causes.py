"""Step: the top segments as causes of their own, what is left when no change, experiment or node fits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.state import Candidate, Investigation, StepTrail
from agent.steps.segments import SegmentsOut, moving_part, rescaled
from tools.anomaly import AnomalyWindow
from tools.ranking import (
    EXPLAINED_SEGMENT,
    FITTING_CHANGE_P,
    FITTING_CHANGE_SHARE,
    Features,
    anomaly_factor,
    scope_moved_before,
    segment_significance,
    segment_strength,
)
from tools.segments import SegmentScore, share_phrase

NOTHING_ELSE_BELOW = 0.3  # the best other candidate scored below this: say nothing else explains the movement


@dataclass
class SegmentCausesOut:
    candidates: list[Candidate]
    trail: StepTrail


def change_that_fits(s: SegmentScore, others: list[Candidate], onset: datetime) -> Candidate | None:
    """A change reaching the segment whose own evidence holds: clear effect, clean pre-trend, landed first.

    A segment is the cause only when nothing in the change log explains its movement; a loose timing fit
    (an onset detected hours late on a sparse series) does not make such a change irrelevant. A change that
    reached beyond the segment while only the segment moved (confined) does not explain it specifically.
    """
    for c in others:
        if c.kind != "change" or c.at is None or c.reach is None or c.p_value is None:
            continue
        reaches = all(s.dimensions.get(d, str(v)) == str(v) for d, v in c.reach.items())
        if (reaches and c.p_value < FITTING_CHANGE_P and c.features.explained >= FITTING_CHANGE_SHARE
                and c.at <= onset and c.refutations.get("pre_trend") is True
                and not scope_moved_before(c.refutations) and c.features.specificity == 1.0):
            return c
    return None


def step_segment_causes(inv: Investigation, segments: SegmentsOut, anomaly: AnomalyWindow, others: list[Candidate]
                        ) -> SegmentCausesOut:
    """The top segments as causes of their own: what is left when no change, experiment or node fits."""
    mark = inv.mark()
    out = []
    best_other = max((c.score for c in others), default=0.0)
    whole = segments.population
    listed = segments.segments
    inside = [s for s in listed if whole is None or s.dimensions != whole.dimensions]
    pool = [(s, [rescaled(x, s) for x in inside] if s is whole else listed) for s in listed[:3]]
    if whole is not None and all(s is not whole for s in listed[:3]):
        # The responder's filter is a candidate of its own: against everyone, it may be all that moved.
        pool.append((whole, [rescaled(x, whole) for x in inside]))
    for s, parts in pool:
        strength = segment_strength(s)
        reasons = [f"{s.key} {share_phrase(s.share_of_change, s.population_share)}"
                   + (" (against everyone, not only the incident's filter)" if s is whole else "")]
        part = moving_part(s, parts)
        if part is not None:
            strength *= EXPLAINED_SEGMENT
            reasons.append(f"its part {part.key} explains {part.share_of_change:.0%} of the change; the rest of "
                           f"{s.key} moved no more than its share of the rows")
        change = change_that_fits(s, others, anomaly.onset)
        if change is not None:
            strength *= EXPLAINED_SEGMENT
            reasons.append(f"{change.id} reaches it, landed before the onset and its scope was not moving before "
                           f"it (p={change.p_value:.2g}): the segment is where that change acted, not a cause "
                           "of its own")
        score = strength * segment_significance(s) * (1.0 - best_other) * anomaly_factor(anomaly)
        if best_other < NOTHING_ELSE_BELOW:
            reasons.append("no change, experiment or upstream metric explains the movement")
        out.append(Candidate(kind="segment", id=s.key, title=f"segment {s.key}", features=Features(),
                             fixed_score=score, effect=(s.observed or 0) - (s.baseline or 0), reasons=reasons,
                             evidence=[segments.evidence_id] if segments.evidence_id else [],
                             reach=dict(s.dimensions)))
    return SegmentCausesOut(candidates=out, trail=inv.trail(mark))
