"""Idempotency-Key on creates: a retried POST with the same key and body gets the first response again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db import IdempotencyRow

HEADER = "Idempotency-Key"


def _key(request: Request, principal: Principal) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not 1 <= len(raw) <= 100 or not raw.isprintable():
        raise HTTPException(422, detail=f"{HEADER} header: must be 1-100 printable characters")
    return f"{principal.key_id}:{request.url.path}:{raw}"[:200]


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def replay(*, session: Session, request: Request, principal: Principal, body: Any) -> JSONResponse | None:
    """The stored response for this key, None if new; the same key with another body is a 422."""
    key = _key(request, principal)
    if key is None:
        return None
    row = session.get(IdempotencyRow, key)
    if row is None:
        return None
    if row.fingerprint != _fingerprint(body):
        raise HTTPException(422, detail=f"{HEADER} header: already used with a different request body")
    headers = {"Idempotent-Replayed": "true", **({"Location": row.location} if row.location else {})}
    return JSONResponse(row.body, status_code=row.status_code, headers=headers)


def remember(*, session: Session, request: Request, principal: Principal, body: Any, status_code: int,
             payload: dict[str, Any], location: str | None = None) -> None:
    """Store the response of a first create under its key (no-op without the header)."""
    key = _key(request, principal)
    if key is None:
        return
    session.add(IdempotencyRow(key=key, fingerprint=_fingerprint(body), status_code=status_code,
                               body=payload, location=location))
    try:
        session.commit()
    except IntegrityError:  # a concurrent twin stored it first; its response is equivalent
        session.rollback()
