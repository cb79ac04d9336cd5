"""The FastAPI service: health, workspace (catalog, guarded SQL) and investigations. Docs at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.routes import health, investigations, workspace
from api.store import Store
from tools.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings (temp workspace, temp SQLite)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="rca", version="0.1.0", lifespan=lifespan,
                  description="Root-cause analysis for data, privacy and trust-and-safety incidents.")
    app.state.settings = settings or get_settings()
    app.state.store = Store(app.state.settings.app_db_url)
    app.include_router(health.router)
    app.include_router(workspace.router)
    app.include_router(investigations.router)
    return app


app = create_app()
