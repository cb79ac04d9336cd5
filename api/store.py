"""The service's own state: investigations and their outcome (SQLite by default, Postgres by URL).

A failed investigation is recorded as failed with its reason: nothing a responder submitted is lost.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
investigations = sa.Table(
    "investigations", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("incident_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),          # running | done | failed
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("report", sa.Text),
    sa.Column("error", sa.Text),
)


class Store:
    """Thin repository over SQLAlchemy Core; one instance per app."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        metadata.create_all(self.engine)

    def start(self, *, incident_id: str, request: dict[str, Any]) -> str:
        """Record a new running investigation and return its id."""
        inv_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(investigations.insert().values(
                id=inv_id, incident_id=incident_id, status="running", created_at=datetime.now(UTC).replace(tzinfo=None),
                request=json.dumps(request, default=str)))
        return inv_id

    def finish(self, inv_id: str, *, report: dict[str, Any] | None = None, error: str | None = None) -> None:
        """Close an investigation as done (with its report) or failed (with its reason)."""
        with self.engine.begin() as conn:
            conn.execute(investigations.update().where(investigations.c.id == inv_id).values(
                status="failed" if error else "done", finished_at=datetime.now(UTC).replace(tzinfo=None),
                report=json.dumps(report) if report is not None else None, error=error))

    def get(self, inv_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(investigations.select().where(investigations.c.id == inv_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["report"] = json.loads(out["report"]) if out["report"] else None
        out["request"] = json.loads(out["request"])
        return out

    def list(self, *, limit: int = 50) -> list[dict[str, Any]]:
        cols = [investigations.c.id, investigations.c.incident_id, investigations.c.status,
                investigations.c.created_at, investigations.c.finished_at, investigations.c.error]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).order_by(investigations.c.created_at.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]
