"""Chat (SSE), feedback, impact and batch RCA through the real app over the mini scenario."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.service_helpers import app_client, key, settings_for, wait_done
from tests.conftest import write_mini_scenario
from tools.memory import IncidentMemory


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_scenario(tmp_path_factory.mktemp("wf-ws") / "mini")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wf-state")


@pytest.fixture(scope="module")
def client(mini_root: Path, state: Path) -> Iterator[TestClient]:
    with app_client(settings_for(mini_root, state)) as c:
        yield c


@pytest.fixture(scope="module")
def responder(client: TestClient) -> dict[str, str]:
    return key(client, "responder", "bob")


@pytest.fixture(scope="module")
def incident_id(client: TestClient, mini_root: Path, responder: dict[str, str]) -> str:
    body = json.loads((mini_root / "incident.json").read_text())
    assert client.post("/api/v1/incidents", json=body, headers=responder).status_code == 201
    return str(body["id"])


def read_sse(response: Any) -> list[tuple[str, dict[str, Any]]]:
    events, kind = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


@pytest.fixture(scope="module")
def chat(client: TestClient, incident_id: str, responder: dict[str, str]) -> dict[str, Any]:
    r = client.post("/api/v1/chat/sessions", json={"incident_id": incident_id}, headers=responder)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    with client.stream("POST", f"/api/v1/chat/sessions/{sid}/messages", json={"content": "why did it jump?"},
                       headers=responder) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        first = read_sse(resp)
    return {"id": sid, "first": first}


def test_chat_streams_steps_then_tokens_then_done(chat: dict[str, Any]):
    kinds = [k for k, _ in chat["first"]]
    assert kinds[0] == "step" and kinds[-1] == "done"
    steps = [d["text"] for k, d in chat["first"] if k == "step"]
    assert steps[0] == "investigation queued" and "segments" in steps
    last_step = max(i for i, k in enumerate(kinds) if k == "step")
    assert kinds.index("token") > last_step          # the answer follows the steps
    answer = "".join(d["text"] for k, d in chat["first"] if k == "token")
    assert answer.startswith("Most likely cause: change d-2")
    assert chat["first"][-1][1]["investigation_id"].startswith("inv-")


def test_chat_history_and_follow_up_reuses_the_investigation(client: TestClient, chat: dict[str, Any],
                                                           responder: dict[str, str]):
    with client.stream("POST", f"/api/v1/chat/sessions/{chat['id']}/messages", json={"content": "and the impact?"},
                       headers=responder) as resp:
        second = read_sse(resp)
    assert [d["text"] for k, d in second if k == "step"] == ["reading the session's investigation"]
    assert second[-1][1]["investigation_id"] == chat["first"][-1][1]["investigation_id"]
    detail = client.get(f"/api/v1/chat/sessions/{chat['id']}", headers=responder).json()
    roles = [m["role"] for m in detail["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    answer = "".join(d["text"] for k, d in chat["first"] if k == "token")
    assert detail["messages"][1]["content"] == answer


def test_chat_bad_input(client: TestClient, responder: dict[str, str], chat: dict[str, Any]):
    r = client.post("/api/v1/chat/sessions", json={"incident_id": "INC-NOPE"}, headers=responder)
    assert r.status_code == 404 and r.json()["detail"].startswith("incident_id:")
    r = client.post(f"/api/v1/chat/sessions/{chat['id']}/messages", json={"content": ""}, headers=responder)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "content"]
    assert client.post("/api/v1/chat/sessions/chat-nope/messages", json={"content": "hi"},
                       headers=responder).status_code == 404


@pytest.fixture(scope="module")
def done(client: TestClient, chat: dict[str, Any], responder: dict[str, str]) -> dict[str, Any]:
    inv = chat["first"][-1][1]["investigation_id"]
    return wait_done(client, f"/api/v1/investigations/{inv}", responder)


def test_feedback(client: TestClient, done: dict[str, Any], responder: dict[str, str]):
    url = f"/api/v1/investigations/{done['id']}/feedback"
    r = client.post(url, json={"correct": False}, headers=responder)
    assert r.status_code == 422 and "true_cause is required when correct is false" in r.text
    r = client.post(url, json={"correct": True, "comment": "rolled back d-2, rate recovered"}, headers=responder)
    assert r.status_code == 201 and r.json()["concluded_cause"] == "d-2" and r.json()["true_cause"] == "d-2"
    r = client.post(url, json={"correct": False, "true_cause": "d-1"}, headers=responder)
    assert r.status_code == 201 and r.json()["created_by"] == "bob"
    listed = client.get(f"/api/v1/feedback?investigation_id={done['id']}&correct=false", headers=responder).json()
    assert listed["total"] == 1 and listed["items"][0]["true_cause"] == "d-1"
    assert client.get("/api/v1/feedback/stats", headers=responder).json() == {"total": 2, "correct": 1,
                                                                             "accuracy": 0.5}
    assert client.post("/api/v1/investigations/inv-nope/feedback", json={"correct": True},
                       headers=responder).status_code == 404


def _expected_units(mini_root: Path, start: str, end: str) -> dict[str, int]:
    """Independent count from the CSV: distinct users with a raw IP in the window, web/EU (d-2's scope)."""
    logs = pd.read_csv(mini_root / "data" / "logs.csv", parse_dates=["logged_at"])
    w = logs[(logs.logged_at >= datetime.fromisoformat(start)) & (logs.logged_at < datetime.fromisoformat(end))
             & logs.has_raw_ip & (logs.platform == "web") & (logs.region == "EU")]
    return {"total": int(w.user_id.nunique())}


def test_impact_json_markdown_csv(client: TestClient, done: dict[str, Any], incident_id: str, mini_root: Path,
                                  responder: dict[str, str]):
    r = client.get(f"/api/v1/incidents/{incident_id}/impact", headers=responder)
    assert r.status_code == 200, r.text
    imp = r.json()
    expected = _expected_units(mini_root, imp["window_start"], imp["window_end"])["total"]
    assert imp["affected_units"] == expected == done["report"]["impact"]["affected_units"] and expected >= 10
    assert imp["reach"] == "platform=web, region=EU" and imp["root_cause"] == "change d-2" and imp["k"] == 10
    dims = {b["dimension"]: {c["value"]: c["affected_units"] for c in b["counts"]} for b in imp["by_dimension"]}
    assert dims == {"platform": {"web": expected}, "region": {"EU": expected}}
    assert [(c["column"], c["category"]) for c in imp["data_categories"]] == [
        ("user_id", "account identifiers"), ("ip_address", "network identifiers (IP address)")]
    assert "count(distinct user_id)" in imp["method"]
    md = client.get(f"/api/v1/incidents/{incident_id}/impact", headers={**responder, "Accept": "text/markdown"})
    assert md.headers["content-type"].startswith("text/markdown") and "## By region" in md.text
    assert f"| EU | {expected} |" in md.text
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/incidents/{incident_id}/impact?format=csv",
                                                      headers=responder).text)))
    assert [(x["dimension"], x["value"], x["affected_units"]) for x in rows] == [
        ("total", "all", str(expected)), ("platform", "web", str(expected)), ("region", "EU", str(expected))]


