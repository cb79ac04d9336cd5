"""What the bot keeps in the service's state: a chat session per Slack thread, its messages, feedback, and
claims on Slack request ids so a retried delivery never does the work twice.

Everything goes into the service's own tables (chat_sessions, chat_messages, feedback, idempotency_keys), so
the HTTP API and the batch evaluation read the same rows; no schema of its own.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import ChatMessageRow, ChatSessionRow, FeedbackRow, IdempotencyRow

NO_INCIDENT = ""  # a question thread not yet tied to an incident


def thread_session_id(*, team_id: str | None, channel: str, thread_ts: str) -> str:
    """The chat session of one Slack thread: a stable id from workspace + channel + thread timestamp."""
    digest = hashlib.sha256(f"{team_id or '-'}:{channel}:{thread_ts}".encode()).hexdigest()
    return f"slack-{digest[:32]}"


def get_thread(*, session: Session, session_id: str) -> ChatSessionRow | None:
    """The thread's chat session, or None when the bot has never spoken in it."""
    return session.get(ChatSessionRow, session_id)


def open_thread(*, session: Session, session_id: str, incident_id: str | None, created_by: str) -> ChatSessionRow:
    """The thread's chat session, created on first use; a later incident id re-binds the thread to it."""
    row = session.get(ChatSessionRow, session_id)
    if row is None:
        row = ChatSessionRow(id=session_id, incident_id=incident_id or NO_INCIDENT, created_by=created_by)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another delivery created it first
            session.rollback()
            row = session.get(ChatSessionRow, session_id)
            assert row is not None
    if incident_id and row.incident_id != incident_id:
        row.incident_id = incident_id
        session.commit()
    return row


def add_message(*, session: Session, session_id: str, role: str, content: str,
                investigation_id: str | None = None) -> None:
    """Append one message (user or assistant) to the thread's session."""
    session.add(ChatMessageRow(session_id=session_id, role=role, content=content[:20_000],
                               investigation_id=investigation_id))
    session.commit()


def message_count(*, session: Session, session_id: str) -> int:
    """How many messages the thread's session holds."""
    return session.scalar(select(func.count()).select_from(ChatMessageRow)
                          .where(ChatMessageRow.session_id == session_id)) or 0


def record_feedback(*, session: Session, investigation_id: str, incident_id: str, correct: bool,
                    concluded_cause: str | None, created_by: str, comment: str = "") -> FeedbackRow:
    """Store a responder's verdict on a conclusion in the feedback table the API and batch evaluation read."""
    row = FeedbackRow(investigation_id=investigation_id, incident_id=incident_id, correct=correct,
                      concluded_cause=concluded_cause, comment=comment, created_by=created_by)
    session.add(row)
    session.commit()
    return row


def claim(*, session: Session, key: str, note: dict[str, Any] | None = None) -> bool:
    """True for the first delivery of a Slack request id, False for any retry of it (atomic: a primary key)."""
    full = f"slack:{key}"[:200]
    session.add(IdempotencyRow(key=full, fingerprint=hashlib.sha256(full.encode()).hexdigest(), status_code=200,
                               body=note or {}, location=None))
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False
