"""Chat sessions and their messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.chat.models import ChatMessageOut, ChatSessionDetail, ChatSessionOut
from api.db import ChatMessageRow, ChatSessionRow, new_id


def create(*, session: Session, incident_id: str, actor: str) -> ChatSessionRow:
    """Open a chat session about a stored incident."""
    row = ChatSessionRow(id=new_id("chat"), incident_id=incident_id, created_by=actor)
    session.add(row)
    session.commit()
    return row


def get(*, session: Session, session_id: str) -> ChatSessionRow | None:
    """One chat session by id, or None."""
    return session.get(ChatSessionRow, session_id)


def list_(*, session: Session, limit: int, offset: int, incident_id: str | None) -> tuple[list[ChatSessionRow], int]:
    """Chat sessions, newest first, optionally of one incident."""
    conds: list[Any] = [ChatSessionRow.incident_id == incident_id] if incident_id else []
    total = session.scalar(select(func.count()).select_from(ChatSessionRow).where(*conds)) or 0
    rows = session.scalars(select(ChatSessionRow).where(*conds).order_by(ChatSessionRow.created_at.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def messages(*, session: Session, session_id: str) -> list[ChatMessageRow]:
    """The session's messages in order."""
    return list(session.scalars(select(ChatMessageRow).where(ChatMessageRow.session_id == session_id)
                                .order_by(ChatMessageRow.id)).all())


def add_message(*, session: Session, session_id: str, role: str, content: str,
                investigation_id: str | None = None) -> ChatMessageRow:
    """Store one message."""
    row = ChatMessageRow(session_id=session_id, role=role, content=content, investigation_id=investigation_id)
    session.add(row)
    session.commit()
    return row


def last_investigation(*, session: Session, session_id: str) -> str | None:
    """The investigation the session's latest answer came from."""
    return session.scalar(select(ChatMessageRow.investigation_id).where(
        ChatMessageRow.session_id == session_id, ChatMessageRow.investigation_id.is_not(None))
        .order_by(ChatMessageRow.id.desc()).limit(1))


def to_out(row: ChatSessionRow) -> ChatSessionOut:
    return ChatSessionOut(id=row.id, incident_id=row.incident_id, created_by=row.created_by,
                          created_at=row.created_at)


def to_detail(*, session: Session, row: ChatSessionRow) -> ChatSessionDetail:
    msgs = [ChatMessageOut.model_validate(m, from_attributes=True) for m in messages(session=session,
                                                                                     session_id=row.id)]
    return ChatSessionDetail(**to_out(row).model_dump(), messages=msgs)
