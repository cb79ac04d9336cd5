"""Investigation records: queue one, read it back, list them; the worker pool runs them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.incident import Incident
from agent.report import Report
from api.db import InvestigationRow, new_id
from api.investigations.models import InvestigationOut, InvestigationSummary, Links, TraceStep


def links(row: InvestigationRow) -> Links:
    base = f"/api/v1/investigations/{row.id}"
    return Links(self=base, chart=f"{base}/chart.png", incident=f"/api/v1/incidents/{row.incident_id}")


def to_summary(row: InvestigationRow) -> InvestigationSummary:
    return InvestigationSummary(
        id=row.id, incident_id=row.incident_id, status=row.status,
        error=row.error, created_by=row.created_by, batch_id=row.batch_id, attempts=row.attempts,
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at, queue_ms=row.queue_ms,
        run_ms=row.run_ms, prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
        links=links(row))


def to_out(row: InvestigationRow) -> InvestigationOut:
    report = Report.model_validate(row.report) if row.report else None
    return InvestigationOut(**to_summary(row).model_dump(), trace=[TraceStep(**t) for t in row.trace or []],
                            report=report)


def create(*, session: Session, incident: Incident, created_by: str, batch_id: str | None = None
           ) -> InvestigationRow:
    """Record a queued investigation of ``incident`` (the worker picks it up)."""
    row = InvestigationRow(id=new_id("inv"), incident_id=incident.id, status="queued",
                           request=incident.model_dump(mode="json"), trace=[], created_by=created_by,
                           batch_id=batch_id)
    session.add(row)
    session.commit()
    return row


def get(*, session: Session, investigation_id: str) -> InvestigationRow | None:
    """One investigation by id, or None."""
    return session.get(InvestigationRow, investigation_id)


def list_(*, session: Session, limit: int, offset: int, incident_id: str | None = None, status: str | None = None,
          batch_id: str | None = None) -> tuple[list[InvestigationRow], int]:
    """Investigations matching the filters, newest first, and the total count."""
    conds: list[Any] = []
    if incident_id:
        conds.append(InvestigationRow.incident_id == incident_id)
    if status:
        conds.append(InvestigationRow.status == status)
    if batch_id:
        conds.append(InvestigationRow.batch_id == batch_id)
    total = session.scalar(select(func.count()).select_from(InvestigationRow).where(*conds)) or 0
    rows = session.scalars(select(InvestigationRow).where(*conds)
                           .order_by(InvestigationRow.created_at.desc(), InvestigationRow.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def latest_done(*, session: Session, incident_id: str) -> InvestigationRow | None:
    """The newest finished investigation of an incident (what impact and chat answer from)."""
    return session.scalars(select(InvestigationRow).where(InvestigationRow.incident_id == incident_id,
                                                          InvestigationRow.status == "done")
                           .order_by(InvestigationRow.finished_at.desc()).limit(1)).first()
