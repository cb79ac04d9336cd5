"""Restart recovery and the Postgres backend: nothing a responder submitted is lost across a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from agent.incident import Incident
from api.db import InvestigationRow
from api.investigations import service as investigations
from tests.api.postgres_server import postgres_server
from tests.api.service_helpers import app_client, key, settings_for, wait_done
from tests.conftest import write_mini_scenario


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_scenario(tmp_path_factory.mktemp("dur-ws") / "mini")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        if url is None:
            pytest.skip("no Postgres server binaries usable on this machine")
        yield url


def _restart_recovers(settings_kwargs: dict[str, object], mini_root: Path, state: Path) -> None:
    settings = settings_for(mini_root, state, **settings_kwargs)  # type: ignore[arg-type]
    incident = Incident.model_validate(json.loads((mini_root / "incident.json").read_text()))
    with app_client(settings) as first:
        with first.app.state.sessions() as s:  # type: ignore[attr-defined]
            # What a killed process leaves behind: one queued, one mid-run, one mid-run for the last allowed time.
            ids = [investigations.create(session=s, incident=incident, created_by="alice").id for _ in range(3)]
            s.execute(update(InvestigationRow).where(InvestigationRow.id == ids[1]).values(status="running",
                                                                                         attempts=1))
            s.execute(update(InvestigationRow).where(InvestigationRow.id == ids[2]).values(status="running",
                                                                                         attempts=2))
            s.commit()
    with app_client(settings) as second:
        h = key(second, "viewer")
        results = [wait_done(second, f"/api/v1/investigations/{i}", h) for i in ids]
    assert [r["status"] for r in results] == ["done", "done", "failed"]
    assert results[0]["report"]["root_causes"][0]["id"] == "d-2"
    assert results[1]["trace"][0]["step"] == "resumed after a service restart" and results[1]["attempts"] == 2
    assert results[2]["error"].startswith("interrupted by a service restart 2 time(s)")


def test_restart_resumes_or_fails_with_reason_sqlite(mini_root: Path, tmp_path: Path):
    _restart_recovers({}, mini_root, tmp_path)


def test_restart_resumes_or_fails_with_reason_postgres(mini_root: Path, tmp_path: Path, pg_url: str):
    _restart_recovers({"app_db_url": pg_url}, mini_root, tmp_path)


def test_incidents_and_investigations_on_postgres(mini_root: Path, tmp_path: Path, pg_url: str):
    with app_client(settings_for(mini_root, tmp_path, app_db_url=pg_url)) as c:
        h = key(c, "responder")
        body = json.loads((mini_root / "incident.json").read_text())
        body["id"] = "INC-PG"
        assert c.post("/api/v1/incidents", json=body, headers=h).status_code == 201
        r = c.post("/api/v1/incidents/INC-PG/investigations", headers=h)
        done = wait_done(c, r.headers["location"], h)
        assert done["status"] == "done" and done["report"]["root_causes"][0]["id"] == "d-2"
        page = c.get("/api/v1/incidents?q=raw", headers=h).json()
        assert "INC-PG" in {i["id"] for i in page["items"]}
