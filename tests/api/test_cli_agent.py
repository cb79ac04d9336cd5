"""``rca investigate`` switches to the agent when an LLM endpoint is configured; ``rca ask`` answers with SQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from typer.testing import CliRunner

from agent.scripted import plan_follower
from api.cli import app
from tests.agent.openai_server import OpenAIStub
from tests.conftest import EXAMPLE, copy_scenario

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RCA_CHROMA_PATH", str(tmp_path / "memory"))
    monkeypatch.setenv("RCA_EMBEDDING", "lexical")
    monkeypatch.setenv("RCA_ARTIFACTS_DIR", str(tmp_path / "art"))
    monkeypatch.delenv("RCA_LLM_API_KEY", raising=False)
    monkeypatch.delenv("RCA_LLM_BASE_URL", raising=False)
    return copy_scenario(EXAMPLE, tmp_path / "ex")


def test_investigate_uses_the_agent_when_an_endpoint_is_set(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    offline = runner.invoke(app, ["investigate", str(env), "--json", "-q"])
    assert offline.exit_code == 0
    with OpenAIStub(plan_follower) as stub:
        monkeypatch.setenv("RCA_LLM_BASE_URL", stub.base_url)
        agent = runner.invoke(app, ["investigate", str(env), "--json", "-q"])
        forced = runner.invoke(app, ["investigate", str(env), "--json", "-q", "--offline"])
        assert len(stub.requests) == 7
    a, o, f = (json.loads(r.stdout) for r in (agent, offline, forced))
    assert a["narrative_source"] == "model" and o["narrative_source"] == f["narrative_source"] == "template"
    assert [c["id"] for c in a["root_causes"]] == [c["id"] for c in o["root_causes"]]


def test_ask_answers_with_guarded_sql(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_llm = runner.invoke(app, ["ask", str(env), "how many sign-ups?"])
    assert no_llm.exit_code == 2 and "no LLM configured" in no_llm.stderr

    def reply(messages: list[BaseMessage]) -> AIMessage:
        if len(messages) == 2:
            return AIMessage(content="```sql\nSELECT count(*) AS n FROM signup\n```")
        return AIMessage(content="```sql\nSELECT count(*) AS n FROM signups\n```")

    with OpenAIStub(reply) as stub:
        monkeypatch.setenv("RCA_LLM_BASE_URL", stub.base_url)
        out = runner.invoke(app, ["ask", str(env), "how many sign-ups?", "--json"])
    assert out.exit_code == 0, out.stderr
    ans = json.loads(out.stdout)
    assert ans["status"] == "ok" and ans["rows"] == [[11481]] and ans["attempts"][0]["rule"] == "table_not_allowed"
