"""/api/v1/investigations/{id}/feedback and /api/v1/feedback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api import idempotency
from api.auth import Responder, Viewer
from api.common import ERRORS, ErrorBody, Limit, Offset, Page
from api.deps import SessionDep
from api.feedback import service
from api.feedback.models import FeedbackIn, FeedbackOut, FeedbackStats
from api.investigations import service as investigations

router = APIRouter(prefix="/api/v1", tags=["feedback"], responses=ERRORS)


@router.post("/investigations/{investigation_id}/feedback", status_code=201, response_model=FeedbackOut,
             responses={404: {"model": ErrorBody, "description": "No such investigation."},
                        409: {"model": ErrorBody, "description": "The investigation has no conclusion yet."}})
def give_feedback(investigation_id: str, body: FeedbackIn, request: Request, session: SessionDep,
                  who: Responder) -> Any:
    """Mark the investigation's conclusion right or wrong (with the true cause when wrong)."""
    payload = body.model_dump()
    replayed = idempotency.replay(session=session, request=request, principal=who, body=payload)
    if replayed is not None:
        return replayed
    inv = investigations.get(session=session, investigation_id=investigation_id)
    if inv is None:
        raise HTTPException(404, detail=f"investigation '{investigation_id}' not found")
    if inv.status != "done":
        raise HTTPException(409, detail=f"investigation '{investigation_id}' is {inv.status}: no conclusion to judge")
    row = service.create(session=session, investigation=inv, data=body, actor=who.name)
    out = jsonable_encoder(FeedbackOut.model_validate(row, from_attributes=True))
    idempotency.remember(session=session, request=request, principal=who, body=payload, status_code=201,
                         payload=out)
    return JSONResponse(out, status_code=201)


@router.get("/feedback", response_model=Page[FeedbackOut])
def list_feedback(session: SessionDep, _: Viewer, limit: Limit = 50, offset: Offset = 0,
                  incident_id: str | None = None, investigation_id: str | None = None,
                  correct: bool | None = None) -> Any:
    rows, total = service.list_(session=session, limit=limit, offset=offset, incident_id=incident_id,
                                investigation_id=investigation_id, correct=correct)
    return Page[FeedbackOut](items=[FeedbackOut.model_validate(r, from_attributes=True) for r in rows], total=total,
                             limit=limit, offset=offset)


@router.get("/feedback/stats", response_model=FeedbackStats)
def feedback_stats(session: SessionDep, _: Viewer) -> Any:
    """Share of judged conclusions marked correct."""
    return service.stats(session=session)
