"""Incident records: create, read, list with filters, update with validated status moves, timeline, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from agent.incident import Incident, Window
from api.db import IncidentRow, new_id, utcnow
from api.incidents.models import (
    TRANSITIONS,
    IncidentCreate,
    IncidentOut,
    IncidentUpdate,
    TimelineEventIn,
    WindowIn,
    check_times,
)


class Conflict(ValueError):
    """The request is well formed but clashes with the stored state (409)."""


def to_out(row: IncidentRow) -> IncidentOut:
    window = WindowIn(start=row.window_start, end=row.window_end) if row.window_start and row.window_end else None
    return IncidentOut(id=row.id, title=row.title, description=row.description, severity=row.severity,
                       status=row.status,
                       detected_at=row.detected_at, mitigated_at=row.mitigated_at, closed_at=row.closed_at,
                       metric=row.metric, window=window, filters=row.filters or {}, services=row.services or [],
                       root_cause=row.root_cause, postmortem=row.postmortem,
                       timeline=row.timeline or [], created_at=row.created_at, updated_at=row.updated_at)


def _event(kind: str, text: str, by: str | None, at: datetime | None = None) -> dict[str, Any]:
    return {"at": (at or utcnow()).isoformat(), "kind": kind, "text": text, "by": by}


def create(*, session: Session, data: IncidentCreate, actor: str) -> IncidentRow:
    """Store a new incident; a taken id is a Conflict."""
    inc_id = data.id or new_id("INC")
    if session.get(IncidentRow, inc_id) is not None:
        raise Conflict(f"id: incident '{inc_id}' already exists")
    row = IncidentRow(id=inc_id, title=data.title, description=data.description, severity=data.severity,
                      status=data.status, detected_at=data.detected_at, mitigated_at=data.mitigated_at,
                      closed_at=data.closed_at, metric=data.metric,
                      window_start=data.window.start if data.window else None,
                      window_end=data.window.end if data.window else None,
                      filters=dict(data.filters), services=list(data.services),
                      root_cause=data.root_cause.model_dump() if data.root_cause else None,
                      postmortem=data.postmortem,
                      timeline=[_event("created", f"incident filed ({data.status})", actor)])
    session.add(row)
    session.commit()
    return row


def get(*, session: Session, incident_id: str) -> IncidentRow | None:
    """One incident by id, or None."""
    return session.get(IncidentRow, incident_id)


def list_(*, session: Session, limit: int, offset: int, status: str | None = None, severity: str | None = None,
          metric: str | None = None, q: str | None = None, detected_from: datetime | None = None,
          detected_to: datetime | None = None, closed_from: datetime | None = None,
          closed_to: datetime | None = None) -> tuple[list[IncidentRow], int]:
    """Incidents matching every given filter, newest detection first, and the total count."""
    conds: list[Any] = []
    if status:
        conds.append(IncidentRow.status == status)
    if severity:
        conds.append(IncidentRow.severity == severity)
    if metric:
        conds.append(IncidentRow.metric == metric)
    if q:
        like = f"%{q.lower()}%"
        conds.append(or_(func.lower(IncidentRow.title).like(like), func.lower(IncidentRow.description).like(like)))
    if detected_from:
        conds.append(IncidentRow.detected_at >= detected_from)
    if detected_to:
        conds.append(IncidentRow.detected_at < detected_to)
    if closed_from:
        conds.append(IncidentRow.closed_at >= closed_from)
    if closed_to:
        conds.append(IncidentRow.closed_at < closed_to)
    total = session.scalar(select(func.count()).select_from(IncidentRow).where(*conds)) or 0
    rows = session.scalars(select(IncidentRow).where(*conds).order_by(IncidentRow.detected_at.desc(), IncidentRow.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def update(*, session: Session, row: IncidentRow, data: IncidentUpdate, actor: str) -> IncidentRow:
    """Apply a partial update; an illegal status move is a Conflict naming the allowed ones."""
    changes = data.model_dump(exclude_unset=True)
    status = changes.pop("status", None)
    timeline = list(row.timeline or [])
    if status is not None and status != row.status:
        allowed = TRANSITIONS[row.status]
        if status not in allowed:
            raise Conflict(f"status: cannot move from '{row.status}' to '{status}' "
                           f"(allowed: {', '.join(sorted(allowed))})")
        now = utcnow()
        if status == "mitigated":
            row.mitigated_at = changes.pop("mitigated_at", None) or now
        elif status == "closed":
            row.closed_at = changes.pop("closed_at", None) or now
        elif status == "open":
            row.closed_at = None
            row.mitigated_at = None
        timeline.append(_event("status", f"{row.status} -> {status}", actor))
        row.status = status
    if "window" in changes:
        window = data.window
        row.window_start, row.window_end = (window.start, window.end) if window else (None, None)
        changes.pop("window")
    if "root_cause" in changes:
        row.root_cause = data.root_cause.model_dump() if data.root_cause else None
        changes.pop("root_cause")
    for key, value in changes.items():
        setattr(row, key, value)
    try:
        check_times(status=row.status, detected_at=row.detected_at, mitigated_at=row.mitigated_at,
                    closed_at=row.closed_at)
    except ValueError as err:
        session.rollback()
        raise Conflict(str(err)) from None
    if changes:
        timeline.append(_event("updated", "changed " + ", ".join(sorted(changes)), actor))
    row.timeline = timeline
    row.updated_at = utcnow()
    session.commit()
    return row


def add_event(*, session: Session, row: IncidentRow, event: TimelineEventIn, actor: str) -> IncidentRow:
    """Append a responder's note (or any event) to the timeline."""
    row.timeline = [*(row.timeline or []), _event(event.kind, event.text, actor, event.at)]
    row.updated_at = utcnow()
    session.commit()
    return row


def delete(*, session: Session, row: IncidentRow) -> None:
    """Remove the incident record (its investigations stay, keyed by the id)."""
    session.delete(row)
    session.commit()


def to_engine_incident(row: IncidentRow) -> Incident:
    """The incident as the engine reads it (agent.incident.Incident)."""
    window = Window(start=row.window_start, end=row.window_end) if row.window_start and row.window_end else None
    return Incident(id=row.id, title=row.title, description=row.description, severity=row.severity,
                    status=row.status, metric=row.metric, detected_at=row.detected_at, window=window,
                    filters=row.filters or {})
