"""The FastAPI service: incidents, investigations (background worker pool), chat, feedback, impact, batch
RCA, catalog and guarded SQL, health and metrics. Docs at /docs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth import KeyCache, RateLimiter
from api.db import make_engine, make_sessionmaker
from api.deps import WarmWorkspace
from api.errors import USER_ERRORS, one_line
from api.incidents import views as incidents
from api.investigations import views as investigations
from api.investigations.worker import Worker
from api.metrics import Metrics
from api.middleware import BodyLimit, RequestMetrics
from api.migrate import upgrade
from api.routes import health, workspace
from tools.settings import Settings, get_settings

log = logging.getLogger("rca.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings (temp workspace, temp SQLite)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(app.state.engine)
        try:
            app.state.workspace.get()  # warm: open once, before the first request
        except USER_ERRORS as err:
            log.warning("workspace unavailable at start: %s", one_line(err))
        resumed, failed = app.state.worker.recover()
        if resumed or failed:
            log.warning("recovered after restart: %d investigation(s) resumed, %d failed", len(resumed), len(failed))
        yield
        app.state.worker.shutdown()

    app = FastAPI(title="rca", version="0.2.0", lifespan=lifespan,
                  description="Root-cause analysis for data, privacy and trust-and-safety incidents. "
                              "Authenticate with `Authorization: Bearer <key>` (`rca keys create`).")
    state = app.state
    state.settings = settings
    state.engine = make_engine(settings.app_db_url)
    state.sessions = make_sessionmaker(state.engine)
    state.metrics = Metrics()
    state.workspace = WarmWorkspace(settings)
    state.key_cache = KeyCache()
    state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    state.worker = Worker(sessions=state.sessions, workspace=state.workspace, metrics=state.metrics,
                          workers=settings.workers, max_attempts=settings.max_attempts)
    for module in (health, workspace, incidents, investigations):
        app.include_router(module.router)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, err: OverflowError) -> JSONResponse:
        return JSONResponse({"detail": f"a number or time in the request is out of range: {one_line(err)}"},
                            status_code=422)

    app.add_middleware(RequestMetrics, metrics=state.metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    # --- Slack bot (api/slack): POST /slack/events, 503 until RCA_SLACK_SIGNING_SECRET is set ---
    from api.slack.routes import mount_slack

    mount_slack(app)
    # --- end Slack bot ---
    return app


app = create_app()
