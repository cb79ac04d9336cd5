"""Whole conversations through the app: /rca INC-... to a posted report with chart, Slack retries, follow-ups
in the thread, mentions, the buttons, and failures that must reach the thread."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.chat import service as chat
from api.db import InvestigationRow
from api.slack import store
from api.slack.bot import SlackBot
from tests.api.slack.conftest import (
    BOT_USER,
    CHANNEL,
    FORM,
    JSON,
    TEAM,
    USER,
    action_body,
    command_body,
    event_body,
    send,
    view_body,
)
from tests.api.slack.slack_mock import Call, SlackMock

PII = re.compile(r"usr\d{5}|10\.0\.\d{1,3}\.\d")  # the mini scenario's user ids and IPs


def _posts(calls: list[Call], thread_ts: str, needle: str = "") -> list[Call]:
    return [c for c in calls if c.method == "chat.postMessage" and c.params.get("thread_ts") == thread_ts
            and needle in json.dumps(c.params)]


def _report_cards(calls: list[Call], thread_ts: str) -> list[Call]:
    return [c for c in _posts(calls, thread_ts) if any(b.get("type") == "header" for b in c.params.get("blocks") or [])]


def _investigations(client: TestClient, incident_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/investigations", params={"incident_id": incident_id}
                                             ).json()["items"]
    return items


@pytest.fixture(scope="module")
def round_trip(client: TestClient, mock: SlackMock, bot: SlackBot) -> dict[str, Any]:
    """/rca INC-MINI, delivered twice (Slack's retry), followed to the posted report and chart."""
    body = command_body("INC-MINI", mock, trigger="trig-round-trip")
    first = send(client, body, FORM)
    assert first.status_code == 200 and "Investigating INC-MINI" in first.text
    retry = send(client, body, FORM, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200
    root = mock.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                             and "investigation of *INC-MINI*" in str(c.params.get("text"))), None))
    root_ts = mock.wait_for(lambda calls: next(
        (c.params["thread_ts"] for c in calls if c.method == "chat.postMessage" and c.params.get("thread_ts")
         and "investigation" in str(c.params.get("text")).lower()), None))
    card = mock.wait_for(lambda calls: next(iter(_report_cards(calls, root_ts)), None))
    mock.wait_for(lambda calls: [c for c in calls if c.method == "files.completeUploadExternal"
                                 and c.params.get("thread_ts") == root_ts])
    assert bot.wait_idle(120)
    return {"root": root, "root_ts": root_ts, "card": card}


def test_slash_command_posts_progress_then_report_and_chart(round_trip: dict[str, Any], client: TestClient,
                                                            mock: SlackMock):
    root_ts, card = round_trip["root_ts"], round_trip["card"]
    assert round_trip["root"].params["channel"] == CHANNEL and "thread_ts" not in round_trip["root"].params
    runs = _investigations(client, "INC-MINI")
    assert len(runs) == 1  # the retried delivery did not start a second one
    inv = runs[0]
    assert inv["status"] == "done" and inv["created_by"] == f"slack:{TEAM}:{USER}"
    # progress: posted in the thread, then updated until it says done
    progress = _posts(mock.calls, root_ts, inv["id"])[0]
    updates = [c for c in mock.of("chat.update") if c.params.get("ts") == progress.reply["ts"]]
    assert updates and "done" in updates[-1].params["text"]
    assert any("•" in json.dumps(u.params["blocks"], ensure_ascii=False) for u in updates)  # finished steps listed
    # the report card
    blocks = card.params["blocks"]
    text = json.dumps(blocks)
    report = client.get(f"/api/v1/investigations/{inv['id']}").json()["report"]
    top = report["root_causes"][0]
    assert blocks[0]["text"]["text"] == "INC-MINI: raw_ip_rate"
    assert f"`{top['id']}`" in text and f"score {top['score']:.2f}" in text
    assert "*Effect*" in text and "*Impact*" in text and "*Confidence*" in text
    if top.get("ci"):
        assert "95% CI" in text
    if len(report["root_causes"]) > 1:
        assert "Top alternatives" in text and f"`{report['root_causes'][1]['id']}`" in text
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert actions[0]["url"] == f"https://rca.example.com/api/v1/investigations/{inv['id']}"
    assert {a.get("action_id") for a in actions} >= {"rca_rerun", "rca_correct", "rca_wrong"}
    assert all(a.get("value") == inv["id"] for a in actions if a.get("action_id") != "rca_open_report")
    # the chart: files upload v2 into the same thread, real PNG bytes
    uploads = mock.of("upload")
    assert uploads and uploads[-1].raw.startswith(b"\x89PNG")
    complete = [c for c in mock.of("files.completeUploadExternal") if c.params.get("thread_ts") == root_ts][0]
    assert complete.params["channel_id"] == CHANNEL
    assert complete.params["files"][0]["id"] == uploads[-1].params["file_id"]


