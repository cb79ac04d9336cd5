"""The HTTP API through a real app: temp workspace (the mini scenario), temp SQLite state, real investigations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.service_helpers import app_client, key, settings_for, wait_done
from tests.conftest import EXAMPLE, copy_scenario, write_mini_scenario

SPEC_KEYS = {"incident_id", "metric", "anomaly", "root_causes", "segments", "impact", "similar_incidents",
             "evidence", "narrative"}


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_scenario(tmp_path_factory.mktemp("api-ws") / "mini")


@pytest.fixture(scope="module")
def client(mini_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with app_client(settings_for(mini_root, tmp_path_factory.mktemp("api-state"))) as c:
        yield c


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    return key(client, "admin")


@pytest.fixture(scope="module")
def responder(client: TestClient) -> dict[str, str]:
    return key(client, "responder", "alice")


@pytest.fixture(scope="module")
def viewer(client: TestClient) -> dict[str, str]:
    return key(client, "viewer")


@pytest.fixture(scope="module")
def incident(client: TestClient, mini_root: Path, responder: dict[str, str]) -> dict[str, Any]:
    body = json.loads((mini_root / "incident.json").read_text())
    body["services"] = ["web-frontend"]
    r = client.post("/api/v1/incidents", json=body, headers=responder)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/incidents/{body['id']}"
    return r.json()


@pytest.fixture(scope="module")
def done(client: TestClient, incident: dict[str, Any], responder: dict[str, str]) -> dict[str, Any]:
    """One real investigation of the mini scenario's incident, run once for the module."""
    r = client.post(f"/api/v1/incidents/{incident['id']}/investigations", headers=responder)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.headers["location"] == r.json()["links"]["self"]
    return wait_done(client, r.headers["location"], responder)


def test_healthz_readyz_metrics(client: TestClient, mini_root: Path):
    assert client.get("/healthz").json() == {"status": "ok", "workspace": str(mini_root), "llm": "offline analyst"}
    assert client.get("/readyz").json() == {"ready": True, "database": "ok", "workspace": "ok"}
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'rca_http_requests_total{method="GET",route="/healthz",status="200"}' in text


