"""Data shapes of the incident memory: a past incident (spec section 4), a search hit, an ingest report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class RootCause(BaseModel):
    """What a past incident turned out to be; ``kind`` is free text (history predates the engine's kinds)."""

    model_config = ConfigDict(extra="ignore")

    kind: str = Field(min_length=1)
    id: str | None = None
    summary: str = Field(min_length=1)


class HistoryIncident(BaseModel):
    """One line of ``history.jsonl`` exactly as spec section 4 has it; unknown keys are tolerated."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str
    metric: str | None = None
    opened_at: datetime
    closed_at: datetime | None = None
    severity: str | None = None
    root_cause: RootCause
    postmortem: str | None = None

    @field_validator("opened_at", "closed_at")
    @classmethod
    def assume_utc(cls, value: datetime | None) -> datetime | None:
        """Spec section 1: a timestamp without a time zone is UTC."""
        return _as_utc(value)


class SimilarIncident(BaseModel):
    """A search hit; ``score`` is cosine similarity clipped to [0, 1], higher = more similar."""

    id: str
    score: float = Field(ge=0.0, le=1.0)
    title: str
    metric: str | None = None
    root_cause_kind: str
    root_cause_id: str | None = None
    root_cause_summary: str
    opened_at: str | None = None


class LineError(BaseModel):
    """A history line that was skipped, with its 1-based line number and what was wrong."""

    line: int
    message: str


class IngestReport(BaseModel):
    """What one ``ingest_file`` did: how many lines were read, stored, skipped, and why."""

    path: Path
    lines: int = Field(description="Non-blank lines read.")
    ingested: int = Field(description="Distinct incidents from the file now in the store.")
    unchanged: int = Field(0, description="Of those, already stored identically (not re-embedded).")
    skipped: int = Field(description="Lines rejected; see errors.")
    errors: list[LineError] = Field(default_factory=list)
    total: int = Field(description="Incidents in the store after ingest.")
    embedding: str = Field(description="Embedding function the collection uses.")
