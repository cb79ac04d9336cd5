"""What every step of an investigation shares: the workspace, the incident, the metric and the evidence log.

Steps read this state and append to its two ledgers (evidence, limitations); each returns its own typed
output and never changes another step's output in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sqlglot import exp

from agent.incident import Incident
from agent.report import ErrorData, EvidenceLog, SqlData
from tools.catalog import Catalog, ExperimentSource, MetricDef
from tools.causal import LeadSupport
from tools.ranking import Features
from tools.workspace import Workspace

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    return None


class StepTrail(BaseModel):
    """What a step left behind: the evidence ids it added, the SQL it ran (as run) and the errors it met."""

    evidence: list[str] = Field(default_factory=list)
    queries: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


@dataclass
class Candidate:
    """A scored candidate cause before it becomes a report row."""

    kind: str
    id: str
    title: str
    features: Features
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    refutations: dict[str, bool] = field(default_factory=dict)
    timing: str | None = None
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    reach: dict[str, Any] | None = None
    experiment: tuple[ExperimentSource, str, str] | None = None
    fixed_score: float | None = None
    at: datetime | None = None  # when a change landed
    twins: list[str] = field(default_factory=list)  # changes its estimate cannot tell it from
    lead_support: LeadSupport | None = None  # could the hour before a change have shown an earlier start?

    @property
    def score(self) -> float:
        return self.fixed_score if self.fixed_score is not None else self.features.score()

    def revised(self, *, reasons: list[str] | None = None, evidence: list[str] | None = None,
                **features: float) -> Candidate:
        """A copy with some ranking features changed and reasons / evidence added (the original is untouched)."""
        return replace(self, features=self.features.model_copy(update=features),
                       reasons=list(reasons if reasons is not None else self.reasons),
                       evidence=[*self.evidence, *(evidence or [])])


def rank_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; equal scores (two causes at the within-noise cap) go to the stronger own evidence (lower p).

    p is compared to 12 decimals: twins with the same estimate differ in the 17th digit by the order the
    warehouse summed their cells in, and that must not decide their order (kind and id then do).
    """
    return sorted(candidates, key=lambda c: (-round(c.score, 4), 1.0 if c.features.p_value is None
                                             else round(c.features.p_value, 12), c.kind, c.id))


@dataclass
class Investigation:
    """The state the steps share; `sql` is the one way a step reaches the warehouse."""

    ws: Workspace
    incident: Incident
    metric: MetricDef
    evidence: EvidenceLog
    progress: Progress = no_progress
    limitations: list[str] = field(default_factory=list)

    @property
    def catalog(self) -> Catalog:
        return self.ws.catalog

    @property
    def grain(self) -> str:
        return self.ws.catalog.grain

    @property
    def dialect(self) -> str:
        return self.ws.catalog.dialect

    def sql(self, query: exp.Expression, title: str) -> pd.DataFrame:
        """Guard + run under the engine's own row cap + record as evidence; returns the cells as a frame."""
        result = self.ws.cells(query)
        eid = self.evidence.add(title, SqlData(rows=len(result.rows), elapsed_ms=round(result.elapsed_ms, 1),
                                               truncated=result.truncated), sql=result.sql)
        frame = result.to_frame()
        if "value" in frame.columns:  # a zero denominator is +-inf or NaN in DuckDB: that cell is missing data
            frame["value"] = pd.to_numeric(frame["value"], errors="coerce").replace([np.inf, -np.inf], np.nan)
        frame.attrs["evidence"] = eid
        if result.truncated:
            self.limitations.append(f"{title}: result truncated at {len(result.rows)} rows (RCA_ENGINE_MAX_ROWS); "
                                    "the figures built on it miss the rest")
        return frame

    def mark(self) -> tuple[int, int]:
        """Where the ledgers stand now; `trail(mark)` is what a step added since."""
        return len(self.evidence.items), len(self.limitations)

    def trail(self, mark: tuple[int, int]) -> StepTrail:
        items = self.evidence.items[mark[0]:]
        return StepTrail(evidence=[e.id for e in items], queries=[e.sql for e in items if e.sql],
                         errors=list(self.limitations[mark[1]:]))


def failed_candidate(inv: Investigation, *, step: str, kind: str, id: str, title: str, err: Exception) -> Candidate:
    """A candidate whose analysis raised: recorded (evidence kind ``error``, a limitation), ranked last.

    One candidate's failure must not kill the investigation: the others are still ranked.
    """
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    eid = inv.evidence.add(f"{step} failed for {kind} {id}", ErrorData(step=step, candidate=f"{kind}:{id}",
                                                                     error=type(err).__name__, message=message))
    inv.limitations.append(f"the analysis of {kind} {id} failed in step {step} ({message}) [{eid}]; it is ranked "
                           "with score 0 and the other candidates are ranked without it")
    return Candidate(kind=kind, id=id, title=title, features=Features(), fixed_score=0.0,
                     reasons=[f"its analysis failed in step {step}: {message}"], evidence=[eid])
