"""/api/v1/keys: admins create, list and revoke API keys (the plain key is returned once, at creation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.auth import Admin, Role, create_key, revoke_key
from api.common import ERRORS, ErrorBody, Text
from api.db import ApiKeyRow
from api.deps import SessionDep

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], responses=ERRORS)


class KeyCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=100, description="Who uses it (shown in the audit log).")
    role: Role


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret; shown only now, stored only as a hash.")


@router.post("", status_code=201, response_model=KeyCreated)
def create(body: KeyCreate, session: SessionDep, _: Admin) -> Any:
    row, token = create_key(session, name=body.name, role=body.role)
    return KeyCreated(id=row.id, name=row.name, role=row.role, created_at=row.created_at, revoked_at=None, key=token)


@router.get("", response_model=list[KeyOut])
def list_keys(session: SessionDep, _: Admin) -> Any:
    rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
    return [KeyOut.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/{key_id}", status_code=204, responses={404: {"model": ErrorBody, "description": "No such key."}})
def revoke(key_id: str, session: SessionDep, _: Admin) -> Response:
    """Revoke a key (takes effect within the 30 s key cache)."""
    if not revoke_key(session, key_id=key_id):
        raise HTTPException(404, detail=f"key '{key_id}' not found")
    return Response(status_code=204)
