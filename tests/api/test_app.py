"""The HTTP API through a real app: temp workspace (the mini scenario), temp SQLite state, real investigations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.conftest import EXAMPLE, copy_scenario, write_mini_scenario
from tools.settings import Settings

SPEC_KEYS = {"incident_id", "metric", "anomaly", "root_causes", "segments", "impact", "similar_incidents",
             "evidence", "narrative"}


def _client(root: Path, state: Path) -> TestClient:
    settings = Settings(workspace_dir=root, app_db_url=f"sqlite:///{state / 'rca.db'}", chroma_path=state / "memory",
                        embedding="lexical")
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_scenario(tmp_path_factory.mktemp("api-ws") / "mini")


@pytest.fixture(scope="module")
def client(mini_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with _client(mini_root, tmp_path_factory.mktemp("api-state")) as c:
        yield c


@pytest.fixture(scope="module")
def done(client: TestClient, mini_root: Path) -> dict[str, Any]:
    """One real investigation of the mini scenario's incident, run once for the module."""
    body = json.loads((mini_root / "incident.json").read_text())
    response = client.post("/api/v1/investigations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_healthz(client: TestClient, mini_root: Path):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "workspace": str(mini_root), "llm": "offline analyst"}


def test_docs_and_openapi(client: TestClient):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json").json()
    assert {"/healthz", "/api/v1/catalog", "/api/v1/sql", "/api/v1/investigations",
            "/api/v1/investigations/{investigation_id}"} <= set(spec["paths"])


def test_catalog(client: TestClient):
    r = client.get("/api/v1/catalog")
    assert r.status_code == 200
    cat = r.json()
    assert list(cat["metrics"]) == ["raw_ip_rate"] and cat["metrics"]["raw_ip_rate"]["table"] == "logs"
    assert cat["changes"]["deployments"]["scope"] == ["platform", "region"]
    assert cat["pii"] == {"logs": ["user_id", "ip_address"]}


def test_sql_ok(client: TestClient):
    r = client.post("/api/v1/sql", json={"query": "select region, count(*) as n from logs group by region "
                                                  "order by region"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["region", "n"] and [row[0] for row in body["rows"]] == ["EU", "NA"]
    assert body["rows"][0][1] == body["rows"][1][1] > 0
    assert "LIMIT" in body["sql"] and body["truncated"] is False


@pytest.mark.parametrize("query, rule", [
    ("select user_id from logs", "pii_exposed"),
    ("select ip_address || '' as ip from logs", "pii_exposed"),
    ("drop table logs", "read_only"),
    ("select * from secrets", "table_not_allowed"),
])
def test_sql_rejected_names_the_rule(client: TestClient, query: str, rule: str):
    r = client.post("/api/v1/sql", json={"query": query})
    assert r.status_code == 400
    assert r.json()["detail"].startswith(f"{rule}:")


def test_sql_malformed_body(client: TestClient):
    assert client.post("/api/v1/sql", json={"query": ""}).status_code == 422
    assert client.post("/api/v1/sql", json={}).status_code == 422


def test_investigation_done(client: TestClient, done: dict[str, Any]):
    assert done["status"] == "done"
    report = done["report"]
    assert SPEC_KEYS <= set(report)
    assert report["incident_id"] == "INC-MINI" and report["metric"] == "raw_ip_rate"
    assert report["root_causes"][0]["kind"] == "change" and report["root_causes"][0]["id"] == "d-2"
    assert [rc["rank"] for rc in report["root_causes"]] == list(range(1, len(report["root_causes"]) + 1))
    assert {"d-1", "d-2"} <= {rc["id"] for rc in report["root_causes"] if rc["kind"] == "change"}
    assert "usr0" not in json.dumps(report)      # no raw user ids (they all start with usr0)


def test_investigation_is_stored_and_listed(client: TestClient, done: dict[str, Any]):
    r = client.get(f"/api/v1/investigations/{done['investigation_id']}")
    assert r.status_code == 200
    row = r.json()
    assert row["status"] == "done" and row["error"] is None and row["finished_at"]
    assert row["report"] == done["report"] and row["request"]["id"] == "INC-MINI"
    listed = client.get("/api/v1/investigations").json()
    assert done["investigation_id"] in {x["id"] for x in listed}


def test_unknown_metric_is_400_and_recorded_failed(client: TestClient):
    body = {"id": "INC-X", "title": "t", "detected_at": "2026-03-13T02:00:00Z", "metric": "no_such_metric"}
    r = client.post("/api/v1/investigations", json=body)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "unknown metric 'no_such_metric'" in detail["error"]
    row = client.get(f"/api/v1/investigations/{detail['investigation_id']}").json()
    assert row["status"] == "failed" and "unknown metric 'no_such_metric'" in row["error"]
    assert row["report"] is None and row["request"] == body


def test_malformed_incident_is_422_and_recorded_failed(client: TestClient):
    body = {"id": "INC-Y", "detected_at": "not a time", "window": {"start": "2026-03-13T02:00:00Z",
                                                                   "end": "2026-03-12T02:00:00Z"}}
    r = client.post("/api/v1/investigations", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "title" in detail["error"] and "detected_at" in detail["error"] and "window" in detail["error"]
    row = client.get(f"/api/v1/investigations/{detail['investigation_id']}").json()
    assert row["status"] == "failed" and row["error"] == detail["error"] and row["incident_id"] == "INC-Y"


def test_unknown_investigation_is_404(client: TestClient):
    assert client.get("/api/v1/investigations/does-not-exist").status_code == 404


def test_broken_workspace_is_503_naming_the_problem(tmp_path: Path):
    root = copy_scenario(EXAMPLE, tmp_path / "ws")
    cat = root / "catalog.yaml"
    cat.write_text(cat.read_text().replace("timestamp: signup_time", "timestamp: signed_up_at"))
    (tmp_path / "state").mkdir()
    with _client(root, tmp_path / "state") as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/api/v1/catalog")
        assert r.status_code == 503
        assert "metrics.age_gate_skip_rate.timestamp" in r.json()["detail"] and "signed_up_at" in r.json()["detail"]


def test_state_folder_is_created_for_an_absolute_sqlite_path(mini_root: Path, tmp_path: Path):
    with _client(mini_root, tmp_path / "new" / "state") as c:
        assert c.get("/api/v1/investigations").json() == []
