"""API keys (stored as SHA-256 hashes), roles viewer < responder < admin, and a per-key rate limit.

Keys are 32 random bytes, so a fast hash is enough (nothing to brute-force); the plain key is shown once.
``RCA_AUTH_DISABLED=true`` (dev only, off by default) makes every request an admin named ``dev``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import ApiKeyRow, new_id, utcnow

Role = Literal["viewer", "responder", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (what the audit log records) and its role."""

    name: str
    role: Role
    key_id: str


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, *, name: str, role: Role) -> tuple[ApiKeyRow, str]:
    """Store a new key's hash and return the row and the plain key (shown once, never stored)."""
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    token = "rca_" + secrets.token_urlsafe(32)
    row = ApiKeyRow(id=new_id("key"), name=name, role=role, hashed=hash_key(token))
    session.add(row)
    session.commit()
    return row, token


def revoke_key(session: Session, *, key_id: str) -> bool:
    """Mark a key revoked; False if no such key."""
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        return False
    row.revoked_at = utcnow()
    session.commit()
    return True


class RateLimiter:
    """Token bucket per key: ``per_minute`` requests, refilled continuously; thread-safe."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class KeyCache:
    """hash -> principal for 30 s, so a read does not pay a key lookup; revocation lands within that."""

    TTL_S = 30.0

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def get(self, hashed: str) -> tuple[bool, Principal | None]:
        with self._lock:
            hit = self._items.get(hashed)
        if hit is None or time.monotonic() - hit[0] > self.TTL_S:
            return False, None
        return True, hit[1]

    def put(self, hashed: str, principal: Principal | None) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[hashed] = (time.monotonic(), principal)


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authenticate(request: Request) -> Principal:
    """The caller, or 401 saying what is missing or wrong; then the rate limit (429 with Retry-After)."""
    state = request.app.state
    if state.settings.auth_disabled:
        return Principal(name="dev", role="admin", key_id="dev")
    token = _token(request)
    if token is None:
        raise HTTPException(401, detail="missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    hashed = hash_key(token)
    cached, principal = state.key_cache.get(hashed)
    if not cached:
        with state.sessions() as session:
            row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.hashed == hashed)).first()
            principal = None if row is None or row.revoked_at is not None else Principal(
                name=row.name, role=row.role, key_id=row.id)
        state.key_cache.put(hashed, principal)
    if principal is None:
        raise HTTPException(401, detail="invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    wait = state.rate_limiter.take(principal.key_id)
    if wait > 0:
        raise HTTPException(429, detail=f"rate limit exceeded for key '{principal.name}': "
                            f"{state.settings.rate_limit_per_minute} requests per minute",
                            headers={"Retry-After": str(max(1, round(wait)))})
    return principal


def require(role: Role) -> object:
    """A dependency admitting ``role`` and the roles above it; 403 names the role needed."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if RANK[principal.role] < RANK[role]:
            raise HTTPException(403, detail=f"key '{principal.name}' has role '{principal.role}'; "
                                f"this needs '{role}' or higher")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Admin = Annotated[Principal, Depends(require("admin"))]
