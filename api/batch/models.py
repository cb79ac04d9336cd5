"""Batch RCA on closed incidents: re-investigate, compare with the recorded cause, feed the memory."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.common import UtcDateTime


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    closed_from: UtcDateTime = Field(description="Incidents closed at or after this time...")
    closed_to: UtcDateTime = Field(description="...and before this one.")
    concurrency: int = Field(2, ge=1, le=16, description="Investigations of this batch in flight at once.")
    ingest_memory: bool = Field(True, description="Also store the closed incidents in the incident memory.")

    @model_validator(mode="after")
    def _range(self) -> BatchCreate:
        if self.closed_to <= self.closed_from:
            raise ValueError("closed_to must be after closed_from")
        return self


class BatchItem(BaseModel):
    incident_id: str
    investigation_id: str | None
    status: str
    recorded_cause: str | None = Field(description="The postmortem's root cause id (or kind).")
    concluded_cause: str | None = Field(description="The re-investigation's top-ranked cause.")
    agreed: bool | None = Field(description="None when there is nothing to compare.")
    error: str | None = None


class BatchOut(BaseModel):
    id: str
    status: Literal["running", "done", "failed"]
    closed_from: datetime
    closed_to: datetime
    concurrency: int
    total: int
    completed: int
    compared: int
    agreed: int
    agreement_rate: float | None = Field(description="agreed / compared (None before any comparison).")
    ingested: int = Field(description="Closed incidents stored in the incident memory.")
    results: list[BatchItem]
    error: str | None
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
