"""The FastAPI service: incidents, investigations (background worker pool), chat, feedback, impact, batch
RCA, catalog and guarded SQL, health and metrics. Docs at /docs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import keys
from api.batch import service as batches
from api.batch import views as batch
from api.chat import views as chat
from api.errors import USER_ERRORS, one_line
from api.feedback import views as feedback
from api.impact import views as impact
from api.incidents import views as incidents
from api.investigations import views as investigations
from api.middleware import BodyLimit, RequestMetrics
from api.routes import health, workspace
from api.runtime import Runtime
from tools.settings import Settings, get_settings

log = logging.getLogger("rca.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings (temp workspace, temp SQLite)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime.migrate()
        try:
            app.state.workspace.get()  # warm: open once, before the first request
        except USER_ERRORS as err:
            log.warning("workspace unavailable at start: %s", one_line(err))
        batches.fail_interrupted(sessions=app.state.sessions)
        resumed, failed = app.state.worker.recover()
        if resumed or failed:
            log.warning("recovered after restart: %d investigation(s) resumed, %d failed", len(resumed), len(failed))
        yield
        app.state.worker.shutdown()
        app.state.engine.dispose()

    app = FastAPI(title="rca", version="0.2.0", lifespan=lifespan,
                  description="Root-cause analysis for data, privacy and trust-and-safety incidents. "
                              "Authenticate with `Authorization: Bearer <key>` (`rca keys create`).")
    runtime = Runtime.build(settings)
    state = app.state
    state.runtime = runtime
    state.settings, state.engine, state.sessions, state.metrics = (runtime.settings, runtime.engine,
                                                                    runtime.sessions, runtime.metrics)
    state.workspace, state.worker, state.key_cache, state.rate_limiter = (runtime.workspace, runtime.worker,
                                                                          runtime.key_cache, runtime.rate_limiter)
    for module in (health, workspace, incidents, investigations, chat, feedback, impact, batch, keys):
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
