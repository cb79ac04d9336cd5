"""Investigations over the served workspace: start one, read it back, list them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import ValidationError

from agent.incident import Incident
from agent.investigate import investigate
from api.deps import StoreDep, WorkspaceDep
from api.errors import USER_ERRORS, one_line

router = APIRouter(prefix="/api/v1/investigations", tags=["investigations"])


@router.post("", status_code=201)
def create_investigation(body: dict[str, Any], ws: WorkspaceDep, store: StoreDep) -> dict[str, Any]:
    """Investigate an incident (incident.json's shape); failures are stored as failed with the reason."""
    inv_id = store.start(incident_id=str(body.get("id", "?")), request=body)
    try:
        incident = Incident.model_validate(body)
    except ValidationError as err:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        store.finish(inv_id, error=msg)
        raise HTTPException(status_code=422, detail={"investigation_id": inv_id, "error": msg}) from None
    history = ws.root / "history.jsonl"
    try:
        report = investigate(workspace=ws, incident=incident, history=history if history.is_file() else None)
    except USER_ERRORS as err:
        store.finish(inv_id, error=one_line(err))
        raise HTTPException(status_code=400, detail={"investigation_id": inv_id, "error": one_line(err)}) from None
    except Exception as err:  # recorded, then surfaced as a 500 without a stack trace
        store.finish(inv_id, error=f"internal error: {one_line(err)}")
        raise HTTPException(status_code=500, detail={"investigation_id": inv_id,
                                                     "error": f"internal error: {one_line(err)}"}) from None
    data = report.model_dump(mode="json")
    store.finish(inv_id, report=data)
    return {"investigation_id": inv_id, "status": "done", "report": data}


@router.get("/{investigation_id}")
def get_investigation(investigation_id: str, store: StoreDep) -> dict[str, Any]:
    row = store.get(investigation_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"investigation {investigation_id} not found")
    return row


@router.get("")
def list_investigations(store: StoreDep, limit: int = 50) -> list[dict[str, Any]]:
    return store.list(limit=min(max(limit, 1), 500))
