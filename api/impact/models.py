"""The impact report for regulators and media requests (e.g. a GDPR 72-hour notification)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Count(BaseModel):
    value: str = Field(description="The dimension's value (e.g. region EU).")
    affected_units: int | None = Field(description="Distinct affected units; None when suppressed (< k).")
    suppressed: bool


class Breakdown(BaseModel):
    dimension: str
    counts: list[Count]


class DataCategory(BaseModel):
    table: str
    column: str
    category: str = Field(description="What kind of personal data the column holds.")


class ImpactReport(BaseModel):
    incident_id: str
    investigation_id: str
    metric: str
    window_start: str
    window_end: str
    root_cause: str | None = Field(description="The top-ranked cause whose reach is counted.")
    reach: str
    unit: str
    affected_units: int | None = Field(description="Total distinct affected units; None when suppressed (< k).")
    total_suppressed: bool
    k: int = Field(description="Counts under k are suppressed so the report cannot single anyone out.")
    by_dimension: list[Breakdown]
    data_categories: list[DataCategory]
    method: str