def test_openapi_declares_response_models(client: TestClient):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/healthz", "/readyz", "/metrics", "/api/v1/catalog", "/api/v1/sql", "/api/v1/incidents",
            "/api/v1/incidents/{incident_id}", "/api/v1/incidents/{incident_id}/investigations",
            "/api/v1/investigations", "/api/v1/investigations/{investigation_id}",
            "/api/v1/investigations/{investigation_id}/chart.png"} <= set(paths)
    get_inv = paths["/api/v1/investigations/{investigation_id}"]["get"]["responses"]["200"]["content"]
    assert get_inv["application/json"]["schema"] == {"$ref": "#/components/schemas/InvestigationOut"}
    assert "text/markdown" in get_inv
    adhoc = paths["/api/v1/investigations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert adhoc == {"$ref": "#/components/schemas/Incident"}
    assert "Report" in spec["components"]["schemas"]


def test_incident_crud_and_status_moves(client: TestClient, responder: dict[str, str], admin: dict[str, str]):
    body = {"id": "INC-CRUD", "title": "Reports spam spike", "detected_at": "2026-03-13T02:00:00+02:00",
            "severity": "SEV3", "metric": "raw_ip_rate"}
    created = client.post("/api/v1/incidents", json=body, headers=responder)
    assert created.status_code == 201 and created.json()["detected_at"] == "2026-03-13T00:00:00"
    assert client.post("/api/v1/incidents", json=body, headers=responder).status_code == 409
    bad = client.patch("/api/v1/incidents/INC-CRUD", json={"status": "closed"}, headers=responder)
    assert bad.status_code == 200 and bad.json()["closed_at"]            # open -> closed is allowed
    r = client.patch("/api/v1/incidents/INC-CRUD", json={"status": "mitigated"}, headers=responder)
    assert r.status_code == 409 and r.json()["detail"].startswith("status: cannot move from 'closed' to 'mitigated'")
    r = client.patch("/api/v1/incidents/INC-CRUD", json={"status": "open"}, headers=responder)
    assert r.status_code == 200 and r.json()["closed_at"] is None
    r = client.patch("/api/v1/incidents/INC-CRUD", json={"status": "mitigated", "title": "Spam spike"},
                     headers=responder)
    assert r.json()["status"] == "mitigated" and r.json()["title"] == "Spam spike"
    kinds = [e["kind"] for e in r.json()["timeline"]]
    assert kinds == ["created", "status", "status", "status", "updated"]
    r = client.post("/api/v1/incidents/INC-CRUD/timeline", json={"text": "rolled back d-2"}, headers=responder)
    assert r.status_code == 201 and r.json()["timeline"][-1]["text"] == "rolled back d-2"
    assert r.json()["timeline"][-1]["by"] == "alice"
    listed = client.get("/api/v1/incidents?status=mitigated&q=spam", headers=responder).json()
    assert [i["id"] for i in listed["items"]] == ["INC-CRUD"] and listed["total"] == 1
    assert client.delete("/api/v1/incidents/INC-CRUD", headers=responder).status_code == 403
    assert client.delete("/api/v1/incidents/INC-CRUD", headers=admin).status_code == 204
    assert client.get("/api/v1/incidents/INC-CRUD", headers=responder).status_code == 404


def test_incident_validation_names_the_field(client: TestClient, responder: dict[str, str]):
    r = client.post("/api/v1/incidents", json={"title": "x", "detected_at": "2026-03-13T02:00:00Z",
                                               "status": "closed"}, headers=responder)
    assert r.status_code == 422 and "closed_at is required" in r.text
    r = client.post("/api/v1/incidents", json={"title": "x", "detected_at": "0001-01-01T00:00:00+05:00"},
                    headers=responder)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "detected_at"]
    r = client.post("/api/v1/incidents", json={"title": "", "detected_at": "nope", "severity": "SEV9"},
                    headers=responder)
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert {("body", "title"), ("body", "detected_at"), ("body", "severity")} <= locs


def test_investigation_done_with_report(done: dict[str, Any]):
    assert done["status"] == "done", done
    report = done["report"]
    assert SPEC_KEYS <= set(report)
    assert report["incident_id"] == "INC-MINI" and report["root_causes"][0]["id"] == "d-2"
    assert done["run_ms"] > 0 and done["queue_ms"] is not None and done["attempts"] == 1
    assert [s["step"] for s in done["trace"]][:2] == ["series of raw_ip_rate", "segments"]
    assert done["created_by"] == "alice"
    assert "usr0" not in json.dumps(report)      # no raw user ids (they all start with usr0)


