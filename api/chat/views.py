"""/api/v1/chat/sessions: a responder asks about an incident; answers stream as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, TypeAdapter

from api import idempotency
from api.auth import Responder, Viewer
from api.chat import service
from api.chat.events import ChatTurn, answer_events
from api.chat.models import (
    ChatEvent,
    ChatMessageIn,
    ChatSessionCreate,
    ChatSessionDetail,
    ChatSessionOut,
    DoneEvent,
    ErrorEvent,
    TokenEvent,
)
from api.common import ERRORS, ErrorBody, Limit, Offset, Page
from api.deps import SessionDep
from api.incidents import service as incidents

router = APIRouter(prefix="/api/v1/chat", tags=["chat"], responses=ERRORS)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such session."}}
EVENT_SCHEMA = TypeAdapter(ChatEvent).json_schema(ref_template="#/components/schemas/{model}")


def sse(event: BaseModel) -> str:
    """One Server-Sent Event: the event type as ``event:``, the JSON as ``data:``."""
    return f"event: {getattr(event, 'type', 'message')}\ndata: {event.model_dump_json()}\n\n"


@router.post("/sessions", status_code=201, response_model=ChatSessionOut,
             responses={404: {"model": ErrorBody, "description": "No such incident."}})
def create_session(body: ChatSessionCreate, request: Request, session: SessionDep, who: Responder) -> Any:
    """Open a chat about a stored incident."""
    payload = body.model_dump()
    replayed = idempotency.replay(session=session, request=request, principal=who, body=payload)
    if replayed is not None:
        return replayed
    if incidents.get(session=session, incident_id=body.incident_id) is None:
        raise HTTPException(404, detail=f"incident_id: incident '{body.incident_id}' not found")
    row = service.create(session=session, incident_id=body.incident_id, actor=who.name)
    out = jsonable_encoder(service.to_out(row))
    location = f"/api/v1/chat/sessions/{row.id}"
    idempotency.remember(session=session, request=request, principal=who, body=payload, status_code=201,
                         payload=out, location=location)
    return JSONResponse(out, status_code=201, headers={"Location": location})


@router.get("/sessions", response_model=Page[ChatSessionOut])
def list_sessions(session: SessionDep, _: Viewer, limit: Limit = 50, offset: Offset = 0,
                  incident_id: str | None = None) -> Any:
    rows, total = service.list_(session=session, limit=limit, offset=offset, incident_id=incident_id)
    return Page[ChatSessionOut](items=[service.to_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/sessions/{session_id}", response_model=ChatSessionDetail, responses=NOT_FOUND)
def get_session(session_id: str, session: SessionDep, _: Viewer) -> Any:
    row = service.get(session=session, session_id=session_id)
    if row is None:
        raise HTTPException(404, detail=f"chat session '{session_id}' not found")
    return service.to_detail(session=session, row=row)


@router.post("/sessions/{session_id}/messages", response_class=StreamingResponse,
             responses={**NOT_FOUND, 200: {"description": "Server-Sent Events: step*, token*, then done or error.",
                                           "content": {"text/event-stream": {"schema": EVENT_SCHEMA}}}})
def post_message(session_id: str, body: ChatMessageIn, request: Request, session: SessionDep,
                 who: Responder) -> StreamingResponse:
    """Ask a question; the answer streams as SSE events (``step``, ``token``, then ``done`` or ``error``)."""
    chat = service.get(session=session, session_id=session_id)
    if chat is None:
        raise HTTPException(404, detail=f"chat session '{session_id}' not found")
    incident = incidents.get(session=session, incident_id=chat.incident_id)
    if incident is None:
        raise HTTPException(409, detail=f"incident '{chat.incident_id}' of this session was deleted")
    service.add_message(session=session, session_id=session_id, role="user", content=body.content)
    state = request.app.state
    turn = ChatTurn(incident=incidents.to_engine_incident(incident), question=body.content,
                    investigation_id=service.last_investigation(session=session, session_id=session_id),
                    actor=who.name, sessions=state.sessions, worker=state.worker)

    def stream() -> Iterator[str]:
        answer: list[str] = []
        inv_id: str | None = None
        for event in answer_events(turn):
            inv_id = getattr(event, "investigation_id", None) or inv_id
            if isinstance(event, TokenEvent):
                answer.append(event.text)
            yield sse(event)
            if isinstance(event, ErrorEvent):
                with state.sessions() as s:
                    service.add_message(session=s, session_id=session_id, role="assistant",
                                        content=f"error: {event.detail}", investigation_id=inv_id)
                return
        with state.sessions() as s:
            msg = service.add_message(session=s, session_id=session_id, role="assistant", content="".join(answer),
                                      investigation_id=inv_id)
        yield sse(DoneEvent(message_id=msg.id, investigation_id=inv_id))

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
