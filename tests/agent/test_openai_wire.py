"""The real wire path: ChatOpenAI -> openai client -> a local HTTP server speaking chat completions
(tool calls, SSE streaming), including a 429 answered by a retry and a stalled request hitting the timeout."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from langchain_core.messages import HumanMessage

from agent.investigate import investigate_scenario
from agent.llm import build_chat_model, llm_configured
from agent.llm_investigate import investigate_scenario_with_model
from agent.scripted import plan_follower
from tests.agent.openai_server import OpenAIStub
from tests.conftest import EXAMPLE, copy_scenario
from tools.settings import Settings


def _settings(tmp: Path, base_url: str, **kw: object) -> Settings:
    return Settings(chroma_path=tmp / "memory", embedding="lexical", artifacts_dir=tmp / "art",  # type: ignore
                    llm_base_url=base_url, llm_api_key="test-key", llm_model="stub-1", **kw)


def test_no_key_no_url_means_offline() -> None:
    assert not llm_configured(Settings(llm_base_url=None, llm_api_key=None))
    assert build_chat_model(Settings(llm_base_url=None, llm_api_key=None)) is None


def test_investigation_over_the_wire_with_a_429_retry(tmp_path: Path) -> None:
    d = copy_scenario(EXAMPLE, tmp_path / "example")
    with OpenAIStub(plan_follower, fail_first=1) as stub:
        s = _settings(tmp_path, stub.base_url, llm_max_retries=2, llm_max_tokens=321)
        report = investigate_scenario_with_model(d, model=build_chat_model(s), settings=s)  # type: ignore[arg-type]
        requests = stub.requests
    offline = investigate_scenario(d, settings=s)
    assert [c.id for c in report.root_causes] == [c.id for c in offline.root_causes]
    assert report.narrative_source == "model"
    # 1 rate-limited + 6 tool turns + the answer; every request streamed, named the model, capped tokens, sent tools
    assert len(requests) == 8
    assert all(r["model"] == "stub-1" and r["max_completion_tokens"] == 321 and r["stream"] for r in requests)
    assert {t["function"]["name"] for t in requests[1]["tools"]} >= {"rank_causes", "run_sql", "estimate_candidate"}
    tool_msgs = [m for m in requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_msgs) == 6
    trace = next(e for e in report.evidence if e.kind == "agent_trace").data
    assert trace["input_tokens"] == 7 * 100  # the server's usage, streamed back (include_usage)


def test_legacy_max_tokens_field(tmp_path: Path) -> None:
    with OpenAIStub(lambda m: plan_follower([])) as stub:
        s = _settings(tmp_path, stub.base_url, llm_max_tokens_field="max_tokens", llm_max_tokens=77)
        build_chat_model(s).invoke([HumanMessage(content="hi")])  # type: ignore[union-attr]
        assert stub.requests[0]["max_tokens"] == 77 and "max_completion_tokens" not in stub.requests[0]


def test_a_stalled_request_times_out_and_is_retried(tmp_path: Path) -> None:
    from langchain_core.messages import AIMessage

    with OpenAIStub(lambda m: AIMessage(content="pong"), stall_first=1, stall_s=1.5) as stub:
        s = _settings(tmp_path, stub.base_url, llm_timeout_s=0.5, llm_max_retries=1)
        reply = build_chat_model(s).invoke([HumanMessage(content="ping")])  # type: ignore[union-attr]
        assert reply.content == "pong" and len(stub.requests) == 2


def test_persistent_429_surfaces_after_the_retries(tmp_path: Path) -> None:
    with OpenAIStub(plan_follower, fail_first=99) as stub:
        s = _settings(tmp_path, stub.base_url, llm_max_retries=2)
        with pytest.raises(openai.RateLimitError):
            build_chat_model(s).invoke([HumanMessage(content="ping")])  # type: ignore[union-attr]
        assert len(stub.requests) == 3
