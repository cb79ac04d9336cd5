"""Liveness, readiness and Prometheus metrics for load balancers and the on-call engineer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import SettingsDep
from api.errors import USER_ERRORS, one_line

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    workspace: str
    llm: str


class Ready(BaseModel):
    ready: bool
    database: str
    workspace: str


@router.get("/healthz", response_model=Health)
def healthz(settings: SettingsDep) -> Any:
    """Process is up; says which workspace it serves and whether an LLM is configured."""
    return Health(status="ok", workspace=str(settings.workspace_dir),
                  llm="configured" if settings.llm_api_key else "offline analyst")


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "Not ready."}})
def readyz(request: Request) -> Any:
    """Ready when the state database answers and the workspace is open."""
    state = request.app.state
    database = workspace = "ok"
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any driver error means not ready
        database = f"unavailable: {one_line(err)}"
    try:
        state.workspace.get()
    except USER_ERRORS as err:
        workspace = f"unavailable: {one_line(err)}"
    ready = Ready(ready=database == workspace == "ok", database=database, workspace=workspace)
    return JSONResponse(ready.model_dump(), status_code=200 if ready.ready else 503)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}})
def metrics(request: Request) -> Response:
    """Prometheus scrape endpoint."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
