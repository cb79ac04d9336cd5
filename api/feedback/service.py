"""Feedback records and the running accuracy they give."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db import FeedbackRow, InvestigationRow
from api.feedback.models import FeedbackIn, FeedbackStats


def create(*, session: Session, investigation: InvestigationRow, data: FeedbackIn, actor: str) -> FeedbackRow:
    """Record a verdict on the investigation's top cause (its id is copied, so later runs cannot change it)."""
    causes = (investigation.report or {}).get("root_causes") or []
    row = FeedbackRow(investigation_id=investigation.id, incident_id=investigation.incident_id, correct=data.correct,
                      concluded_cause=causes[0]["id"] if causes else None,
                      true_cause=data.true_cause or (causes[0]["id"] if causes and data.correct else None),
                      comment=data.comment, created_by=actor)
    session.add(row)
    session.commit()
    return row


def list_(*, session: Session, limit: int, offset: int, incident_id: str | None = None,
          investigation_id: str | None = None, correct: bool | None = None) -> tuple[list[FeedbackRow], int]:
    """Feedback matching the filters, newest first."""
    conds: list[Any] = []
    if incident_id:
        conds.append(FeedbackRow.incident_id == incident_id)
    if investigation_id:
        conds.append(FeedbackRow.investigation_id == investigation_id)
    if correct is not None:
        conds.append(FeedbackRow.correct == correct)
    total = session.scalar(select(func.count()).select_from(FeedbackRow).where(*conds)) or 0
    rows = session.scalars(select(FeedbackRow).where(*conds).order_by(FeedbackRow.id.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def stats(*, session: Session) -> FeedbackStats:
    """How often responders said the top cause was right."""
    total = session.scalar(select(func.count()).select_from(FeedbackRow)) or 0
    correct = session.scalar(select(func.count()).select_from(FeedbackRow).where(FeedbackRow.correct)) or 0
    return FeedbackStats(total=total, correct=correct, accuracy=round(correct / total, 4) if total else None)