def test_late_retry_does_not_start_a_second_investigation(round_trip: dict[str, Any], client: TestClient,
                                                          mock: SlackMock, bot: SlackBot):
    body = command_body("INC-MINI", mock, trigger="trig-round-trip")
    assert send(client, body, FORM, headers={"X-Slack-Retry-Num": "2"}).status_code == 200
    assert bot.wait_idle(60)
    assert len(_investigations(client, "INC-MINI")) == 1


def test_follow_up_in_thread_continues_the_session(round_trip: dict[str, Any], client: TestClient,
                                                   mock: SlackMock, bot: SlackBot):
    root_ts = round_trip["root_ts"]
    sid = store.thread_session_id(team_id=TEAM, channel=CHANNEL, thread_ts=root_ts)
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as s:
        thread = store.get_thread(session=s, session_id=sid)
        assert thread is not None and thread.incident_id == "INC-MINI"
        before = len(chat.messages(session=s, session_id=sid))
    event = {"type": "message", "channel": CHANNEL, "user": "U2", "text": "what else could it be?",
             "ts": f"{time.time():.6f}", "thread_ts": root_ts}
    body = event_body(event, event_id="Ev-follow-up")
    assert send(client, body, JSON).status_code == 200
    assert send(client, body, JSON, headers={"X-Slack-Retry-Num": "1"}).status_code == 200
    answer = mock.wait_for(lambda calls: next(iter(_posts(calls, root_ts, "Other candidates")), None))
    report = client.get(f"/api/v1/investigations/{_investigations(client, 'INC-MINI')[-1]['id']}").json()["report"]
    if len(report["root_causes"]) > 1:
        assert f"`{report['root_causes'][1]['id']}`" in answer.params["text"]
    assert bot.wait_idle(60)
    assert len(_posts(mock.calls, root_ts, "Other candidates")) == 1  # the retry was not answered again
    with sessions() as s:
        assert len(chat.messages(session=s, session_id=sid)) == before + 2  # question + answer, same session
    # a second follow-up, same thread, same session
    event2 = {**event, "text": "show the SQL", "ts": f"{time.time():.6f}"}
    assert send(client, event_body(event2), JSON).status_code == 200
    sql = mock.wait_for(lambda calls: next(iter(_posts(calls, root_ts, "queries behind the report")), None))
    assert "SELECT" in sql.params["text"].upper()
    assert bot.wait_idle(60)
    with sessions() as s:
        assert len(chat.messages(session=s, session_id=sid)) == before + 4
    shown = client.get(f"/api/v1/chat/sessions/{sid}").json()  # an ordinary chat session to the API
    assert shown["incident_id"] == "INC-MINI" and len(shown["messages"]) == before + 4
    assert [m["role"] for m in shown["messages"][-2:]] == ["user", "assistant"]


def test_why_question_is_a_chat_turn_on_the_threads_investigation(round_trip: dict[str, Any], client: TestClient,
                                                                   mock: SlackMock, bot: SlackBot):
    """A non-look-up question goes through api.chat.events.answer_events, reusing the thread's finished run."""
    root_ts = round_trip["root_ts"]
    runs = len(_investigations(client, "INC-MINI"))
    event = {"type": "message", "channel": CHANNEL, "user": "U2", "text": "why did this happen?",
             "ts": f"{time.time():.6f}", "thread_ts": root_ts}
    assert send(client, event_body(event), JSON).status_code == 200
    answer = mock.wait_for(lambda calls: next(iter(_posts(calls, root_ts, "Most likely cause:")), None))
    top = round_trip["card"].params["blocks"][2]["text"]["text"]
    assert answer.params["text"].split("(")[0].split()[-1] in top  # the card's root cause id
    assert bot.wait_idle(60)
    assert len(_investigations(client, "INC-MINI")) == runs


