"""Chat: a session that investigates once, then answers follow-ups with the same evidence and tools.

The session is plain data (``ChatSession.model_dump_json()`` round-trips), so the service can persist it
between requests. A turn is an iterator of typed events (steps, tool calls, tokens, the answer); the first
turn runs the investigation and ends with the report, later turns reuse its evidence and may run guarded
SQL ("what if we exclude iOS?", "how many users in Germany?") or read what was run ("show the SQL").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, messages_from_dict, messages_to_dict
from pydantic import BaseModel, Field

from agent.citations import check_numbers, evidence_numbers
from agent.events import AgentEvent
from agent.incident import Incident
from agent.llm_investigate import catalog_text, investigation_events, prompt
from agent.loop import Guards, Trace, relay, stream_agent
from agent.privacy import Redactor
from agent.report import Report, parse_evidence
from agent.toolkit import Toolkit
from agent.tools import build_tools
from tools.memory.sql_pairs import SqlPairStore
from tools.workspace import Workspace


class ChatSession(BaseModel):
    """Everything a conversation needs to continue: messages, the report, the agent's own evidence."""

    id: str
    workspace: str
    incident: dict[str, Any]
    messages: list[dict[str, Any]] = Field(default_factory=list)  # langchain messages_to_dict form, redacted
    report: dict[str, Any] | None = None
    extra_evidence: list[dict[str, Any]] = Field(default_factory=list)
    traces: list[dict[str, Any]] = Field(default_factory=list)
    tokens: int = 0

    def history(self) -> list[AnyMessage]:
        return list(messages_from_dict(self.messages))  # type: ignore[arg-type]


def _toolkit(session: ChatSession, ws: Workspace, redactor: Redactor) -> Toolkit:
    tk = Toolkit(ws=ws, incident=Incident.model_validate(session.incident), settings=ws.settings, redactor=redactor)
    if session.report is not None:
        tk.report = Report.model_validate(session.report)
        tk.report.evidence = [e for e in tk.report.evidence if e.kind != "agent_trace" and
                              not any(e.id == x["id"] for x in session.extra_evidence)]
        tk.extra = [parse_evidence(x) for x in session.extra_evidence]
    return tk


def chat_turn(session: ChatSession, question: str, *, model: BaseChatModel, ws: Workspace,
              history_file: Path | None = None, examples: SqlPairStore | None = None) -> Iterator[AgentEvent]:
    """Answer one message; mutates ``session`` (messages, evidence, tokens) as the turn completes.

    ``examples``: verified question -> SQL pairs; the nearest ones to the question go into the prompt.
    """
    redactor = Redactor.for_workspace(ws)
    if session.report is None:
        incident = Incident.model_validate(session.incident)
        tk = Toolkit(ws=ws, incident=incident, settings=ws.settings, redactor=redactor, history=history_file)
        for event in investigation_events(workspace=ws, incident=incident, model=model, history=history_file,
                                          toolkit=tk):
            if event.kind == "report":
                session.incident = redactor.value(session.incident)  # the raw text stays out of stored state
                session.report = event.data
                report = Report.model_validate(event.data)
                done = next(e for e in reversed(report.evidence) if e.kind == "agent_trace")
                done_trace = done.data.model_dump(mode="json")
                session.traces.append(done_trace)
                session.tokens += int(done_trace.get("input_tokens", 0)) + int(done_trace.get("output_tokens", 0))
                session.extra_evidence = [e.model_dump() for e in tk.extra]
                user = HumanMessage(content=redactor.text(f"Investigate incident {incident.id}: {incident.title}"))
                session.messages = messages_to_dict([user, AIMessage(content=report.narrative)])
                yield AgentEvent(kind="answer", data={"text": report.narrative})
            yield event
        return
    tk = _toolkit(session, ws, redactor)
    trace = Trace()
    pending: list[AgentEvent] = []
    guards = Guards(redactor=redactor, max_steps=ws.settings.max_agent_steps,
                    token_budget=ws.settings.llm_token_budget, trace=trace,
                    on_event=lambda kind, data: pending.append(AgentEvent(kind=kind, data=data)))
    report = Report.model_validate(session.report)
    causes = "\n".join(f"{c.rank}. {c.kind} {c.id} score {c.score} {''.join(f'[{e}]' for e in c.evidence)}"
                       for c in report.root_causes[:5])
    queries = "\n".join(f"[{e.id}] {e.sql}" for e in tk.evidence() if e.kind == "sql" and e.sql)
    shots = examples.similar(question, k=3, workspace=Path(session.workspace).name) if examples else []
    verified = "\n".join(f"Q: {p.question}\nSQL: {p.sql}" for p in shots) or "(none yet)"
    system = redactor.text(prompt("chat_system.md", catalog=catalog_text(tk), incident=report.incident_id,
                                  metric=report.metric, causes=causes or "(none)", queries=queries[-6000:],
                                  examples=verified))
    messages = [*session.history(), HumanMessage(content=redactor.text(question))]
    tools = build_tools(tk, max_chars=ws.settings.llm_tool_output_chars)
    final = yield from relay(stream_agent(model=model, tools=tools, system_prompt=system, messages=messages,
                                          guards=guards), pending=pending, redactor=redactor, messages=messages)
    answer = final[-1].content if final and isinstance(final[-1], AIMessage) else ""
    answer = redactor.text(answer if isinstance(answer, str) else json.dumps(answer))
    check = report.model_copy(update={"evidence": tk.evidence()})
    problems = check_numbers(answer, evidence_numbers(check))
    if problems:
        answer += ("\n\n_Unchecked: " + "; ".join(f"{p.number} ({p.problem})" for p in problems[:5])
                   + ". These numbers do not match the evidence they cite._")
    yield AgentEvent(kind="narrative_check", data={"problems": [p.model_dump() for p in problems]})
    session.extra_evidence = [e.model_dump() for e in tk.extra]
    session.messages = messages_to_dict([*messages, AIMessage(content=answer)])
    session.traces.append(trace.model_dump())
    session.tokens += trace.tokens
    yield AgentEvent(kind="answer", data={"text": answer, "evidence": [e.id for e in tk.extra]})



async def achat_turn(session: ChatSession, question: str, *, model: BaseChatModel, ws: Workspace,
                     history_file: Path | None = None) -> AsyncIterator[AgentEvent]:
    """``chat_turn`` as an async iterator for the HTTP service: each step runs in a worker thread."""
    events = chat_turn(session, question, model=model, ws=ws, history_file=history_file)
    while True:
        event = await asyncio.to_thread(next, events, None)
        if event is None:
            return
        yield event


def mark_answer_right(session: ChatSession, *, store: SqlPairStore, evidence_id: str) -> str | None:
    """A responder confirmed an answer: its question and the query behind ``evidence_id`` become a verified pair.

    Returns the pair id, or None when the evidence is not a query the agent ran in this session.
    """
    ev = next((e for e in session.extra_evidence if e["id"] == evidence_id and e["kind"] == "sql" and e.get("sql")),
              None)
    if ev is None:
        return None
    history = session.history()
    question = None
    for i, m in enumerate(history):  # the human message that led to the first answer citing the evidence
        if isinstance(m, AIMessage) and f"[{evidence_id}]" in str(m.content):
            question = next((str(h.content) for h in reversed(history[:i]) if isinstance(h, HumanMessage)), None)
            break
    if question is None:
        return None
    return store.add(question=question, sql=str(ev["sql"]), workspace=Path(session.workspace).name)
