"""FastAPI dependencies as ``Annotated`` types: settings (the one way in), a DB session, the warm workspace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from api.errors import USER_ERRORS, one_line
from tools.settings import Settings
from tools.workspace import Workspace


def settings_dep(request: Request) -> Settings:
    """The app's settings, built once in ``create_app``; routes never construct their own."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(settings_dep)]


def session_dep(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(session_dep)]


class WarmWorkspace:
    """The served workspace, opened once and shared by every request and worker (queries are serialized)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ws: Workspace | None = None
        self._lock = threading.Lock()
        self.error: str | None = None

    def get(self) -> Workspace:
        """The open workspace; a broken one raises the user error that says why (retried on the next call)."""
        if self._ws is not None:
            return self._ws
        with self._lock:
            if self._ws is None:
                try:
                    self._ws = Workspace.open(self.settings.workspace_dir, settings=self.settings)
                    self.error = None
                except USER_ERRORS as err:
                    self.error = one_line(err)
                    raise
        return self._ws


def workspace_dep(request: Request) -> Workspace:
    """The warm workspace; a broken one is a 503 naming the problem."""
    try:
        ws: Workspace = request.app.state.workspace.get()
        return ws
    except USER_ERRORS as err:
        raise HTTPException(status_code=503, detail=f"workspace unavailable: {one_line(err)}") from None


WorkspaceDep = Annotated[Workspace, Depends(workspace_dep)]