def test_investigation_markdown_and_chart(client: TestClient, done: dict[str, Any], viewer: dict[str, str]):
    md = client.get(done["links"]["self"], headers={**viewer, "Accept": "text/markdown"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# INC-MINI: raw_ip_rate") and "| 1 | change | d-2 |" in md.text
    png = client.get(done["links"]["chart"], headers=viewer)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and len(png.content) > 10_000


def test_investigation_sql_is_audited(client: TestClient, done: dict[str, Any], admin: dict[str, str]):
    audit = client.get(f"/api/v1/audit?source=investigation:{done['id']}", headers=admin).json()
    assert audit["total"] > 3 and {a["actor"] for a in audit["items"]} == {"alice"}


def test_adhoc_investigation_takes_an_incident(client: TestClient, mini_root: Path, responder: dict[str, str]):
    body = {"id": "INC-X", "title": "t", "detected_at": "2026-03-13T02:00:00Z", "metric": "no_such_metric"}
    r = client.post("/api/v1/investigations", json=body, headers=responder)
    assert r.status_code == 202
    failed = wait_done(client, r.headers["location"], responder)
    assert failed["status"] == "failed" and "unknown metric 'no_such_metric'" in failed["error"]
    assert failed["report"] is None
    md = client.get(r.headers["location"], headers={**responder, "Accept": "text/markdown"}).text
    assert "failed: " in md and "no_such_metric" in md
    chart = client.get(failed["links"]["chart"], headers=responder)
    assert chart.status_code == 409 and "no report" in chart.json()["detail"]
    r = client.post("/api/v1/investigations", json={"id": "INC-Y", "detected_at": "not a time"}, headers=responder)
    assert r.status_code == 422 and {tuple(e["loc"]) for e in r.json()["detail"]} == {("body", "title"),
                                                                                      ("body", "detected_at")}


def test_list_investigations_filters(client: TestClient, done: dict[str, Any], viewer: dict[str, str]):
    page = client.get("/api/v1/investigations?incident_id=INC-MINI&status=done&limit=1", headers=viewer).json()
    assert page["items"][0]["id"] == done["id"] and page["limit"] == 1 and "report" not in page["items"][0]
    assert client.get("/api/v1/investigations?limit=0", headers=viewer).status_code == 422
    assert client.get("/api/v1/investigations?status=weird", headers=viewer).status_code == 422


def test_idempotency_key_replays_the_first_response(client: TestClient, responder: dict[str, str]):
    body = {"title": "Same request twice", "detected_at": "2026-03-13T02:00:00Z"}
    h = {**responder, "Idempotency-Key": "abc-123"}
    first = client.post("/api/v1/incidents", json=body, headers=h)
    again = client.post("/api/v1/incidents", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.headers["idempotent-replayed"] == "true"
    other = client.post("/api/v1/incidents", json={**body, "title": "changed"}, headers=h)
    assert other.status_code == 422 and other.json()["detail"].startswith("Idempotency-Key header")
    total = client.get("/api/v1/incidents?q=same request", headers=responder).json()["total"]
    assert total == 1


def test_request_size_limit(client: TestClient, responder: dict[str, str]):
    big = {"title": "x", "detected_at": "2026-03-13T02:00:00Z", "description": "a" * 2_000_000}
    r = client.post("/api/v1/incidents", json=big, headers=responder)
    assert r.status_code == 413 and "larger than the limit of 1000000 bytes" in r.json()["detail"]


def test_nul_in_path_or_query_is_400(client: TestClient, viewer: dict[str, str]):
    r = client.get("/api/v1/incidents/INC%00X", headers=viewer)
    assert r.status_code == 400 and r.json()["detail"] == "path or query: contains a NUL character"
    assert client.get("/api/v1/incidents?q=a%00b", headers=viewer).status_code == 400


def test_sql_ok_and_audited(client: TestClient, responder: dict[str, str], admin: dict[str, str]):
    r = client.post("/api/v1/sql", json={"query": "select region, count(*) as n from logs group by region "
                                                  "order by region"}, headers=responder)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["region", "n"] and [row[0] for row in body["rows"]] == ["EU", "NA"]
    audit = client.get("/api/v1/audit?source=sql_endpoint&actor=alice", headers=admin).json()["items"]
    assert audit[0]["ok"] is True and "LIMIT" in audit[0]["sql"] and audit[0]["rows"] == 2


@pytest.mark.parametrize("query, rule", [
    ("select user_id from logs", "pii_exposed"),
    ("select ip_address || '' as ip from logs", "pii_exposed"),
    ("drop table logs", "read_only"),
    ("select * from secrets", "table_not_allowed"),
])
def test_sql_rejected_names_the_rule(client: TestClient, responder: dict[str, str], query: str, rule: str):
    r = client.post("/api/v1/sql", json={"query": query}, headers=responder)
    assert r.status_code == 400 and r.json()["detail"].startswith(f"{rule}:")


def test_catalog(client: TestClient, viewer: dict[str, str]):
    cat = client.get("/api/v1/catalog", headers=viewer).json()
    assert list(cat["metrics"]) == ["raw_ip_rate"] and cat["pii"] == {"logs": ["user_id", "ip_address"]}


# --- auth matrix -------------------------------------------------------------------------------------------

CALLS = [  # (method, path, json, least role)
    ("GET", "/api/v1/incidents", None, "viewer"),
    ("GET", "/api/v1/catalog", None, "viewer"),
    ("POST", "/api/v1/incidents", {"title": "auth", "detected_at": "2026-03-13T02:00:00Z"}, "responder"),
    ("POST", "/api/v1/sql", {"query": "select 1 as x from logs"}, "responder"),
    ("GET", "/api/v1/audit", None, "admin"),
    ("GET", "/api/v1/keys", None, "admin"),
]
RANKS = ["viewer", "responder", "admin"]


@pytest.mark.parametrize("method, path, body, least", CALLS)
def test_auth_matrix(client: TestClient, admin: dict[str, str], responder: dict[str, str],
                     viewer: dict[str, str], method: str, path: str, body: Any, least: str):
    r = client.request(method, path, json=body)
    assert r.status_code == 401 and r.json()["detail"].startswith("missing API key")
    r = client.request(method, path, json=body, headers={"Authorization": "Bearer rca_nope"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked API key"
    for role, headers in zip(RANKS, (viewer, responder, admin), strict=True):
        r = client.request(method, path, json=body, headers=headers)
        if RANKS.index(role) < RANKS.index(least):
            assert r.status_code == 403 and f"this needs '{least}' or higher" in r.json()["detail"], r.text
        else:
            assert r.status_code in (200, 201), (role, r.text)


def test_health_needs_no_key(client: TestClient):
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200


def test_keys_api_create_and_revoke(client: TestClient, admin: dict[str, str]):
    r = client.post("/api/v1/keys", json={"name": "bot", "role": "viewer"}, headers=admin)
    assert r.status_code == 201 and r.json()["key"].startswith("rca_")
    h = {"X-API-Key": r.json()["key"]}
    assert client.get("/api/v1/incidents", headers=h).status_code == 200
    assert client.delete(f"/api/v1/keys/{r.json()['id']}", headers=admin).status_code == 204
    client.app.state.key_cache = type(client.app.state.key_cache)()  # type: ignore[attr-defined]  # skip the TTL
    assert client.get("/api/v1/incidents", headers=h).status_code == 401
    assert client.post("/api/v1/keys", json={"name": "x", "role": "root"}, headers=admin).status_code == 422


def test_rate_limit_per_key(tmp_path: Path, mini_root: Path):
    with app_client(settings_for(mini_root, tmp_path, rate_limit_per_minute=3)) as c:
        a, b = key(c, "viewer", "a"), key(c, "viewer", "b")
        codes = [c.get("/api/v1/incidents", headers=a).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = c.get("/api/v1/incidents", headers=a)
        assert "rate limit exceeded for key 'a'" in limited.json()["detail"]
        assert int(limited.headers["retry-after"]) >= 1
        assert c.get("/api/v1/incidents", headers=b).status_code == 200


def test_auth_disabled_dev_setting(tmp_path: Path, mini_root: Path):
    with app_client(settings_for(mini_root, tmp_path, auth_disabled=True)) as c:
        assert c.get("/api/v1/audit").status_code == 200


def test_broken_workspace_is_503_naming_the_problem(tmp_path: Path):
    root = copy_scenario(EXAMPLE, tmp_path / "ws")
    cat = root / "catalog.yaml"
    cat.write_text(cat.read_text().replace("timestamp: signup_time", "timestamp: signed_up_at"))
    (tmp_path / "state").mkdir()
    with app_client(settings_for(root, tmp_path / "state", auth_disabled=True)) as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "signed_up_at" in ready.json()["workspace"]
        r = c.get("/api/v1/catalog")
        assert r.status_code == 503 and "signed_up_at" in r.json()["detail"]
