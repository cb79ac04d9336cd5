"""Chat follow-ups reuse the session's report and evidence; the session survives a JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agent.chat import ChatSession, chat_turn, mark_answer_right
from agent.incident import load_incident
from agent.scripted import ScriptedChatModel, call, plan_follower
from tests.conftest import EXAMPLE, copy_scenario
from tools.memory.sql_pairs import SqlPairStore
from tools.settings import Settings
from tools.workspace import Workspace


def test_follow_ups_reuse_the_session(tmp_path: Path) -> None:
    d = copy_scenario(EXAMPLE, tmp_path / "ex")
    ws = Workspace.open(d, settings=Settings(chroma_path=tmp_path / "m", embedding="lexical",
                                             artifacts_dir=tmp_path / "a"))
    inc = load_incident(d / "incident.json")
    session = ChatSession(id="s1", workspace=str(d), incident=inc.model_dump(mode="json"))
    first = list(chat_turn(session, "investigate", model=ScriptedChatModel(policy=plan_follower), ws=ws))
    assert first[-1].kind == "report" and any(e.kind == "token" for e in first)
    n_engine = len(session.report["evidence"])  # type: ignore[index]

    def exclude_ios(messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            r = json.loads(str(messages[-1].content))
            rate = r["data"]["rows"][0][0]
            return AIMessage(content=f"Without iOS the skip rate is {rate:.4f} [{r['evidence'][0]}].")
        return call("run_sql", sql="SELECT avg(CASE WHEN age_gate_skipped THEN 1.0 ELSE 0.0 END) AS rate "
                                   "FROM signups WHERE platform <> 'ios'", purpose="skip rate without iOS")

    restored = ChatSession.model_validate_json(session.model_dump_json())
    model = ScriptedChatModel(policy=exclude_ios)
    second = list(chat_turn(restored, "what if we exclude iOS?", model=model, ws=ws))
    answer = second[-1]
    assert answer.kind == "answer" and "Without iOS" in answer.data["text"]
    assert "_Unchecked" not in answer.data["text"]  # the number matches its evidence
    new_id = answer.data["evidence"][0]
    assert int(new_id[1:]) >= n_engine
    # the conversation so far went to the model: the first answer and the engine's ranking
    sent = model.sent_text()
    assert "cfg-17" in sent and "Investigate incident" in sent

    def show_sql(messages: list[BaseMessage]) -> AIMessage:
        system = str(messages[0].content)
        line = next(ln for ln in system.splitlines() if ln.startswith(f"[{new_id}]"))
        return AIMessage(content=f"The query was: `{line}`")

    third = list(chat_turn(restored, "show the SQL", model=ScriptedChatModel(policy=show_sql), ws=ws))
    assert "platform <> 'ios'" in third[-1].data["text"]
    assert len(restored.messages) == 6 and restored.tokens > 0 and len(restored.traces) == 3

    # the responder marks the iOS answer right: the pair is stored and reaches the next similar question
    store = SqlPairStore.open(path=tmp_path / "pairs", embedding="lexical")
    assert mark_answer_right(restored, store=store, evidence_id="E1") is None
    assert mark_answer_right(restored, store=store, evidence_id=new_id) is not None
    model4 = ScriptedChatModel(replies=["ok"])
    list(chat_turn(restored, "and if we exclude android?", model=model4, ws=ws, examples=store))
    system = str(model4.received[0][0].content)
    assert "Q: what if we exclude iOS?" in system and "platform <> 'ios'" in system


def test_an_unbacked_number_in_a_chat_answer_is_flagged(tmp_path: Path) -> None:
    d = copy_scenario(EXAMPLE, tmp_path / "ex")
    ws = Workspace.open(d, settings=Settings(chroma_path=tmp_path / "m", embedding="lexical",
                                             artifacts_dir=tmp_path / "a"))
    inc = load_incident(d / "incident.json")
    session = ChatSession(id="s2", workspace=str(d), incident=inc.model_dump(mode="json"))
    list(chat_turn(session, "investigate", model=ScriptedChatModel(policy=plan_follower), ws=ws))
    events = list(chat_turn(session, "how bad?", model=ScriptedChatModel(replies=["About 9999 users [E1]."]), ws=ws))
    assert "_Unchecked: 9999" in events[-1].data["text"]
    assert events[-2].kind == "narrative_check" and events[-2].data["problems"][0]["number"] == "9999"


def test_async_turn_streams_the_same_events(tmp_path: Path) -> None:
    import asyncio

    from agent.chat import achat_turn

    d = copy_scenario(EXAMPLE, tmp_path / "ex")
    ws = Workspace.open(d, settings=Settings(chroma_path=tmp_path / "m", embedding="lexical",
                                             artifacts_dir=tmp_path / "a"))
    inc = load_incident(d / "incident.json")
    session = ChatSession(id="s3", workspace=str(d), incident=inc.model_dump(mode="json"))

    async def collect() -> list[str]:
        return [e.kind async for e in achat_turn(session, "investigate", model=ScriptedChatModel(
            policy=plan_follower), ws=ws)]

    kinds = asyncio.run(collect())
    assert kinds[0] == "model" and kinds[-1] == "report" and kinds.count("tool_end") == 6
    assert session.report is not None
