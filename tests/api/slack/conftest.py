"""The service app with its Slack bot, a temp workspace (the mini scenario), temp SQLite, and a Slack mock.

Requests are signed with slack_sdk's SignatureVerifier, exactly as Slack signs them, and go through the
FastAPI app over HTTP (TestClient); the bot's WebClient talks to the mock over real HTTP.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier

from api.main import create_app
from api.slack.bot import SlackBot
from api.slack.routes import mount_slack
from tests.api.slack.slack_mock import SlackMock, start_mock
from tests.conftest import write_mini_scenario
from tools.settings import Settings

SECRET = "test-signing-secret"
TEAM, CHANNEL, USER, BOT_USER = "T1", "C1", "U1", "UBOT"
_ids = count(1)


def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
    """The test installation (no auth.test round trip)."""
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id or TEAM, bot_token="xoxb-test",
                           bot_id="B1", bot_user_id=BOT_USER)


def slack_settings(root: Path, state: Path, mock: SlackMock, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(workspace_dir=root, app_db_url=f"sqlite:///{state / 'rca.db'}",
                                  chroma_path=state / "memory", embedding="lexical", auth_disabled=True,
                                  slack_signing_secret=SECRET, slack_api_url=mock.api_url,
                                  public_base_url="https://rca.example.com")
    values.update(extra)
    return Settings(**values)


def send(client: TestClient, body: str, content_type: str, *, secret: str = SECRET, ts: int | None = None,
         headers: dict[str, str] | None = None) -> Any:
    """POST a request signed the way Slack signs it (v0 HMAC over timestamp and body)."""
    stamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return client.post("/slack/events", content=body.encode(), headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
        **(headers or {})})


def command_body(text: str, mock: SlackMock, *, user: str = USER, trigger: str | None = None) -> str:
    return urlencode({"token": "x", "team_id": TEAM, "team_domain": "example", "channel_id": CHANNEL,
                      "channel_name": "incidents", "user_id": user, "user_name": "alice", "command": "/rca",
                      "text": text, "api_app_id": "A1", "response_url": f"{mock.base}/api/response_url",
                      "trigger_id": trigger or f"trig-{next(_ids)}"})


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> str:
    return json.dumps({"token": "x", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id or f"Ev{next(_ids)}", "event_time": int(time.time()), "event": event,
                       "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})


def action_body(action_id: str, value: str, *, thread_ts: str, user: str = USER) -> str:
    payload = {"type": "block_actions", "team": {"id": TEAM, "domain": "example"},
               "user": {"id": user, "team_id": TEAM}, "api_app_id": "A1", "trigger_id": f"trig-{next(_ids)}",
               "channel": {"id": CHANNEL}, "container": {"type": "message", "channel_id": CHANNEL},
               "message": {"ts": "1700000999.000001", "thread_ts": thread_ts, "type": "message"},
               "actions": [{"action_id": action_id, "block_id": f"rca_actions:{value}", "value": value,
                            "type": "button", "action_ts": str(time.time())}]}
    return urlencode({"payload": json.dumps(payload)})


def view_body(view: dict[str, Any], true_cause: str, *, user: str = USER, comment: str = "") -> str:
    """The "wrong" modal submitted (state as Slack sends it)."""
    state = {"values": {"true_cause": {"value": {"type": "plain_text_input", "value": true_cause}},
                        "comment": {"value": {"type": "plain_text_input", "value": comment}}}}
    payload = {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
               "api_app_id": "A1", "trigger_id": f"trig-{next(_ids)}",
               "view": {**view, "id": view.get("id", "V1"), "hash": f"h-{next(_ids)}", "state": state}}
    return urlencode({"payload": json.dumps(payload)})


FORM, JSON = "application/x-www-form-urlencoded", "application/json"


@pytest.fixture(scope="module")
def mock() -> Iterator[SlackMock]:
    m = start_mock()
    yield m
    m.close()


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_scenario(tmp_path_factory.mktemp("slack-ws") / "mini")


@pytest.fixture(scope="module")
def client(mini_root: Path, mock: SlackMock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(slack_settings(mini_root, tmp_path_factory.mktemp("slack-state"), mock))
    mount_slack(app, authorize=authorize)
    with TestClient(app) as c:
        incident = json.loads((mini_root / "incident.json").read_text())
        assert c.post("/api/v1/incidents", json=incident).status_code == 201
        again = {**incident, "id": "INC-MINI2", "title": "Raw IPs in web logs, again"}
        assert c.post("/api/v1/incidents", json=again).status_code == 201
        ping = {**incident, "id": "INC-PING", "title": "<!channel> raw IPs & more in <web> logs"}
        assert c.post("/api/v1/incidents", json=ping).status_code == 201
        broken = {**incident, "id": "INC-BROKEN", "metric": "no_such_metric", "title": "Broken metric"}
        assert c.post("/api/v1/incidents", json=broken).status_code == 201
        yield c


@pytest.fixture(scope="module")
def bot(client: TestClient) -> SlackBot:
    b: SlackBot = client.app.state.slack_bot  # type: ignore[attr-defined]
    return b
