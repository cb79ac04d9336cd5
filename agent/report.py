"""The report (spec section 5) and its evidence items; the API, the CLI view and the narrative render it."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, TypeAdapter, model_serializer


class Payload(BaseModel):
    """The data of one evidence item, typed per kind; it dumps only the keys that were set (as the spec's
    free-form ``"...": "..."`` allows) and reads like the mapping it replaced (``e.data["z"]``)."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str]

    @model_serializer(mode="wrap")
    def _set_keys_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}

    def __getitem__(self, key: str) -> Any:
        if key in (self.model_extra or {}):
            return (self.model_extra or {})[key]
        if key not in type(self).model_fields or key not in self.model_fields_set:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class SqlData(Payload):
    kind = "sql"
    rows: int
    elapsed_ms: float
    truncated: bool
    columns: list[str] | None = None        # an agent's own query: its columns and (redacted) first rows
    sample: list[list[Any]] | None = None


class AnomalyData(Payload):
    kind = "anomaly"
    start: str
    end: str
    onset: str
    window_source: str
    direction: str
    direction_from: str | None = None
    score: float | None = None
    peak_z: float | None = None
    found: bool
    baseline: float | None = None
    observed: float | None = None
    baseline_period: list[str] | None = None
    series_sql: str | None = None
    levels_sql: str | None = None


class SegmentsData(Payload):
    kind = "segments"
    sql_evidence: str
    baseline_period: list[str]
    anomaly_period: list[str]
    segments: list[dict[str, Any]]


class CausalEstimateData(Payload):
    kind = "causal_estimate"
    change: dict[str, Any]
    effect: float
    ci: list[float]
    p_value: float
    design: str
    cells: int
    treated_cells: int
    exposure: float
    adjusted_for: list[str]
    refutations: list[dict[str, Any]]
    explained_share: float
    timing_fit: float
    panel_sql: str | None
    lead_support: dict[str, Any] | None


class ExperimentEstimateData(Payload):
    kind = "experiment_estimate"
    experiment_id: str
    arm: str
    control: str
    effect: float
    ci: list[float]
    p_value: float
    arms: list[dict[str, Any]]
    exposure: float
    explained_share: float
    started: str
    randomized: bool
    sql_evidence: str


class UpstreamData(Payload):
    kind = "upstream_attribution"
    scores: list[dict[str, Any]]
    notes: list[str]
    elapsed_ms: float


class ConfinementData(Payload):
    kind = "confinement"
    sql_evidence: str | None
    change: str
    inside: dict[str, str]
    confined: bool
    z: float
    detail: str


class TwinOrderData(Payload):
    kind = "twin_order"
    sql_evidence: str
    earlier: str
    later: str
    p_earlier: float
    before: float
    between: float
    after: float
    rows_between: int
    detail: str


class ImpactData(Payload):
    kind = "impact"
    sql_evidence: str
    affected_units: int
    reach: str
    window: list[str]
    affected_when: str | None


class RetrievalData(Payload):
    kind = "retrieval"
    query: str
    results: list[dict[str, Any]]


class RankingData(Payload):
    kind = "ranking"
    scores: dict[str, float]


class ErrorData(Payload):
    """A candidate whose analysis raised: the step, the candidate and the error's first line."""

    kind = "error"
    step: str
    candidate: str
    error: str
    message: str


class NoteData(Payload):
    kind = "note"
    text: str


class ChartData(Payload):
    kind = "chart"
    artifact: str
    filters: dict[str, Any] | None = None


class AgentTraceData(Payload):
    """The LLM loop's whole trace (tool calls and results, tokens, latency), kept as evidence."""

    model_config = ConfigDict(extra="allow")
    kind = "agent_trace"


class _EvidenceBase(BaseModel):
    """One citable fact: a query as run, an estimate with its method, a retrieval; ids are E1, E2, ..."""

    id: str
    title: str
    sql: str | None = None
    method: str | None = None

    @model_serializer(mode="wrap")
    def _spec_order(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        return {k: out[k] for k in ("id", "kind", "title", "sql", "method", "data") if k in out}


class SqlEvidence(_EvidenceBase):
    kind: Literal["sql"] = "sql"
    data: SqlData


class AnomalyEvidence(_EvidenceBase):
    kind: Literal["anomaly"] = "anomaly"
    data: AnomalyData


class SegmentsEvidence(_EvidenceBase):
    kind: Literal["segments"] = "segments"
    data: SegmentsData


class CausalEstimateEvidence(_EvidenceBase):
    kind: Literal["causal_estimate"] = "causal_estimate"
    data: CausalEstimateData


class ExperimentEstimateEvidence(_EvidenceBase):
    kind: Literal["experiment_estimate"] = "experiment_estimate"
    data: ExperimentEstimateData


class UpstreamEvidence(_EvidenceBase):
    kind: Literal["upstream_attribution"] = "upstream_attribution"
    data: UpstreamData


class ConfinementEvidence(_EvidenceBase):
    kind: Literal["confinement"] = "confinement"
    data: ConfinementData


class TwinOrderEvidence(_EvidenceBase):
    kind: Literal["twin_order"] = "twin_order"
    data: TwinOrderData


class ImpactEvidence(_EvidenceBase):
    kind: Literal["impact"] = "impact"
    data: ImpactData


class RetrievalEvidence(_EvidenceBase):
    kind: Literal["retrieval"] = "retrieval"
    data: RetrievalData


class RankingEvidence(_EvidenceBase):
    kind: Literal["ranking"] = "ranking"
    data: RankingData


class ErrorEvidence(_EvidenceBase):
    kind: Literal["error"] = "error"
    data: ErrorData


class NoteEvidence(_EvidenceBase):
    kind: Literal["note"] = "note"
    data: NoteData


class ChartEvidence(_EvidenceBase):
    kind: Literal["chart"] = "chart"
    data: ChartData


class AgentTraceEvidence(_EvidenceBase):
    kind: Literal["agent_trace"] = "agent_trace"
    data: AgentTraceData


Evidence = Annotated[
    SqlEvidence | AnomalyEvidence | SegmentsEvidence | CausalEstimateEvidence | ExperimentEstimateEvidence
    | UpstreamEvidence | ConfinementEvidence | TwinOrderEvidence | ImpactEvidence | RetrievalEvidence
    | RankingEvidence | ErrorEvidence | NoteEvidence | ChartEvidence | AgentTraceEvidence,
    Field(discriminator="kind")]
_EVIDENCE: dict[str, type[_EvidenceBase]] = {
    cls.model_fields["kind"].default: cls for cls in _EvidenceBase.__subclasses__()}
_PARSE_EVIDENCE: TypeAdapter[Evidence] = TypeAdapter(Evidence)


def make_evidence(eid: str, title: str, data: Payload, *, sql: str | None = None,
                  method: str | None = None) -> Evidence:
    """One evidence item of its payload's kind (the engine's log and the agent's own items alike)."""
    return _EVIDENCE[data.kind](id=eid, title=title, sql=sql, method=method, data=data)  # type: ignore[return-value]


def parse_evidence(raw: Any) -> Evidence:
    """An evidence item read back from JSON (a chat session, a stored report)."""
    return _PARSE_EVIDENCE.validate_python(raw)


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

    def add(self, title: str, data: Payload, *, sql: str | None = None, method: str | None = None) -> str:
        """Record one item (its kind is its payload's) and return its id."""
        eid = f"E{len(self.items) + 1}"
        self.items.append(make_evidence(eid, title, data, sql=sql, method=method))
        return eid