def test_impact_suppresses_counts_under_k(done: dict[str, Any], incident_id: str, mini_root: Path, state: Path):
    with app_client(settings_for(mini_root, state, impact_k=100_000, auth_disabled=True)) as c:
        imp = c.get(f"/api/v1/incidents/{incident_id}/impact").json()
        assert imp["affected_units"] is None and imp["total_suppressed"] is True
        assert all(x["suppressed"] and x["affected_units"] is None for b in imp["by_dimension"] for x in b["counts"])
        text = c.get(f"/api/v1/incidents/{incident_id}/impact?format=csv").text
        assert str(done["report"]["impact"]["affected_units"]) not in text.split("\n", 1)[1]


def test_impact_needs_a_finished_investigation(client: TestClient, responder: dict[str, str]):
    client.post("/api/v1/incidents", json={"id": "INC-FRESH", "title": "t", "detected_at": "2026-03-13T02:00:00Z"},
                headers=responder)
    r = client.get("/api/v1/incidents/INC-FRESH/impact", headers=responder)
    assert r.status_code == 409 and "no finished investigation" in r.json()["detail"]
    assert client.get("/api/v1/incidents/INC-NOPE/impact", headers=responder).status_code == 404


def test_batch_rca_on_closed_incidents(client: TestClient, mini_root: Path, state: Path, responder: dict[str, str]):
    base = json.loads((mini_root / "incident.json").read_text())
    for inc_id, cause, closed in (("INC-B1", "d-2", "2026-03-14T10:00:00Z"), ("INC-B2", "d-1", "2026-03-15T10:00:00Z"),
                                  ("INC-B3", "d-2", "2026-04-20T10:00:00Z")):
        body = {**base, "id": inc_id, "title": f"Raw IPs in web logs ({inc_id})", "status": "closed",
                "closed_at": closed, "root_cause": {"kind": "change", "id": cause, "summary": f"deploy {cause}"}}
        assert client.post("/api/v1/incidents", json=body, headers=responder).status_code == 201
    r = client.post("/api/v1/batch", json={"closed_from": "2026-03-14", "closed_to": "2026-03-31", "concurrency": 1},
                    headers=responder)
    assert r.status_code == 202 and r.json()["status"] == "running"
    deadline = time.monotonic() + 300
    while (out := client.get(r.headers["location"], headers=responder).json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert out["status"] == "done", out
    assert (out["total"], out["completed"], out["compared"], out["agreed"]) == (2, 2, 2, 1)
    assert out["agreement_rate"] == 0.5 and out["ingested"] == 2
    verdicts = {x["incident_id"]: (x["concluded_cause"], x["agreed"]) for x in out["results"]}
    assert verdicts == {"INC-B1": ("d-2", True), "INC-B2": ("d-2", False)}
    listed = client.get(f"/api/v1/investigations?batch_id={out['id']}", headers=responder).json()
    assert listed["total"] == 2
    memory = IncidentMemory.open(path=state / "memory", embedding="lexical")
    hits = memory.search(text="raw IPs in web logs", k=5)
    assert {"INC-B1", "INC-B2"} <= {h.id for h in hits} and "INC-B3" not in {h.id for h in hits}
    bad = client.post("/api/v1/batch", json={"closed_from": "2026-03-31", "closed_to": "2026-03-14"},
                      headers=responder)
    assert bad.status_code == 422 and "closed_to must be after closed_from" in bad.text
