"""Signing, staleness, URL verification and the unconfigured bot: what Slack's front door must refuse."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.slack.conftest import FORM, JSON, SECRET, command_body, event_body, send, slack_settings
from tests.api.slack.slack_mock import Call, SlackMock


def _investigations(client: TestClient) -> int:
    return int(client.get("/api/v1/investigations").json()["total"])


def test_bad_signature_is_rejected(client: TestClient, mock: SlackMock):
    before, calls = _investigations(client), len(mock.calls)
    r = send(client, command_body("INC-MINI", mock), FORM, secret="not-the-secret")
    assert r.status_code == 401
    unsigned = client.post("/slack/events", content=command_body("INC-MINI", mock).encode(),
                           headers={"Content-Type": FORM})
    assert unsigned.status_code == 401
    assert _investigations(client) == before and len(mock.calls) == calls


def test_stale_timestamp_is_rejected(client: TestClient, mock: SlackMock):
    """Correctly signed but more than 5 minutes old (a replay): 401; 4 minutes old is still fine."""
    before = _investigations(client)
    old = send(client, command_body("INC-MINI", mock), FORM, ts=int(time.time()) - 6 * 60)
    assert old.status_code == 401
    recent = send(client, command_body("help", mock), FORM, ts=int(time.time()) - 4 * 60)
    assert recent.status_code == 200 and "/rca INC-123" in recent.text
    assert _investigations(client) == before


def test_url_verification(client: TestClient):
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    r = send(client, body, JSON)
    assert r.status_code == 200 and r.json() == {"challenge": "c-123"}


def test_unknown_incident_is_said_in_the_ack(client: TestClient, mock: SlackMock, bot):
    before = _investigations(client)
    r = send(client, command_body("INC-NOPE", mock), FORM)
    assert r.status_code == 200 and "incident 'INC-NOPE' not found" in r.text
    assert bot.wait_idle(60)
    assert _investigations(client) == before


def test_unconfigured_bot_answers_503(tmp_path: Path, mini_root: Path, mock: SlackMock):
    settings = slack_settings(mini_root, tmp_path, mock, slack_signing_secret=None)
    with TestClient(create_app(settings)) as c:
        r = send(c, event_body({"type": "app_mention", "text": "hi", "channel": "C1", "ts": "1.1"}), JSON,
                 secret=SECRET)
        assert r.status_code == 503 and "RCA_SLACK_SIGNING_SECRET" in r.json()["detail"]


def _posted_in(calls: list[Call], *, thread_ts: str) -> list[Call]:
    return [x for x in calls if x.method == "chat.postMessage" and x.params.get("thread_ts") == thread_ts]


def test_default_authorize_reads_the_token_from_settings(tmp_path: Path, mini_root: Path, mock: SlackMock):
    """No authorize given: the settings' bot token, identified once through auth.test (on the mock)."""
    settings = slack_settings(mini_root, tmp_path, mock, slack_bot_token="xoxb-from-settings")
    auth_calls = len(mock.of("auth.test"))
    with TestClient(create_app(settings)) as c:
        for text in ("<@UBOT> help", "<@UBOT> help"):
            ts = f"{time.time():.6f}"
            assert send(c, event_body({"type": "app_mention", "text": text, "channel": "C9", "user": "U1",
                                       "ts": ts}), JSON).status_code == 200
            mock.wait_for(partial(_posted_in, thread_ts=ts))
        assert c.app.state.slack_bot.wait_idle(60)  # type: ignore[attr-defined]
    assert len(mock.of("auth.test")) == auth_calls + 1
