"""Build a real app over a temp workspace and temp state DB, mint keys, wait for investigations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role, create_key
from api.main import create_app
from tools.settings import Settings


def settings_for(root: Path, state: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = dict(workspace_dir=root, app_db_url=f"sqlite:///{state / 'rca.db'}",
                                chroma_path=state / "memory", embedding="lexical")
    return Settings(**{**base, **extra})


def key(client: TestClient, role: Role, name: str | None = None) -> dict[str, str]:
    """Auth headers for a fresh key of ``role`` stored in the app's own DB."""
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        _, token = create_key(session, name=name or f"test-{role}", role=role)
    return {"Authorization": f"Bearer {token}"}


def wait_done(client: TestClient, location: str, headers: dict[str, str], timeout_s: float = 120) -> dict[str, Any]:
    """Poll an investigation until it is done or failed."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(location, headers=headers).json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def app_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))
