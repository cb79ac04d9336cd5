"""The report (spec section 5) and its evidence items; the API, the CLI view and the narrative render it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

EvidenceKind = Literal["sql", "anomaly", "segments", "causal_estimate", "experiment_estimate",
                       "upstream_attribution", "confinement", "twin_order", "impact", "retrieval", "ranking", "note",
                       "agent_trace"]


class Evidence(BaseModel):
    """One citable fact: a query as run, an estimate with its method, a retrieval; ids are E1, E2, ..."""

    id: str
    kind: EvidenceKind
    title: str
    sql: str | None = None
    method: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class AnomalyOut(BaseModel):
    start: str
    end: str
    baseline: float | None
    observed: float | None
    onset: str | None = None
    direction: Literal["up", "down"] = "up"
    window_source: Literal["incident", "detected"] = "detected"
    evidence: list[str] = Field(default_factory=list)


class RootCauseOut(BaseModel):
    rank: int
    kind: Literal["change", "experiment", "upstream", "segment"]
    id: str
    title: str
    effect: float | None = None
    ci: list[float] | None = None
    p_value: float | None = None
    refutations: dict[str, bool] = Field(default_factory=dict)
    score: float
    explained_share: float | None = None
    timing: str | None = None
    reasons: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)


class SegmentOut(BaseModel):
    dimensions: dict[str, Any]
    share_of_change: float
    baseline: float | None = None
    observed: float | None = None
    population_share: float | None = None
    surprise: float | None = None


class ImpactOut(BaseModel):
    affected_units: int | None
    reach: str | None = None
    evidence: list[str] = Field(default_factory=list)


class SimilarOut(BaseModel):
    id: str
    score: float
    title: str | None = None
    root_cause_kind: str | None = None
    root_cause_summary: str | None = None


class Finding(BaseModel):
    """A question-driven finding the agent added: only with its own evidence (a query it ran)."""

    title: str
    sql: str | None = None
    evidence: list[str] = Field(default_factory=list)


class Report(BaseModel):
    """The spec's JSON plus optional keys (onset, reasons, limitations) that the spec allows."""

    incident_id: str
    metric: str
    anomaly: AnomalyOut
    root_causes: list[RootCauseOut]
    segments: list[SegmentOut]
    impact: ImpactOut
    similar_incidents: list[SimilarOut]
    evidence: list[Evidence]
    narrative: str
    limitations: list[str] = Field(default_factory=list)
    elapsed_ms: float | None = None
    findings: list[Finding] = Field(default_factory=list)
    narrative_source: Literal["template", "model", "model_repaired"] = "template"


class EvidenceLog:
    """Hands out evidence ids in order so every number in the report can cite one."""

    def __init__(self) -> None:
        self.items: list[Evidence] = []

    def add(self, kind: EvidenceKind, title: str, *, sql: str | None = None, method: str | None = None,
            **data: Any) -> str:
        eid = f"E{len(self.items) + 1}"
        self.items.append(Evidence(id=eid, kind=kind, title=title, sql=sql, method=method, data=data))
        return eid
