"""/api/v1/batch: re-investigate closed incidents in a date range (202 + Location), follow progress."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from api import idempotency
from api.auth import Responder, Viewer
from api.batch import service
from api.batch.models import BatchCreate, BatchOut
from api.common import ERRORS, ErrorBody, Limit, Offset, Page
from api.db import BatchRow
from api.deps import SessionDep

router = APIRouter(prefix="/api/v1/batch", tags=["batch"], responses=ERRORS)


@router.post("", status_code=202, response_model=BatchOut)
def start_batch(body: BatchCreate, request: Request, session: SessionDep, who: Responder) -> Any:
    """Start a batch RCA over incidents closed in [closed_from, closed_to); poll the Location for progress."""
    payload = body.model_dump(mode="json")
    replayed = idempotency.replay(session=session, request=request, principal=who, body=payload)
    if replayed is not None:
        return replayed
    row = service.create(session=session, data=body, actor=who.name)
    runtime = request.app.state.runtime
    threading.Thread(target=service.run, kwargs={"runtime": runtime, "batch_id": row.id,
                                                 "ingest_memory": body.ingest_memory},
                     name=f"rca-{row.id}", daemon=True).start()
    out = jsonable_encoder(service.to_out(row))
    location = f"/api/v1/batch/{row.id}"
    idempotency.remember(session=session, request=request, principal=who, body=payload, status_code=202,
                         payload=out, location=location)
    return JSONResponse(out, status_code=202, headers={"Location": location})


@router.get("", response_model=Page[BatchOut])
def list_batches(session: SessionDep, _: Viewer, limit: Limit = 50, offset: Offset = 0) -> Any:
    total = session.scalar(select(func.count()).select_from(BatchRow)) or 0
    rows = session.scalars(select(BatchRow).order_by(BatchRow.created_at.desc()).limit(limit).offset(offset)).all()
    return Page[BatchOut](items=[service.to_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{batch_id}", response_model=BatchOut,
            responses={404: {"model": ErrorBody, "description": "No such batch."}})
def get_batch(batch_id: str, session: SessionDep, _: Viewer) -> Any:
    """Progress (completed of total), each incident's comparison and the agreement rate."""
    row = session.get(BatchRow, batch_id)
    if row is None:
        raise HTTPException(404, detail=f"batch '{batch_id}' not found")
    return service.to_out(row)