def test_mention_about_an_uninvestigated_incident_runs_it(round_trip: dict[str, Any], client: TestClient,
                                                           mock: SlackMock, bot: SlackBot):
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "channel": CHANNEL, "user": USER, "ts": ts,
             "text": f"<@{BOT_USER}> what caused INC-MINI2?"}
    assert send(client, event_body(event), JSON).status_code == 200
    mock.wait_for(lambda calls: _posts(calls, ts, "Most likely cause:"))
    mock.wait_for(lambda calls: _report_cards(calls, ts))
    mock.wait_for(lambda calls: [c for c in calls if c.method == "files.completeUploadExternal"
                                 and c.params.get("thread_ts") == ts])
    assert bot.wait_idle(120)
    runs = _investigations(client, "INC-MINI2")
    assert len(runs) == 1 and runs[0]["status"] == "done" and runs[0]["created_by"] == f"slack:{TEAM}:{USER}"
    progress = _posts(mock.calls, ts, runs[0]["id"])[0]
    assert [c for c in mock.of("chat.update") if c.params.get("ts") == progress.reply["ts"]
            and "done" in c.params["text"]]


def test_other_threads_and_the_bots_own_messages_are_ignored(round_trip: dict[str, Any], client: TestClient,
                                                              mock: SlackMock, bot: SlackBot):
    n = len(mock.of("chat.postMessage"))
    stranger = {"type": "message", "channel": CHANNEL, "user": "U2", "text": "lunch?", "ts": "1700005000.000002",
                "thread_ts": "1700005000.000001"}
    own = {"type": "message", "channel": CHANNEL, "user": BOT_USER, "bot_id": "B1", "text": "echo",
           "ts": "1700005001.000001", "thread_ts": round_trip["root_ts"]}
    for event in (stranger, own):
        assert send(client, event_body(event), JSON).status_code == 200
    assert bot.wait_idle(60)
    assert len(mock.of("chat.postMessage")) == n


def test_mention_with_a_question_answers_in_its_thread(round_trip: dict[str, Any], client: TestClient,
                                                        mock: SlackMock):
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "channel": CHANNEL, "user": USER, "ts": ts,
             "text": f"<@{BOT_USER}> how confident are you about INC-MINI?"}
    assert send(client, event_body(event), JSON).status_code == 200
    answer = mock.wait_for(lambda calls: next(iter(_posts(calls, ts)), None))
    assert "Confidence in" in answer.params["text"] and "score" in answer.params["text"]
    sid = store.thread_session_id(team_id=TEAM, channel=CHANNEL, thread_ts=ts)
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        thread = store.get_thread(session=s, session_id=sid)
        assert thread is not None and thread.incident_id == "INC-MINI"  # bound from the question


def test_question_without_an_incident_lists_open_ones(client: TestClient, mock: SlackMock, bot: SlackBot):
    r = send(client, command_body("why is the raw ip rate up?", mock), FORM)
    assert r.status_code == 200
    root = mock.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                             and "why is the raw ip rate up?" in str(c.params.get("text"))), None))
    ts = root.reply["ts"]
    answer = mock.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                               and "Which incident?" in str(c.params.get("text"))), None))
    assert "`INC-MINI`" in answer.params["text"] and answer.params.get("thread_ts") == ts
    # an incident title is text from outside Slack: shown literally, never a ping or a link
    assert "&lt;!channel&gt; raw IPs &amp; more in &lt;web&gt; logs" in answer.params["text"]
    assert not any("<!channel>" in c.raw.decode("utf-8", "replace") for c in mock.calls)
    assert bot.wait_idle(60)


