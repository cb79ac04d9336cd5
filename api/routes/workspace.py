"""The workspace: its catalog and guarded SQL (every query audit-logged with the caller's key name)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.auth import Admin, Responder, Viewer
from api.common import ERRORS, ErrorBody, Limit, Offset, Page, Text
from api.db import AuditRow
from api.deps import SessionDep, WorkspaceDep
from api.errors import USER_ERRORS, one_line

router = APIRouter(prefix="/api/v1", tags=["workspace"], responses=ERRORS)


class SqlRequest(BaseModel):
    query: Text = Field(..., min_length=1, max_length=20_000, description="One read-only SELECT over catalog tables.")


class SqlResponse(BaseModel):
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    elapsed_ms: float
    truncated: bool


class AuditEntry(BaseModel):
    id: int
    actor: str
    source: str
    sql: str
    ok: bool
    error: str | None
    rows: int | None
    created_at: datetime


@router.get("/catalog", response_model=dict[str, Any])
def get_catalog(ws: WorkspaceDep, _: Viewer) -> Any:
    """The semantic layer the engine uses (metrics, change sources, experiments, graph, PII columns)."""
    return ws.catalog.model_dump(mode="json")


@router.post("/sql", response_model=SqlResponse,
             responses={400: {"model": ErrorBody, "description": "The guard rejected it; detail names the rule."}})
def run_sql(body: SqlRequest, request: Request, ws: WorkspaceDep, session: SessionDep, who: Responder) -> Any:
    """Run a query through the SQL guard; a rejection is a 400 naming the rule. Audit-logged either way."""
    metrics = request.app.state.metrics
    try:
        result = ws.query(body.query)
    except USER_ERRORS as err:
        session.add(AuditRow(actor=who.name, source="sql_endpoint", sql=body.query, ok=False, error=one_line(err)))
        session.commit()
        metrics.sql_queries.labels(outcome="rejected").inc()
        raise HTTPException(status_code=400, detail=one_line(err)) from None
    session.add(AuditRow(actor=who.name, source="sql_endpoint", sql=result.sql, ok=True, rows=len(result.rows)))
    session.commit()
    metrics.sql_queries.labels(outcome="ok").inc()
    rows = [[v if isinstance(v, int | float | str | bool) or v is None else str(v) for v in r] for r in result.rows]
    return SqlResponse(sql=result.sql, columns=result.columns, rows=rows, elapsed_ms=result.elapsed_ms,
                       truncated=result.truncated)


@router.get("/audit", response_model=Page[AuditEntry])
def list_audit(session: SessionDep, _: Admin, limit: Limit = 50, offset: Offset = 0, actor: Text | None = None,
               source: Text | None = None) -> Any:
    """Every SQL query run (endpoint and investigations) and by whom, newest first."""
    conds: list[Any] = []
    if actor:
        conds.append(AuditRow.actor == actor)
    if source:
        conds.append(AuditRow.source.startswith(source, autoescape=True))
    total = session.scalar(select(func.count()).select_from(AuditRow).where(*conds)) or 0
    rows = session.scalars(select(AuditRow).where(*conds).order_by(AuditRow.id.desc()).limit(limit).offset(offset))
    items = [AuditEntry.model_validate(r, from_attributes=True) for r in rows]
    return Page[AuditEntry](items=items, total=total, limit=limit, offset=offset)
