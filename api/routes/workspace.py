"""The workspace: its catalog and guarded SQL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import WorkspaceDep
from api.errors import USER_ERRORS, one_line

router = APIRouter(prefix="/api/v1", tags=["workspace"])


class SqlRequest(BaseModel):
    query: str = Field(..., min_length=1, description="One read-only SELECT over catalog tables.")


class SqlResponse(BaseModel):
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    elapsed_ms: float
    truncated: bool


@router.get("/catalog")
def get_catalog(ws: WorkspaceDep) -> dict[str, Any]:
    """The semantic layer the engine uses (metrics, change sources, experiments, graph)."""
    return ws.catalog.model_dump(mode="json")


@router.post("/sql")
def run_sql(body: SqlRequest, ws: WorkspaceDep) -> SqlResponse:
    """Run a query through the SQL guard; a rejection is a 400 that names the rule."""
    try:
        result = ws.query(body.query)
    except USER_ERRORS as err:
        raise HTTPException(status_code=400, detail=one_line(err)) from None
    return SqlResponse(sql=result.sql, columns=result.columns, rows=[list(r) for r in result.rows],
                       elapsed_ms=result.elapsed_ms, truncated=result.truncated)