def test_feedback_buttons_store_feedback(round_trip: dict[str, Any], client: TestClient, mock: SlackMock,
                                         bot: SlackBot):
    """Correct is stored at once; wrong opens a modal asking for the true cause (required, as in the API)."""
    root_ts = round_trip["root_ts"]
    inv = _investigations(client, "INC-MINI")[-1]
    report = client.get(f"/api/v1/investigations/{inv['id']}").json()["report"]
    top = report["root_causes"][0]
    assert send(client, action_body("rca_correct", inv["id"], thread_ts=root_ts), FORM).status_code == 200
    mock.wait_for(lambda calls: _posts(calls, root_ts, "Recorded:"))
    assert send(client, action_body("rca_wrong", inv["id"], thread_ts=root_ts, user="U7"), FORM).status_code == 200
    opened = mock.wait_for(lambda calls: next((c for c in calls if c.method == "views.open"), None))
    view = {**opened.params["view"], **opened.reply["view"]}
    assert view["callback_id"] == "rca_wrong_submit" and json.loads(view["private_metadata"])["thread_ts"] == root_ts
    empty = send(client, view_body(view, "  ", user="U7"), FORM)  # no true cause: the field says so
    assert empty.status_code == 200 and empty.json()["response_action"] == "errors"
    assert "true_cause" in empty.json()["errors"]
    ok = send(client, view_body(view, "d-1", user="U7", comment="it was the iOS deploy"), FORM)
    assert ok.status_code == 200 and not ok.content
    mock.wait_for(lambda calls: _posts(calls, root_ts, "true cause: `d-1`"))
    assert bot.wait_idle(60)
    listed = client.get("/api/v1/feedback", params={"investigation_id": inv["id"]}).json()["items"]
    got = sorted((f["correct"], f["created_by"], f["true_cause"]) for f in listed)
    assert got == [(False, f"slack:{TEAM}:U7", "d-1"), (True, f"slack:{TEAM}:{USER}", top["id"])]
    assert all(f["incident_id"] == "INC-MINI" and f["concluded_cause"] == top["id"] for f in listed)
    assert any("iOS deploy" in f["comment"] for f in listed)


def test_rerun_button_posts_a_second_report(round_trip: dict[str, Any], client: TestClient, mock: SlackMock,
                                            bot: SlackBot):
    root_ts = round_trip["root_ts"]
    first = _investigations(client, "INC-MINI")[-1]
    assert send(client, action_body("rca_rerun", first["id"], thread_ts=root_ts), FORM).status_code == 200
    mock.wait_for(lambda calls: len(_report_cards(calls, root_ts)) >= 2)
    assert bot.wait_idle(120)
    runs = _investigations(client, "INC-MINI")
    assert len(runs) == 2 and all(r["status"] == "done" for r in runs)
    second = _report_cards(mock.calls, root_ts)[-1]
    new_id = next(r["id"] for r in runs if r["id"] != first["id"])
    assert new_id in json.dumps(second.params["blocks"])


def test_failed_investigation_is_said_in_the_thread(client: TestClient, mock: SlackMock, bot: SlackBot):
    assert send(client, command_body("INC-BROKEN", mock), FORM).status_code == 200
    warning = mock.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                                and ":warning:" in str(c.params.get("text"))
                                                and "INC-BROKEN failed" in str(c.params.get("text"))), None))
    assert warning.params.get("thread_ts") and "no_such_metric" in warning.params["text"]
    assert bot.wait_idle(60)
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.scalars(select(InvestigationRow).where(InvestigationRow.incident_id == "INC-BROKEN")).one()
        assert row.status == "failed"


def test_when_slack_refuses_the_thread_the_user_still_hears(client: TestClient, mock: SlackMock, bot: SlackBot):
    mock.fail["chat.postMessage"] = "not_in_channel"
    try:
        assert send(client, command_body("what happened?", mock), FORM).status_code == 200
        said = mock.wait_for(lambda calls: next((c for c in calls if c.method == "response_url"), None))
        assert "not_in_channel" in said.params["text"] and said.params["response_type"] == "ephemeral"
        assert bot.wait_idle(60)
    finally:
        mock.fail.clear()


def test_no_pii_in_anything_sent_to_slack(round_trip: dict[str, Any], mock: SlackMock):
    """The mini scenario's logs are full of user ids and IPs; none may reach a Slack message."""
    assert mock.calls
    for call in mock.calls:
        if call.method == "upload":
            continue  # PNG bytes
        assert not PII.search(call.raw.decode("utf-8", "replace")), (call.method, call.params)
