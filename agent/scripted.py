"""A scripted chat model: the LLM stand-in for tests, evals and benchmarks (no network, fully repeatable).

It answers from a policy (a function of the messages it is sent) or a list of recorded replies, records
every message it received (the privacy audit reads them) and reports token usage like a real endpoint.
``plan_follower`` is the policy that follows the offline analyst's fixed plan, then writes a cited narrative
from the tool results it saw.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

Policy = Callable[[list[BaseMessage]], AIMessage]


def call(name: str, **args: Any) -> AIMessage:
    """A reply that calls one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}",
                                              "type": "tool_call"}])


class ScriptedChatModel(BaseChatModel):
    """Replies from ``policy`` or, in order, from ``replies``; ``bind_tools`` returns itself."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    replies: list[Any] = Field(default_factory=list)
    policy: Any = None
    received: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[Any] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.bound_tools = list(tools)
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.received.append(list(messages))
        if self.policy is not None:
            reply = self.policy(messages)
        elif self.replies:
            reply = self.replies.pop(0)
        else:
            reply = AIMessage(content="(script exhausted)")
        if isinstance(reply, str):
            reply = AIMessage(content=reply)
        sent = sum(len(str(m.content)) for m in messages)
        reply = reply.model_copy(update={"usage_metadata": {
            "input_tokens": sent // 4, "output_tokens": len(str(reply.content)) // 4 + 1,
            "total_tokens": sent // 4 + len(str(reply.content)) // 4 + 1}})
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def sent_text(self) -> str:
        """Everything this model was ever sent, as one string."""
        parts = []
        for batch in self.received:
            for m in batch:
                parts.append(str(m.content))
                for tc in getattr(m, "tool_calls", None) or []:
                    parts.append(json.dumps(tc.get("args", {})))
        return "\n".join(parts)


PLAN = ("detect_anomaly", "localize_segments", "rank_causes", "estimate_candidate", "size_impact",
        "similar_incidents")


def tool_results(messages: list[BaseMessage]) -> dict[str, dict[str, Any]]:
    """The latest result of each tool in the conversation, parsed."""
    out: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}  # over the wire a tool message carries only the call id
    for m in messages:
        for tc in getattr(m, "tool_calls", None) or []:
            names[tc.get("id") or ""] = tc["name"]
        if isinstance(m, ToolMessage):
            name = m.name or names.get(m.tool_call_id, "")
            try:
                out[name] = json.loads(str(m.content))
            except ValueError:
                out[name] = {"status": "error", "error": str(m.content)}
    return out


def _c(ids: list[str]) -> str:
    return "".join(f"[{i}]" for i in ids)


def cited_narrative(results: dict[str, dict[str, Any]]) -> str:
    """A narrative written only from tool results, every number cited (what a good model does)."""
    a = results.get("detect_anomaly", {})
    ad, ae = a.get("data", {}), a.get("evidence", [])
    r = results.get("rank_causes", {})
    causes = r.get("data") or []
    top = causes[0] if causes else None
    est = results.get("estimate_candidate", {}).get("data", {})
    imp = results.get("size_impact", {})
    sim = results.get("similar_incidents", {})
    lines = ["## Summary"]
    lines.append(f"The metric moved from {ad.get('baseline')} to {ad.get('observed')} {_c(ae)}."
                 if ae else "The anomaly could not be read.")
    lines.append("## Root cause")
    if top:
        lines.append(f"The engine ranks {top['kind']} `{top['id']}` first with score {top['score']} "
                     f"{_c(top['evidence'])}.")
    else:
        lines.append("No candidate cause was found.")
    lines.append("## Evidence")
    if est.get("effect") is not None:
        lines.append(f"Its estimated effect is {est['effect']} {_c(est.get('evidence', []))}.")
    lines.append("Refutation tests are listed with the estimate.")
    lines.append("## Impact")
    idata = imp.get("data") or {}
    if idata.get("affected_units") is not None:
        lines.append(f"{idata['affected_units']} distinct units affected {_c(imp.get('evidence', []))}.")
    else:
        lines.append("Not sized.")
    lines.append("## Timeline")
    lines.append(f"The window runs `{ad.get('start')}` to `{ad.get('end')}`.")
    lines.append("## Similar incidents")
    lines.append(", ".join(f"`{s['id']}`" for s in sim.get("data") or []) or "None found.")
    lines.append("## Next steps")
    lines.append("Roll back or fix the top cause and watch the metric.")
    lines.append("## Confidence and what would change it")
    lines.append("Confidence follows the engine's score; a failed refutation would lower it.")
    return "\n".join(lines)


def plan_follower(messages: list[BaseMessage]) -> AIMessage:
    """The fixed plan, one tool per turn, then the narrative."""
    results = tool_results(messages)
    for name in PLAN:
        if name not in results:
            if name == "estimate_candidate":
                causes = (results.get("rank_causes") or {}).get("data") or []
                if not causes:
                    continue
                return call(name, candidate_id=causes[0]["id"])
            return call(name)
    return AIMessage(content=cited_narrative(results))
