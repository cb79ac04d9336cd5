"""/api/v1/investigations and /api/v1/incidents/{id}/investigations: queue (202), poll, report, chart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from agent.incident import Incident
from agent.report import Report
from api import idempotency
from api.auth import Principal, Responder, Viewer
from api.common import ERRORS, ErrorBody, Limit, Offset, Page
from api.deps import SessionDep, WorkspaceDep
from api.errors import USER_ERRORS, one_line
from api.incidents import service as incidents
from api.investigations import service
from api.investigations.chart import render_png
from api.investigations.models import InvestigationAccepted, InvestigationOut, InvestigationStatus, InvestigationSummary
from api.investigations.render import report_markdown
from api.investigations.worker import Worker

router = APIRouter(prefix="/api/v1", tags=["investigations"], responses=ERRORS)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such investigation."}}


def worker_dep(request: Request) -> Worker:
    worker: Worker = request.app.state.worker
    return worker


WorkerDep = Annotated[Worker, Depends(worker_dep)]


def _queue(*, request: Request, session: SessionDep, worker: Worker, who: Principal, incident: Incident) -> Any:
    body = incident.model_dump(mode="json")
    replayed = idempotency.replay(session=session, request=request, principal=who, body=body)
    if replayed is not None:
        return replayed
    row = service.create(session=session, incident=incident, created_by=who.name)
    worker.submit(row.id)
    out = jsonable_encoder(InvestigationAccepted(id=row.id, status="queued", links=service.links(row)))
    location = out["links"]["self"]
    idempotency.remember(session=session, request=request, principal=who, body=body, status_code=202,
                         payload=out, location=location)
    return JSONResponse(out, status_code=202, headers={"Location": location})


@router.post("/incidents/{incident_id}/investigations", status_code=202, response_model=InvestigationAccepted,
             responses={404: {"model": ErrorBody, "description": "No such incident."}})
def investigate_incident(incident_id: str, request: Request, session: SessionDep, worker: WorkerDep,
                         who: Responder) -> Any:
    """Start an investigation of a stored incident; poll the Location until status is done or failed."""
    row = incidents.get(session=session, incident_id=incident_id)
    if row is None:
        raise HTTPException(404, detail=f"incident '{incident_id}' not found")
    return _queue(request=request, session=session, worker=worker, who=who,
                  incident=incidents.to_engine_incident(row))


@router.post("/investigations", status_code=202, response_model=InvestigationAccepted)
def investigate_adhoc(incident: Incident, request: Request, session: SessionDep, worker: WorkerDep,
                      who: Responder) -> Any:
    """Investigate an incident given inline (incident.json's shape) without filing it first."""
    return _queue(request=request, session=session, worker=worker, who=who, incident=incident)


@router.get("/investigations", response_model=Page[InvestigationSummary])
def list_investigations(session: SessionDep, _: Viewer, limit: Limit = 50, offset: Offset = 0,
                        incident_id: str | None = None, status: InvestigationStatus | None = None,
                        batch_id: str | None = None) -> Any:
    """Investigations, newest first (without their reports)."""
    rows, total = service.list_(session=session, limit=limit, offset=offset, incident_id=incident_id,
                                status=status, batch_id=batch_id)
    return Page[InvestigationSummary](items=[service.to_summary(r) for r in rows], total=total, limit=limit,
                                      offset=offset)


MARKDOWN_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/markdown": {"schema": {"type": "string"}}},
          "description": "JSON, or the report as markdown with `Accept: text/markdown`."}}


@router.get("/investigations/{investigation_id}", response_model=InvestigationOut,
            responses={**NOT_FOUND, **MARKDOWN_OR_JSON})
def get_investigation(investigation_id: str, request: Request, session: SessionDep, _: Viewer) -> Any:
    """Status, timings and trace; the report once done (markdown when asked)."""
    row = service.get(session=session, investigation_id=investigation_id)
    if row is None:
        raise HTTPException(404, detail=f"investigation '{investigation_id}' not found")
    return _render(row, request)


@router.get("/incidents/{incident_id}/investigations/latest", response_model=InvestigationOut,
            responses={404: {"model": ErrorBody, "description": "The incident has no investigation."},
                       **MARKDOWN_OR_JSON})
def get_latest_investigation(incident_id: str, request: Request, session: SessionDep, _: Viewer) -> Any:
    """The incident's newest investigation (any status), like GET /investigations/{id}."""
    rows, _total = service.list_(session=session, limit=1, offset=0, incident_id=incident_id)
    if not rows:
        raise HTTPException(404, detail=f"incident '{incident_id}' has no investigation")
    return _render(rows[0], request)


def _render(row: Any, request: Request) -> Any:
    out = service.to_out(row)
    if "text/markdown" in request.headers.get("accept", ""):
        if out.report is None:
            text = f"# {row.incident_id}\n\nInvestigation `{row.id}` is {row.status}" + (
                f": {row.error}\n" if row.error else ".\n")
        else:
            text = report_markdown(out.report, investigation_id=row.id)
        return Response(text, media_type="text/markdown; charset=utf-8")
    return out


@router.get("/investigations/{investigation_id}/chart.png", response_class=Response,
            responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "Not done yet (no report)."},
                       200: {"content": {"image/png": {}}, "description": "The metric with the anomaly window "
                                                                            "and the candidate changes marked."}})
def get_chart(investigation_id: str, session: SessionDep, ws: WorkspaceDep, _: Viewer) -> Response:
    """PNG chart of the metric around the incident."""
    row = service.get(session=session, investigation_id=investigation_id)
    if row is None:
        raise HTTPException(404, detail=f"investigation '{investigation_id}' not found")
    if row.report is None:
        raise HTTPException(409, detail=f"investigation '{investigation_id}' is {row.status}: no report to chart")
    report = Report.model_validate(row.report)
    if report.metric not in ws.catalog.metrics:
        raise HTTPException(409, detail=f"metric '{report.metric}' is no longer in the catalog")
    try:
        png = render_png(report=report, workspace=ws, filters=(row.request or {}).get("filters") or {})
    except USER_ERRORS as err:
        raise HTTPException(409, detail=f"chart query failed: {one_line(err)}") from None
    return Response(png, media_type="image/png")
