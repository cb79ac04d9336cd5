"""The incident as a responder files it (``incident.json``), validated with errors that name the key."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class InputError(ValueError):
    """Bad input from the user: the message names the file, the key and what was expected."""


def as_utc_naive(value: datetime) -> datetime:
    """Timestamps are compared as naive UTC everywhere (the warehouse stores UTC without a zone)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class Window(BaseModel):
    """A closed-open time range [start, end) in naive UTC."""

    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return as_utc_naive(v)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window is empty: end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self


class Incident(BaseModel):
    """What the responder filed; only id, title and detected_at are required (spec section 3)."""

    model_config = ConfigDict(extra="allow")
    id: str
    title: str
    description: str = ""
    severity: str | None = None
    status: str | None = None
    metric: str | None = None
    detected_at: datetime
    window: Window | None = None
    filters: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("detected_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return as_utc_naive(v)

    @field_validator("filters", mode="before")
    @classmethod
    def _none_filters(cls, v: object) -> object:
        return {} if v is None else v


UP_WORDS = frozenset("up rise rises rising rose risen spike spikes spiking spiked surge surges surging surged jump "
                     "jumps jumped climb climbs climbing climbed increase increases increased increasing grew grow "
                     "growing higher more above soar soared doubled".split())
DOWN_WORDS = frozenset("down drop drops dropping dropped fall falls falling fell decline declines declined declining "
                       "decrease decreases decreased decreasing dip dips dipped plunge plunged lower fewer less below "
                       "shrank halved".split())


def stated_direction(incident: Incident) -> str | None:
    """The way the responder says the metric moved ("up" / "down"), from the title, else the description.

    An incident is usually the metric worsening (the catalog's ``higher_is_worse``), but the responder saw
    the series: "reject-all rate dropped" settles which run of the window to explain even when a regional
    rise the other way is larger. Words of both directions in one text ("fewer reviewers; the backlog grew")
    say nothing.
    """
    for text in (incident.title, incident.description):
        words = set(re.findall(r"[a-z]+", text.lower()))
        up, down = bool(words & UP_WORDS), bool(words & DOWN_WORDS)
        if up != down:
            return "up" if up else "down"
    return None


def load_incident(path: Path) -> Incident:
    """Read ``incident.json``; every problem is reported in one line naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON: {err}") from None
    try:
        return Incident.model_validate(raw)
    except ValidationError as err:
        parts = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
            parts.append(f"{loc}: {e['msg'].removeprefix('Value error, ')}")
        raise InputError(f"{path}: " + "; ".join(parts)) from None
