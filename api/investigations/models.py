"""Investigation shapes: status, timings, trace and, when done, the report (agent.report.Report)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.report import Report

InvestigationStatus = Literal["queued", "running", "done", "failed"]


class TraceStep(BaseModel):
    step: str
    ms: float = Field(description="Milliseconds since the run started.")


class Links(BaseModel):
    self: str
    chart: str
    incident: str


class InvestigationSummary(BaseModel):
    id: str
    incident_id: str
    status: InvestigationStatus
    error: str | None = Field(None, description="Why it failed (set when status is 'failed').")
    created_by: str | None
    batch_id: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queue_ms: float | None = Field(None, description="Time spent waiting for a worker.")
    run_ms: float | None = Field(None, description="Time the engine ran.")
    prompt_tokens: int
    completion_tokens: int
    links: Links


class InvestigationOut(InvestigationSummary):
    trace: list[TraceStep]
    report: Report | None = Field(None, description="Present when status is 'done' (spec section 5).")


class InvestigationAccepted(BaseModel):
    id: str
    status: InvestigationStatus
    links: Links
