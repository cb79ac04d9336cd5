"""What the bot keeps beside the service layer: the chat session of a Slack thread (a stable id from the thread,
so follow-ups find it) and claims on Slack request ids so a retried delivery never does the work twice.

Rows go into the service's own tables (chat_sessions, idempotency_keys): the thread's session is an ordinary
chat session (GET /api/v1/chat/sessions/{id} shows it); messages and feedback go through api.chat.service and
api.feedback.service. No schema of its own.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import ChatSessionRow, IdempotencyRow

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
