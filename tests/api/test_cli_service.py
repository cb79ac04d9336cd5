"""`rca keys create`, `rca seed` and `rca batch` as a user runs them (the console script, env settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.service_helpers import app_client, settings_for
from tests.conftest import write_mini_scenario


def rca(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from api.cli import app; app()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env, "PYTHONPATH": str(Path.cwd())})


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = write_mini_scenario(tmp_path_factory.mktemp("cli-ws") / "mini")
    history = {"id": "INC-OLD", "title": "Raw IPs in web logs after a logger deploy", "description": "past",
               "metric": "raw_ip_rate", "opened_at": "2026-03-12T15:00:00Z", "closed_at": "2026-03-14T09:00:00Z",
               "root_cause": {"kind": "change", "id": "d-2", "summary": "logger deploy"}}
    (root / "history.jsonl").write_text(json.dumps(history) + "\n")
    state = tmp_path_factory.mktemp("cli-state")
    return {"RCA_WORKSPACE_DIR": str(root), "RCA_APP_DB_URL": f"sqlite:///{state / 'rca.db'}",
            "RCA_CHROMA_PATH": str(state / "memory"), "RCA_EMBEDDING": "lexical", "STATE": str(state)}


def test_keys_create_prints_a_working_key(env: dict[str, str]):
    out = rca("keys", "create", "--name", "ci", "--role", "viewer", env=env)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("rca_") and "viewer" in out.stderr
    settings = settings_for(Path(env["RCA_WORKSPACE_DIR"]), Path(env["STATE"]))
    with app_client(settings) as c:
        assert c.get("/api/v1/incidents", headers={"X-API-Key": token}).status_code == 200
        assert c.post("/api/v1/incidents", json={"title": "x", "detected_at": "2026-01-01"},
                      headers={"X-API-Key": token}).status_code == 403
    bad = rca("keys", "create", "--name", "ci", "--role", "root", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --role must be one of")


def test_seed_then_batch(env: dict[str, str], tmp_path: Path):
    key_file = tmp_path / "key"
    seeded = rca("seed", "--key-file", str(key_file), env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 2 incident(s)" in seeded.stdout and "curl -si -X POST" in seeded.stdout
    assert key_file.read_text().strip() in seeded.stdout
    again = rca("seed", "--key-file", str(key_file), env=env)
    assert "seeded 0 incident(s)" in again.stdout and key_file.read_text().strip() in again.stdout
    batch = rca("batch", "--from", "2026-03-01", "--to", "2026-04-01", "--json", env=env)
    assert batch.returncode == 0, batch.stderr
    out = json.loads(batch.stdout)
    assert (out["status"], out["total"], out["agreed"], out["agreement_rate"], out["ingested"]) == (
        "done", 1, 1, 1.0, 1)
    assert "[1/1] INC-OLD: done, concluded d-2, recorded d-2 -> agrees" in batch.stderr
    bad = rca("batch", "--from", "yesterday", "--to", "2026-04-01", env=env)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --from: expected an ISO date or time " \
                                                         "(e.g. 2026-05-01), got 'yesterday'"


def test_make_run_curls_work(env: dict[str, str], tmp_path: Path):
    """The two printed commands, replayed against the app: start an investigation, fetch its report."""
    key_file = tmp_path / "key"
    seeded = rca("seed", "--key-file", str(key_file), env=env)
    token = key_file.read_text().strip()
    curls = [line.strip() for line in seeded.stdout.splitlines() if line.strip().startswith("curl")]
    assert len(curls) == 2
    post_path = curls[0].split("http://127.0.0.1:8000")[1]
    get_path = curls[1].split("http://127.0.0.1:8000")[1]
    settings = settings_for(Path(env["RCA_WORKSPACE_DIR"]), Path(env["STATE"]))
    with app_client(settings) as c:
        h = {"Authorization": f"Bearer {token}"}
        assert c.post(post_path, headers=h).status_code == 202
        md = _wait_markdown(c, get_path, h)
        assert md.startswith("# INC-MINI: raw_ip_rate") and "| 1 | change | d-2 |" in md


def _wait_markdown(c: TestClient, path: str, h: dict[str, str]) -> str:
    import time

    for _ in range(600):
        if c.get(path, headers=h).json()["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    return c.get(path, headers={**h, "Accept": "text/markdown"}).text
