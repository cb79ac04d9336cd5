"""Where a chat turn's events come from: one function, so the LLM agent (agent/chat.py) can replace it.

Today the offline analyst answers: the session's investigation (run on the worker pool the first time, its
progress steps streamed as step events) and its narrative streamed as tokens.
"""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from agent.incident import Incident
from agent.report import Report
from api.chat.models import ErrorEvent, StepEvent, TokenEvent
from api.investigations import service as investigations
from api.investigations.worker import Worker

TurnEvent = StepEvent | TokenEvent | ErrorEvent
STEP_TIMEOUT_S = 600.0


@dataclass
class ChatTurn:
    """Everything a turn needs: the incident, the question, the session's investigation so far, who asks."""

    incident: Incident
    question: str
    investigation_id: str | None
    actor: str
    sessions: sessionmaker[Session]
    worker: Worker


def answer_events(turn: ChatTurn) -> Iterator[TurnEvent]:
    """The events of one turn (steps, then answer tokens, or an error). The plug point for agent/chat.py."""
    yield from offline_answer(turn)


def _tokens(text: str) -> Iterator[TokenEvent]:
    for piece in re.findall(r"\S+\s*|\s+", text):
        yield TokenEvent(text=piece)


def _answer(report: Report) -> str:
    top = report.root_causes[0] if report.root_causes else None
    head = (f"Most likely cause: {top.kind} {top.id} (score {top.score:.2f}). " if top else
            "No candidate cause stood out. ")
    return head + report.narrative.strip()


def offline_answer(turn: ChatTurn) -> Iterator[TurnEvent]:
    """Run (first turn) or reuse the session's investigation; steps as they happen, then the narrative."""
    inv_id = turn.investigation_id
    with turn.sessions() as s:
        row = investigations.get(session=s, investigation_id=inv_id) if inv_id else None
        reuse = row is not None and row.status == "done"
        if not reuse:
            row = investigations.create(session=s, incident=turn.incident, created_by=turn.actor)
        assert row is not None
        inv_id = row.id
    if reuse:
        yield StepEvent(text="reading the session's investigation", investigation_id=inv_id)
    else:
        events = turn.worker.subscribe(inv_id)
        try:
            turn.worker.submit(inv_id)
            yield StepEvent(text="investigation queued", investigation_id=inv_id)
            while True:
                try:
                    kind, value = events.get(timeout=STEP_TIMEOUT_S)
                except queue.Empty:
                    yield ErrorEvent(detail=f"investigation {inv_id} produced no progress for {STEP_TIMEOUT_S:.0f} s")
                    return
                if kind == "end":
                    break
                yield StepEvent(text=str(value), investigation_id=inv_id)
        finally:
            turn.worker.unsubscribe(inv_id, events)
    with turn.sessions() as s:
        row = investigations.get(session=s, investigation_id=inv_id)
        status, error, report = (row.status, row.error, row.report) if row else ("missing", None, None)
    if status != "done" or report is None:
        yield ErrorEvent(detail=f"investigation {inv_id} {status}: {error or 'no report'}")
        return
    yield from _tokens(_answer(Report.model_validate(report)))
