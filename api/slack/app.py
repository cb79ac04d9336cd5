"""The Slack Bolt app: slash command, mentions, thread follow-ups and buttons, each acked at once and worked
lazily (Slack wants an answer within 3 s; an investigation takes longer).

Signing-secret verification is Bolt's built-in middleware and stays on: a bad signature or a timestamp more
than 5 minutes off is a 401. Installations come from an ``authorize`` function, so serving several workspaces
means passing one backed by an installation store; the default serves the token in settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from api.slack.blocks import WRONG_VIEW
from api.slack.bot import SlackBot
from tools.settings import Settings

log = logging.getLogger("rca.slack")
LAZY_THREADS = 8  # lazy work in flight at once (each follows one investigation or answers one question)


def settings_authorize(settings: Settings) -> Callable[..., AuthorizeResult | None]:
    """The default installation: the bot token in settings, its identity read once with auth.test."""
    cache: dict[str, AuthorizeResult] = {}
    lock = threading.Lock()

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult | None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        if not token:
            log.error("Slack request from team %s but RCA_SLACK_BOT_TOKEN is not set", team_id)
            return None
        with lock:
            if "result" not in cache:
                client = WebClient(token=token, base_url=settings.slack_api_url)
                cache["result"] = AuthorizeResult.from_auth_test_response(
                    bot_token=token, auth_test_response=client.auth_test())
            return AuthorizeResult(**cache["result"])  # a copy: Bolt sets request details on it

    return authorize


class CountingExecutor(ThreadPoolExecutor):
    """Bolt's lazy-listener pool, counting work from the moment it is queued (inside the request), so
    ``SlackBot.wait_idle`` cannot miss work that was accepted but has not started yet."""

    def __init__(self, bot: SlackBot, *, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="rca-slack")
        self.bot = bot

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.bot.enter()

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self.bot.leave()

        try:
            return super().submit(run)
        except BaseException:  # not queued (pool shut down): nothing will leave for it
            self.bot.leave()
            raise


def build_bolt_app(bot: SlackBot, *, authorize: Callable[..., AuthorizeResult | None] | None = None) -> App:
    """The Bolt app over ``bot``; ``authorize`` defaults to the settings' single installation."""
    settings = bot.settings
    if settings.slack_signing_secret is None:
        raise ValueError("RCA_SLACK_SIGNING_SECRET is not set: the Slack bot cannot verify requests")
    app = App(
        name="rca",
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        authorize=authorize or settings_authorize(settings),  # type: ignore[arg-type]  # None = not installed
        client=WebClient(base_url=settings.slack_api_url),
        process_before_response=True,  # ack synchronously in the request; the real work is lazy
        listener_executor=CountingExecutor(bot, max_workers=LAZY_THREADS),
    )

    def ack_event(ack: Ack) -> None:
        ack()

    def ack_command(ack: Ack, body: dict[str, Any]) -> None:
        ack(text=bot.ack_text(str(body.get("text") or "")))

    def command(body: dict[str, Any], client: WebClient, respond: Any) -> None:
        bot.on_command(body=body, client=client, respond=respond)

    def mention(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        bot.on_mention(body=body, event=event, client=client)

    def message(body: dict[str, Any], event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        bot.on_message(body=body, event=event, client=client, context=context)

    def action(body: dict[str, Any], client: WebClient) -> None:
        bot.on_action(body=body, client=client)

    def ack_wrong_view(ack: Ack, body: dict[str, Any]) -> None:
        """Check the modal in the ack, so a missing true cause is shown on the field (the API's own rule)."""
        try:
            bot.verdict_from_view(body.get("view") or {})
        except ValidationError as err:
            ack(response_action="errors", errors={"true_cause": err.errors()[0]["msg"][:150]})
            return
        ack()

    def wrong_view(body: dict[str, Any], client: WebClient) -> None:
        bot.on_view_submission(body=body, client=client)

    app.command("/rca")(ack=ack_command, lazy=[command])
    app.event("app_mention")(ack=ack_event, lazy=[mention])
    app.event("message")(ack=ack_event, lazy=[message])
    app.action("rca_rerun")(ack=ack_event, lazy=[action])
    app.action("rca_correct")(ack=ack_event, lazy=[action])
    app.action("rca_wrong")(ack=ack_event, lazy=[action])
    app.view(WRONG_VIEW)(ack=ack_wrong_view, lazy=[wrong_view])
    app.action("rca_open_report")(ack_event)  # a link button: Slack still posts the click; nothing to do
    return app
