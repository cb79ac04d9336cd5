"""Incident shapes in and out of the API (the fields PagerDuty / incident.io / Dispatch responders expect)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.common import FilterValue, Text, UtcDateTime

Status = Literal["open", "mitigated", "closed"]
Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]
# Allowed moves of the status; reopening a closed incident is allowed (a recurrence), skipping mitigated too.
TRANSITIONS: dict[str, set[str]] = {"open": {"mitigated", "closed"}, "mitigated": {"closed", "open"},
                                    "closed": {"open"}}
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class WindowIn(BaseModel):
    """The responder's closed-open window [start, end) in UTC."""

    model_config = ConfigDict(extra="forbid")
    start: UtcDateTime
    end: UtcDateTime

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError("window is empty: end is not after start")
        return self


class RecordedCause(BaseModel):
    """What the incident turned out to be (from the postmortem): the batch RCA compares against it."""

    model_config = ConfigDict(extra="forbid")
    kind: Text = Field(min_length=1, max_length=40, description="change | experiment | upstream | segment | ...")
    id: Text | None = Field(None, max_length=200, description="The change / experiment / metric id, if any.")
    summary: Text = Field("", max_length=5000)


class TimelineEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: UtcDateTime | None = Field(None, description="Defaults to now.")
    kind: Text = Field("note", min_length=1, max_length=40)
    text: Text = Field(min_length=1, max_length=5000)


class TimelineEvent(BaseModel):
    at: datetime
    kind: str
    text: str
    by: str | None = None


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern=ID_PATTERN,
                           description="Your incident id (e.g. from PagerDuty); generated when absent.")
    title: Text = Field(min_length=1, max_length=300)
    description: Text = Field("", max_length=10_000)
    severity: Severity | None = None
    status: Status = "open"
    detected_at: UtcDateTime
    mitigated_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None
    metric: Text | None = Field(None, min_length=1, max_length=200, description="A catalog metric name.")
    window: WindowIn | None = None
    filters: dict[Text, FilterValue] = Field(default_factory=dict, max_length=20,
                                            description="Dimension = value the incident is scoped to.")
    services: list[Text] = Field(default_factory=list, max_length=50)
    root_cause: RecordedCause | None = None
    postmortem: Text | None = Field(None, max_length=50_000)

    @model_validator(mode="after")
    def _times(self) -> IncidentCreate:
        check_times(status=self.status, detected_at=self.detected_at, mitigated_at=self.mitigated_at,
                    closed_at=self.closed_at)
        return self


def check_times(*, status: str, detected_at: datetime, mitigated_at: datetime | None,
                closed_at: datetime | None) -> None:
    """mitigated_at / closed_at are not before detected_at, and a closed incident has its closed_at."""
    if mitigated_at is not None and mitigated_at < detected_at:
        raise ValueError("mitigated_at is before detected_at")
    if closed_at is not None and closed_at < detected_at:
        raise ValueError("closed_at is before detected_at")
    if status == "closed" and closed_at is None:
        raise ValueError("closed_at is required when status is 'closed'")


class IncidentUpdate(BaseModel):
    """Partial update; a status change is checked against the allowed transitions and time-stamped."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = Field(None, min_length=1, max_length=300)
    description: Text | None = Field(None, max_length=10_000)
    severity: Severity | None = None
    status: Status | None = None
    mitigated_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None
    metric: Text | None = Field(None, min_length=1, max_length=200)
    window: WindowIn | None = None
    filters: dict[Text, FilterValue] | None = Field(None, max_length=20)
    services: list[Text] | None = Field(None, max_length=50)
    root_cause: RecordedCause | None = None
    postmortem: Text | None = Field(None, max_length=50_000)


class IncidentOut(BaseModel):
    id: str
    title: str
    description: str
    severity: str | None
    status: Status
    detected_at: datetime
    mitigated_at: datetime | None
    closed_at: datetime | None
    metric: str | None
    window: WindowIn | None
    filters: dict[str, FilterValue]
    services: list[str]
    root_cause: RecordedCause | None
    postmortem: str | None
    timeline: list[TimelineEvent]
    created_at: datetime
    updated_at: datetime
