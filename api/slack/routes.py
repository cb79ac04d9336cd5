"""``POST /slack/events``: every Slack request (events, the slash command, button clicks) enters here.

Bolt's dispatch is synchronous (signature check, ack, starting lazy work), so it runs in the threadpool rather
than on the event loop; the request/response conversion is the Starlette adapter's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from api.slack.app import build_bolt_app
from api.slack.bot import SlackBot

router = APIRouter(tags=["slack"])


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    bolt = getattr(request.app.state, "slack_app", None)
    if bolt is None:
        return JSONResponse({"detail": "the Slack bot is not configured: set RCA_SLACK_SIGNING_SECRET and "
                                       "RCA_SLACK_BOT_TOKEN"}, status_code=503)
    body = await request.body()
    response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
    return to_starlette_response(response)


def mount_slack(app: FastAPI, *, authorize: Callable[..., Any] | None = None) -> None:
    """Serve /slack/events on ``app`` (its warm state); without a signing secret the route answers 503."""
    state = app.state
    if not any(getattr(r, "path", None) == "/slack/events" for r in app.router.routes):
        app.include_router(router)
    if state.settings.slack_signing_secret is None:
        state.slack_bot = state.slack_app = None
        return
    state.slack_bot = SlackBot(settings=state.settings, sessions=state.sessions, worker=state.worker,
                               workspace=state.workspace)
    state.slack_app = build_bolt_app(state.slack_bot, authorize=authorize)
