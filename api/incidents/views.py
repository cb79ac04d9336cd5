"""/api/v1/incidents: CRUD, list filters, timeline notes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api import idempotency
from api.auth import Admin, Responder, Viewer
from api.common import ERRORS, ErrorBody, Limit, Offset, Page, Text, UtcDateTime
from api.deps import SessionDep
from api.incidents import service
from api.incidents.models import IncidentCreate, IncidentOut, IncidentUpdate, Severity, Status, TimelineEventIn

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such incident."}}


def load(session: SessionDep, incident_id: str) -> Any:
    row = service.get(session=session, incident_id=incident_id)
    if row is None:
        raise HTTPException(404, detail=f"incident '{incident_id}' not found")
    return row


@router.post("", status_code=201, response_model=IncidentOut,
             responses={409: {"model": ErrorBody, "description": "The id is taken."}})
def create_incident(body: IncidentCreate, request: Request, session: SessionDep, who: Responder) -> Any:
    """File an incident (send Idempotency-Key to make retries safe)."""
    payload_in = body.model_dump(mode="json")
    replayed = idempotency.replay(session=session, request=request, principal=who, body=payload_in)
    if replayed is not None:
        return replayed
    try:
        row = service.create(session=session, data=body, actor=who.name)
    except service.Conflict as err:
        raise HTTPException(409, detail=str(err)) from None
    out = jsonable_encoder(service.to_out(row))
    location = f"/api/v1/incidents/{row.id}"
    idempotency.remember(session=session, request=request, principal=who, body=payload_in, status_code=201,
                         payload=out, location=location)
    return JSONResponse(out, status_code=201, headers={"Location": location})


@router.get("", response_model=Page[IncidentOut])
def list_incidents(session: SessionDep, _: Viewer, limit: Limit = 50, offset: Offset = 0,
                   status: Status | None = None, severity: Severity | None = None,
                   metric: Annotated[Text | None, Query(max_length=200)] = None,
                   q: Annotated[Text | None, Query(max_length=200, description="Text in title or description.")] = None,
                   detected_from: UtcDateTime | None = None, detected_to: UtcDateTime | None = None,
                   closed_from: UtcDateTime | None = None, closed_to: UtcDateTime | None = None) -> Any:
    """Incidents, newest first, filtered by status, severity, metric, text and time ranges."""
    rows, total = service.list_(session=session, limit=limit, offset=offset, status=status, severity=severity,
                                metric=metric, q=q, detected_from=detected_from, detected_to=detected_to,
                                closed_from=closed_from, closed_to=closed_to)
    return Page[IncidentOut](items=[service.to_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{incident_id}", response_model=IncidentOut, responses=NOT_FOUND)
def get_incident(incident_id: str, session: SessionDep, _: Viewer) -> Any:
    return service.to_out(load(session, incident_id))


@router.patch("/{incident_id}", response_model=IncidentOut,
              responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "Illegal status move or times."}})
def update_incident(incident_id: str, body: IncidentUpdate, session: SessionDep, who: Responder) -> Any:
    """Change fields; status moves open -> mitigated -> closed (reopen allowed) and are time-stamped."""
    row = load(session, incident_id)
    try:
        return service.to_out(service.update(session=session, row=row, data=body, actor=who.name))
    except service.Conflict as err:
        raise HTTPException(409, detail=str(err)) from None


@router.post("/{incident_id}/timeline", response_model=IncidentOut, status_code=201, responses=NOT_FOUND)
def add_timeline_event(incident_id: str, body: TimelineEventIn, session: SessionDep, who: Responder) -> Any:
    """Append a note or event to the incident's timeline."""
    return service.to_out(service.add_event(session=session, row=load(session, incident_id), event=body,
                                            actor=who.name))


@router.delete("/{incident_id}", status_code=204, responses=NOT_FOUND)
def delete_incident(incident_id: str, session: SessionDep, _: Admin) -> Response:
    service.delete(session=session, row=load(session, incident_id))
    return Response(status_code=204)
