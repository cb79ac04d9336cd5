"""Full investigations driven by a scripted chat model: the plan, tool errors, the step cap, the loop guard,
the token budget, and narratives with invented numbers (repaired once, else the template)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agent.investigate import investigate_scenario
from agent.llm_investigate import SECTIONS, investigate_scenario_with_model
from agent.report import Report
from agent.scripted import ScriptedChatModel, call, cited_narrative, plan_follower, tool_results
from tests.conftest import EXAMPLE, copy_scenario
from tools.settings import Settings


def _settings(tmp: Path, **kw: object) -> Settings:
    return Settings(chroma_path=tmp / "memory", embedding="lexical", artifacts_dir=tmp / "art", **kw)  # type: ignore


@pytest.fixture(scope="module")
def scen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings, Report]:
    tmp = tmp_path_factory.mktemp("agent")
    d = copy_scenario(EXAMPLE, tmp / "example")
    s = _settings(tmp)
    return d, s, investigate_scenario(d, settings=s)


def _trace(report: Report) -> dict:
    return next(e for e in report.evidence if e.kind == "agent_trace").data


def test_plan_follower_ranks_exactly_as_the_offline_analyst(scen: tuple[Path, Settings, Report]) -> None:
    d, s, offline = scen
    model = ScriptedChatModel(policy=plan_follower)
    report = investigate_scenario_with_model(d, model=model, settings=s)
    assert [(c.kind, c.id, c.score) for c in report.root_causes] == \
        [(c.kind, c.id, c.score) for c in offline.root_causes]
    assert report.anomaly == offline.anomaly and report.impact == offline.impact
    assert report.narrative_source == "model"
    assert all(f"## {sec}" in report.narrative for sec in SECTIONS)
    trace = _trace(report)
    tools = [st["name"] for st in trace["steps"] if st["kind"] == "tool"]
    assert tools == ["detect_anomaly", "localize_segments", "rank_causes", "estimate_candidate", "size_impact",
                     "similar_incidents"]
    assert trace["input_tokens"] > 0 and all(st["latency_ms"] >= 0 for st in trace["steps"])
    assert set(Report.model_fields) <= set(json.loads(report.model_dump_json()))


def test_tool_error_goes_back_to_the_model_and_it_corrects(scen: tuple[Path, Settings, Report]) -> None:
    d, s, offline = scen
    seen: list[dict] = []

    def policy(messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            seen.append(json.loads(str(last.content)))
        if len(seen) == 0:
            return call("estimate_candidate", candidate_id="no-such-change")
        if len(seen) == 1:
            return call("run_sql", sql="SELECT platfrm, count(*) FROM signups GROUP BY 1", purpose="by platform")
        if len(seen) == 2:
            return call("run_sql", sql="SELECT platform, count(*) AS n FROM signups GROUP BY 1", purpose="by platform")
        r = seen[-1]
        return AIMessage(content=cited_narrative(tool_results(messages)) +
                         f"\nSign-ups on {r['data']['rows'][0][0]}: {r['data']['rows'][0][1]} {r['evidence'][0]!r}")

    report = investigate_scenario_with_model(d, model=ScriptedChatModel(policy=policy), settings=s)
    assert seen[0]["status"] == "error" and "unknown candidate 'no-such-change'" in seen[0]["error"]
    assert seen[0]["params"] == {"candidate_id": "no-such-change"}
    assert seen[1]["status"] == "error" and "unknown_column" in seen[1]["error"] and "platform" in seen[1]["error"]
    assert seen[1]["query"].startswith("SELECT platfrm")
    assert seen[2]["status"] == "ok" and seen[2]["query"]
    assert [c.id for c in report.root_causes] == [c.id for c in offline.root_causes]


def test_step_cap_forces_a_final_answer(scen: tuple[Path, Settings, Report]) -> None:
    d, s, _ = scen
    n = {"i": 0}

    def greedy(messages: list[BaseMessage]) -> AIMessage:
        n["i"] += 1  # never stops on its own: a new query every turn
        return call("run_sql", sql=f"SELECT count(*) AS n FROM signups WHERE region <> 'x{n['i']}'")

    model = ScriptedChatModel(policy=greedy)
    report = investigate_scenario_with_model(d, model=model, settings=s.model_copy(update={"max_agent_steps": 3}))
    trace = _trace(report)
    assert trace["stopped"] == "step_cap"
    assert sum(1 for st in trace["steps"] if st["kind"] == "tool") == 3
    assert "step cap" in str(model.received[-2][-1].content).lower()  # the last is the narrative repair
    # its "final answer" has no sections: the template narrative stands in and the report says so
    assert report.narrative_source == "template"
    assert any("replaced by the template" in x for x in report.limitations)


def test_loop_guard_refuses_an_identical_call(scen: tuple[Path, Settings, Report]) -> None:
    d, s, _ = scen
    model = ScriptedChatModel(policy=lambda m: call("rank_causes", limit=3))
    report = investigate_scenario_with_model(d, model=model, settings=s.model_copy(update={"max_agent_steps": 4}))
    steps = _trace(report)["steps"]
    assert [st["kind"] for st in steps if st["kind"] != "model"] == ["tool", "guard", "guard", "guard"]
    assert "identical call already made" in str(model.received[2][-1].content)


def test_token_budget_stops_the_loop(scen: tuple[Path, Settings, Report]) -> None:
    d, s, _ = scen
    model = ScriptedChatModel(policy=plan_follower)
    report = investigate_scenario_with_model(d, model=model, settings=s.model_copy(update={"llm_token_budget": 1}))
    trace = _trace(report)
    assert trace["stopped"] == "token_budget"
    assert sum(1 for st in trace["steps"] if st["kind"] == "tool") == 1


def _narrative_with(extra: str):  # noqa: ANN202
    def policy(messages: list[BaseMessage]) -> AIMessage:
        reply = plan_follower(messages)
        if reply.tool_calls:
            return reply
        return AIMessage(content=str(reply.content) + extra)
    return policy


def test_invented_number_is_repaired_once(scen: tuple[Path, Settings, Report]) -> None:
    d, s, _ = scen
    invented = "\nAbout 4321 users were affected [E1]."
    base = _narrative_with(invented)
    calls = {"n": 0}

    def policy(messages: list[BaseMessage]) -> AIMessage:
        if "cannot be published" in str(messages[-1].content):
            calls["n"] += 1
            assert "4321" in str(messages[-1].content)
            return AIMessage(content=cited_narrative(tool_results(messages)))
        return base(messages)

    report = investigate_scenario_with_model(d, model=ScriptedChatModel(policy=policy), settings=s)
    assert calls["n"] == 1
    assert report.narrative_source == "model_repaired" and "4321" not in report.narrative


def test_invented_number_not_repaired_falls_back_to_the_template(scen: tuple[Path, Settings, Report]) -> None:
    d, s, offline = scen
    report = investigate_scenario_with_model(d, model=ScriptedChatModel(policy=_narrative_with(
        "\nThe skip rate rose 37% [E6].")), settings=s)
    assert report.narrative_source == "template"
    assert report.narrative == offline.narrative
    assert any("37%" in x and "template" in x for x in report.limitations)


def test_agent_query_becomes_a_finding_only_when_cited(scen: tuple[Path, Settings, Report]) -> None:
    d, s, _ = scen
    state = {"done": False}

    def policy(messages: list[BaseMessage]) -> AIMessage:
        res = tool_results(messages)
        if "run_sql" not in res:
            return call("run_sql", sql="SELECT count(DISTINCT user_id) AS users FROM signups WHERE region = 'EU'",
                        purpose="EU users")
        if not state["done"]:
            state["done"] = True
            reply = plan_follower(messages)
            if reply.tool_calls:
                state["done"] = False
                return reply
        r = res["run_sql"]
        return AIMessage(content=cited_narrative(res) + f"\nEU users: {r['data']['rows'][0][0]} [{r['evidence'][0]}].")

    report = investigate_scenario_with_model(d, model=ScriptedChatModel(policy=policy), settings=s)
    assert report.narrative_source == "model"
    assert [f.title for f in report.findings] == ["EU users"]
    ev = next(e for e in report.evidence if e.id == report.findings[0].evidence[0])
    assert ev.kind == "sql" and "COUNT(DISTINCT" in (ev.sql or "")
    assert ev.data["sample"] == [[1194]] and ev.data["rows"] == 1


def test_draw_chart_saves_a_png(scen: tuple[Path, Settings, Report]) -> None:
    d, s, _ = scen
    state = {"n": 0}

    def policy(messages: list[BaseMessage]) -> AIMessage:
        state["n"] += 1
        if state["n"] == 1:
            return call("draw_chart", filters={"region": "EU"})
        return AIMessage(content="done")

    report = investigate_scenario_with_model(d, model=ScriptedChatModel(policy=policy), settings=s)
    chart = next(e for e in report.evidence if e.title.startswith("chart of"))
    png = Path(chart.data["artifact"])
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
