"""/api/v1/incidents/{id}/impact: JSON, markdown or CSV (Accept header or ?format=)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response

from agent.report import Report
from api.auth import Viewer
from api.common import ERRORS, ErrorBody
from api.deps import SessionDep, SettingsDep, WorkspaceDep
from api.errors import USER_ERRORS, one_line
from api.impact import service
from api.impact.models import ImpactReport
from api.incidents import service as incidents
from api.investigations import service as investigations

router = APIRouter(prefix="/api/v1", tags=["impact"], responses=ERRORS)
IMPACT_ERRORS: tuple[type[BaseException], ...] = (service.NoImpact, *USER_ERRORS)


@router.get("/incidents/{incident_id}/impact", response_model=ImpactReport,
            responses={404: {"model": ErrorBody, "description": "No such incident."},
                       409: {"model": ErrorBody, "description": "No finished investigation to size."},
                       200: {"content": {"text/markdown": {"schema": {"type": "string"}},
                                         "text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, markdown or CSV."}})
def get_impact(incident_id: str, request: Request, session: SessionDep, ws: WorkspaceDep, settings: SettingsDep,
               _: Viewer, format: Literal["json", "markdown", "csv"] | None = None) -> Any:
    """Affected units by every catalog dimension, data categories, window and method; counts < k suppressed."""
    row = incidents.get(session=session, incident_id=incident_id)
    if row is None:
        raise HTTPException(404, detail=f"incident '{incident_id}' not found")
    inv = investigations.latest_done(session=session, incident_id=incident_id)
    if inv is None or inv.report is None:
        raise HTTPException(409, detail=f"incident '{incident_id}' has no finished investigation: start one first")
    try:
        report = service.build(ws=ws, report=Report.model_validate(inv.report), investigation_id=inv.id,
                               filters=(inv.request or {}).get("filters") or {}, k=settings.impact_k)
    except IMPACT_ERRORS as err:
        raise HTTPException(409, detail=one_line(err)) from None
    accept = request.headers.get("accept", "")
    fmt = format or ("csv" if "text/csv" in accept else "markdown" if "text/markdown" in accept else "json")
    if fmt == "markdown":
        return Response(service.to_markdown(report), media_type="text/markdown; charset=utf-8")
    if fmt == "csv":
        return Response(service.to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{incident_id}-impact.csv"'})
    return report
