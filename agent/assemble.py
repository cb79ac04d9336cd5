"""The report (spec section 5) assembled from the plan's outputs; the narrative is rendered from it."""

from __future__ import annotations

from agent.narrative import render_narrative
from agent.report import AnomalyOut, EvidenceLog, ImpactOut, Report, RootCauseOut, SegmentOut, SimilarOut
from agent.state import Candidate
from agent.steps.levels import Levels
from agent.steps.segments import SegmentsOut
from tools.anomaly import AnomalyWindow

REPORTED_SEGMENTS = 5


def root_cause_rows(candidates: list[Candidate], rank_evidence: str) -> list[RootCauseOut]:
    """Every candidate considered, best first, each citing its own evidence and the ranking."""
    return [RootCauseOut(rank=i + 1, kind=c.kind, id=c.id, title=c.title, effect=c.effect,
                         ci=list(c.ci) if c.ci else None, p_value=c.p_value, refutations=c.refutations,
                         score=round(c.score, 4),
                         explained_share=round(c.features.explained, 4) if c.fixed_score is None else None,
                         timing=c.timing, reasons=c.reasons, evidence=c.evidence + [rank_evidence])
            for i, c in enumerate(candidates)]


def assemble_report(*, incident_id: str, metric: str, anomaly: AnomalyWindow, levels: Levels, anomaly_evidence: str,
                    candidates: list[Candidate], rank_evidence: str, segments: SegmentsOut, impact: ImpactOut,
                    similar: list[SimilarOut], similar_evidence: str | None, evidence: EvidenceLog,
                    limitations: list[str]) -> Report:
    """The spec's report plus its narrative (every number in it cites an evidence id)."""
    report = Report(
        incident_id=incident_id, metric=metric,
        anomaly=AnomalyOut(start=anomaly.start.isoformat(), end=anomaly.end.isoformat(),
                           onset=levels.onset.isoformat(), baseline=levels.baseline, observed=levels.observed,
                           direction=anomaly.direction, window_source=anomaly.source,
                           evidence=[anomaly_evidence]),
        root_causes=root_cause_rows(candidates, rank_evidence),
        segments=[SegmentOut(dimensions=s.dimensions, share_of_change=round(s.share_of_change, 4),
                             baseline=s.baseline, observed=s.observed, population_share=round(s.population_share, 4),
                             surprise=round(s.surprise, 5)) for s in segments.segments[:REPORTED_SEGMENTS]],
        impact=impact, similar_incidents=similar, evidence=evidence.items, narrative="", limitations=limitations)
    report.narrative = render_narrative(report, segments_evidence=segments.evidence_id,
                                        similar_evidence=similar_evidence)
    return report
