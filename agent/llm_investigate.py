"""The LLM path of an investigation: the model drives the engine's tools, then writes the checked narrative.

The report's root causes, anomaly, segments and impact are the engine's (the model cannot re-rank them);
the model adds a narrative whose every number is checked against the evidence it cites (repaired once, else
the template narrative, and the report says so) and findings only where it ran its own query.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from agent.citations import check_numbers, evidence_numbers
from agent.events import AgentEvent
from agent.incident import Incident, load_incident
from agent.loop import Guards, Trace, TraceStep, redact_messages, relay, stream_agent
from agent.narrative import PROMPTS, render_narrative
from agent.privacy import Redactor
from agent.report import AgentTraceData, Finding, Report, make_evidence
from agent.toolkit import Toolkit
from agent.tools import build_tools
from tools.settings import Settings
from tools.workspace import Workspace

SECTIONS = ("Summary", "Root cause", "Evidence", "Impact", "Timeline", "Similar incidents", "Next steps",
            "Confidence and what would change it")


def prompt(name: str, **values: Any) -> str:
    """A prompt file from prompts/, filled."""
    return (PROMPTS / name).read_text().format(**values)


def catalog_text(toolkit: Toolkit) -> str:
    """The catalog as the model sees it: tables and columns (PII marked, no values), metrics, change logs."""
    data = toolkit.describe_catalog().data
    lines = []
    for table, cols in data["tables"].items():
        lines.append(f"- {table}(" + ", ".join(f"{c['column']} {c['type']}{' PII' if c.get('pii') else ''}"
                                            for c in cols) + ")")
    for name, m in data["metrics"].items():
        lines.append(f"- metric {name} = {m['value']} over {m['table']} by {m['timestamp']}; unit {m['unit']}; "
                     f"dimensions {', '.join(m['dimensions'])}; higher is worse: {m['higher_is_worse']}")
    for name, c in data["change_sources"].items():
        lines.append(f"- change log {name}: table {c['table']}, id {c['id']}, at {c['timestamp']}, "
                     f"scope {', '.join(c['scope'])}")
    return f"dialect {data['dialect']}, grain {data['grain']}\n" + "\n".join(lines)


def missing_sections(text: str) -> list[str]:
    return [s for s in SECTIONS if f"## {s}".lower() not in text.lower()]


def narrative_problems(text: str, report: Report) -> list[str]:
    """Number problems and missing sections, one line each (empty = accepted)."""
    out = [f"{p.number}: {p.problem} -- \"{p.sentence[:200]}\"" for p in check_numbers(text, evidence_numbers(report))]
    out += [f"section missing: ## {s}" for s in missing_sections(text)]
    return out


def _final_text(messages: list[AnyMessage]) -> str:
    last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
    if last is None:
        return ""
    return last.content if isinstance(last.content, str) else json.dumps(last.content)


def investigation_events(*, workspace: Workspace, incident: Incident, model: BaseChatModel,
                         settings: Settings | None = None, history: Path | None = None,
                         toolkit: Toolkit | None = None) -> Iterator[AgentEvent]:
    """Run the agent and yield its events; the last event is ``report`` with the report JSON."""
    settings = settings or workspace.settings
    t0 = time.perf_counter()
    redactor = toolkit.redactor if toolkit is not None else Redactor.for_workspace(workspace)
    toolkit = toolkit or Toolkit(ws=workspace, incident=incident, settings=settings, redactor=redactor,
                                 history=history)
    trace = Trace()
    events: list[AgentEvent] = []
    guards = Guards(redactor=redactor, max_steps=settings.max_agent_steps, token_budget=settings.llm_token_budget,
                    trace=trace, on_event=lambda kind, data: events.append(AgentEvent(kind=kind, data=data)))
    system = redactor.text(prompt("agent_system.md", catalog=catalog_text(toolkit)))
    user = redactor.text(prompt("investigate_user.md", incident_id=incident.id, title=incident.title,
                                metric=incident.metric or "(not given)", detected_at=incident.detected_at.isoformat(),
                                filters=json.dumps(incident.filters), description=incident.description or "-"))
    tools = build_tools(toolkit, max_chars=settings.llm_tool_output_chars)
    messages: list[AnyMessage] = [HumanMessage(content=user)]
    messages = yield from relay(stream_agent(model=model, tools=tools, system_prompt=system, messages=messages,
                                             guards=guards), pending=events, redactor=redactor, messages=messages)
    report = assemble_report(toolkit=toolkit, messages=messages, system=system, model=model, trace=trace,
                             guards=guards, redactor=redactor)
    report.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
    yield AgentEvent(kind="narrative_check", data={"source": report.narrative_source})
    yield AgentEvent(kind="report", data=report.model_dump(mode="json"))


def assemble_report(*, toolkit: Toolkit, messages: list[AnyMessage], system: str, model: BaseChatModel,
                    trace: Trace, guards: Guards, redactor: Redactor) -> Report:
    """The engine's report plus the agent's evidence, its checked narrative, findings and trace."""
    engine = toolkit._engine_report()
    report = engine.model_copy(deep=True)
    report.evidence = [*report.evidence, *toolkit.extra]
    draft = _final_text(messages)
    problems = narrative_problems(draft, report)
    source = "model"
    if problems:
        repair = HumanMessage(content=prompt("narrative_repair.md", problems="\n".join(problems)))
        convo = redact_messages([SystemMessage(content=system), *messages, repair], redactor)
        guards.sent += [str(m.content) for m in convo]
        t0 = time.perf_counter()
        fixed = model.invoke(convo)
        usage = getattr(fixed, "usage_metadata", None) or {}
        trace.steps.append(TraceStep(kind="model", name="narrative_repair", output=redactor.text(str(fixed.content)),
                                     input_tokens=int(usage.get("input_tokens", 0)),
                                     output_tokens=int(usage.get("output_tokens", 0)),
                                     latency_ms=round((time.perf_counter() - t0) * 1000, 1)))
        draft = fixed.content if isinstance(fixed.content, str) else json.dumps(fixed.content)
        second = narrative_problems(draft, report)
        source = "model_repaired"
        if second:
            source = "template"
            seg = next((e.id for e in engine.evidence if e.kind == "segments"), None)
            sim = next((e.id for e in engine.evidence if e.kind == "retrieval"), None)
            draft = render_narrative(engine, segments_evidence=seg, similar_evidence=sim)
            report.limitations.append(
                f"the model's narrative was replaced by the template narrative: after one repair it still had "
                f"{len(second)} unbacked number(s) or missing section(s) (first: {second[0][:160]})")
    report.narrative = redactor.text(draft)
    report.narrative_source = source  # type: ignore[assignment]
    cited = set(re.findall(r"\[(E\d+)\]", report.narrative)) if source != "template" else set()
    report.findings = [Finding(title=e.title, sql=e.sql, evidence=[e.id]) for e in toolkit.extra
                       if e.kind == "sql" and e.id in cited]
    report.evidence.append(make_evidence(f"E{len(report.evidence) + 1}", "Agent trace", AgentTraceData(
        **trace.model_dump(), narrative_problems=problems), method="langchain create_agent tool loop"))
    return Report.model_validate(redactor.value(report.model_dump(mode="json")))


def investigate_with_model(*, workspace: Workspace, incident: Incident, model: BaseChatModel,
                           settings: Settings | None = None, history: Path | None = None) -> Report:
    """Run the LLM path to its report."""
    last: AgentEvent | None = None
    for event in investigation_events(workspace=workspace, incident=incident, model=model, settings=settings,
                                      history=history):
        last = event
    assert last is not None and last.kind == "report"
    return Report.model_validate(last.data)


def investigate_scenario_with_model(path: Path, *, model: BaseChatModel, settings: Settings | None = None) -> Report:
    """Open a scenario folder and investigate with the model (never reads truth.json)."""
    from agent.incident import InputError

    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: scenario folder not found")
    ws = Workspace.open(path, settings=settings)
    incident = load_incident(path / "incident.json")
    history = path / "history.jsonl"
    return investigate_with_model(workspace=ws, incident=incident, model=model, settings=settings,
                                  history=history if history.is_file() else None)
