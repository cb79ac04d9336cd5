"""While an investigation runs: the progress message shows steps, and a question waits for the report
instead of starting a second run."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.investigate import investigate
from api.main import create_app
from api.slack.routes import mount_slack
from tests.api.slack.conftest import CHANNEL, FORM, JSON, authorize, command_body, event_body, send, slack_settings
from tests.api.slack.slack_mock import SlackMock


def test_question_during_a_run_does_not_start_another(tmp_path: Path, mini_root: Path, mock: SlackMock,
                                                      monkeypatch: pytest.MonkeyPatch):
    release = threading.Event()
    started = threading.Event()

    def held_engine(**kwargs: Any) -> Any:
        kwargs["progress"]("held by the test")
        started.set()
        assert release.wait(120)
        return investigate(**kwargs)

    monkeypatch.setattr("api.investigations.worker.investigate", held_engine)  # the thread mode's engine
    app = create_app(slack_settings(mini_root, tmp_path, mock, worker_mode="thread"))
    mount_slack(app, authorize=authorize)
    with TestClient(app) as c:
        incident = json.loads((mini_root / "incident.json").read_text())
        assert c.post("/api/v1/incidents", json={**incident, "id": "INC-HELD"}).status_code == 201
        assert send(c, command_body("INC-HELD", mock), FORM).status_code == 200
        assert started.wait(120)
        root = mock.wait_for(lambda calls: next((x for x in calls if x.method == "chat.postMessage"
                                                 and "investigation of *INC-HELD*" in str(x.params.get("text"))), None))
        root_ts = root.reply["ts"]
        # the step reached the progress message while the run is still held
        mock.wait_for(lambda calls: [x for x in calls if x.method == "chat.update" and x.params["channel"] == CHANNEL
                                     and "held by the test" in json.dumps(x.params.get("blocks"))])
        event = {"type": "message", "channel": CHANNEL, "user": "U2", "text": "why?", "ts": f"{time.time():.6f}",
                 "thread_ts": root_ts}
        assert send(c, event_body(event), JSON).status_code == 200
        waiting = mock.wait_for(lambda calls: next((x for x in calls if x.method == "chat.postMessage"
                                                    and x.params.get("thread_ts") == root_ts
                                                    and "still running" in str(x.params.get("text"))), None))
        assert "INC-HELD" in waiting.params["text"]
        release.set()
        mock.wait_for(lambda calls: [x for x in calls if x.method == "chat.postMessage"
                                     and x.params.get("thread_ts") == root_ts
                                     and any(b.get("type") == "header" for b in x.params.get("blocks") or [])])
        assert app.state.slack_bot.wait_idle(120)
        runs = c.get("/api/v1/investigations", params={"incident_id": "INC-HELD"}).json()
        assert runs["total"] == 1 and runs["items"][0]["status"] == "done"
