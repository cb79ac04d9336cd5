"""FastAPI dependencies: settings, the state store and the workspace, as ``Annotated`` types."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.errors import USER_ERRORS, one_line
from api.store import Store
from tools.settings import Settings, get_settings
from tools.workspace import Workspace


def settings_dep(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


SettingsDep = Annotated[Settings, Depends(settings_dep)]


def store_dep(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(store_dep)]


@lru_cache(maxsize=4)
def _open_workspace(root: str, settings_json: str) -> Workspace:
    return Workspace.open(Path(root), settings=Settings.model_validate_json(settings_json))


def workspace_dep(settings: SettingsDep) -> Workspace:
    """The configured workspace, opened once; a broken one is a 503 naming the problem."""
    try:
        return _open_workspace(str(settings.workspace_dir), settings.model_dump_json())
    except USER_ERRORS as err:
        raise HTTPException(status_code=503, detail=f"workspace unavailable: {one_line(err)}") from None


WorkspaceDep = Annotated[Workspace, Depends(workspace_dep)]
