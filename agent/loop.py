"""The tool-calling loop: ``langchain.agents.create_agent`` plus the guards that make it safe to run unattended.

Middleware, in order: privacy (every message redacted before it leaves), the step cap and token budget
(past either, the model is called without tools and told to answer: the forced final answer), the loop
guard (an identical tool call is answered from the trace instead of re-run) and the trace (every model
call and tool call with its tokens and latency, kept as evidence).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command
from pydantic import BaseModel, Field

from agent.events import AgentEvent
from agent.privacy import Redactor

FORCE_FINAL = ("{why}. Do not call any tool. Write your final answer now from the evidence above, "
               "citing evidence ids for every number.")


class TraceStep(BaseModel):
    """One model call or one tool call, as it happened."""

    kind: str  # "model" | "tool" | "guard"
    name: str = ""
    args: dict[str, Any] = Field(default_factory=dict)
    output: str = ""
    status: str = "ok"
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0


class Trace(BaseModel):
    """The whole run: steps in order, token totals, and why it stopped."""

    steps: list[TraceStep] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    stopped: str = "answered"  # answered | step_cap | token_budget

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def tool_calls(self) -> int:
        return sum(1 for s in self.steps if s.kind == "tool")

    @property
    def tool_turns(self) -> int:
        """Model turns that asked for tools (repeated calls the guard refused count too)."""
        return sum(1 for s in self.steps if s.kind == "model" and s.args.get("tool_calls"))


def _content(message: BaseMessage) -> str:
    c = message.content
    return c if isinstance(c, str) else json.dumps(c, default=str)


def redact_messages(messages: list[AnyMessage], redactor: Redactor) -> list[AnyMessage]:
    """Copies of ``messages`` whose text is redacted (tool-call arguments too)."""
    out: list[AnyMessage] = []
    for m in messages:
        update: dict[str, Any] = {}
        if isinstance(m.content, str):
            update["content"] = redactor.text(m.content)
        if isinstance(m, AIMessage) and m.tool_calls:
            update["tool_calls"] = [{**tc, "args": redactor.value(tc["args"])} for tc in m.tool_calls]
        out.append(m.model_copy(update=update))
    return out


class Guards(AgentMiddleware):
    """Privacy, step cap, token budget, loop guard and trace for one run (build a fresh one per run)."""

    def __init__(self, *, redactor: Redactor, max_steps: int, token_budget: int, trace: Trace,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        super().__init__()
        self.redactor = redactor
        self.max_steps = max_steps
        self.token_budget = token_budget
        self.trace = trace
        self.on_event = on_event or (lambda kind, data: None)
        self.seen: dict[str, str] = {}
        self.sent: list[str] = []  # every text sent to the model, for the privacy audit

    def _emit(self, kind: str, **data: Any) -> None:
        self.on_event(kind, data)

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
                        ) -> ModelResponse | AIMessage:
        messages = redact_messages(list(request.messages), self.redactor)
        system = request.system_message
        if system is not None:
            system = SystemMessage(content=self.redactor.text(_content(system)))
        force = None
        if self.trace.tool_turns >= self.max_steps:
            force = f"The step cap ({self.max_steps} tool-calling steps) is reached"
            self.trace.stopped = "step_cap"
        elif self.trace.tokens >= self.token_budget:
            force = f"The token budget ({self.token_budget} tokens) is spent"
            self.trace.stopped = "token_budget"
        if force:
            messages = [*messages, HumanMessage(content=FORCE_FINAL.format(why=force))]
            request = request.override(messages=messages, system_message=system, tools=[])
        else:
            request = request.override(messages=messages, system_message=system)
        self.sent += [_content(m) for m in ([system] if system else []) + messages]
        self.sent += [json.dumps(tc["args"], default=str) for m in messages if isinstance(m, AIMessage)
                      for tc in m.tool_calls]
        t0 = time.perf_counter()
        response = handler(request)
        latency = (time.perf_counter() - t0) * 1000
        ai = next((m for m in response.result if isinstance(m, AIMessage)), None)
        if ai is not None:
            usage: dict[str, Any] = dict(ai.usage_metadata or {})
            step = TraceStep(kind="model", name="model", latency_ms=round(latency, 1),
                             input_tokens=int(usage.get("input_tokens", 0)),
                             output_tokens=int(usage.get("output_tokens", 0)),
                             output=self.redactor.text(_content(ai))[:4000],
                             args={"tool_calls": [tc["name"] for tc in ai.tool_calls]})
            self.trace.steps.append(step)
            self.trace.input_tokens += step.input_tokens
            self.trace.output_tokens += step.output_tokens
            self._emit("model", tokens=step.input_tokens + step.output_tokens, latency_ms=step.latency_ms,
                       tool_calls=step.args["tool_calls"])
            if force and ai.tool_calls:  # a model that ignores the instruction still has to stop here
                fixed = AIMessage(content=_content(ai) or "The step cap was reached before a final answer.",
                                  usage_metadata=ai.usage_metadata, id=ai.id)
                response = ModelResponse(result=[fixed], structured_response=response.structured_response)
        return response

    def wrap_tool_call(self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolMessage | Command]
                       ) -> ToolMessage | Command:
        call = request.tool_call
        key = json.dumps([call["name"], call.get("args", {})], sort_keys=True, default=str)
        if key in self.seen:
            text = json.dumps({"tool": call["name"], "status": "error", "params": call.get("args", {}),
                               "error": "identical call already made in this investigation; its result is "
                                        "above. Use it, change the arguments, or write the final answer."})
            self.trace.steps.append(TraceStep(kind="guard", name=call["name"], args=call.get("args", {}),
                                              output=text, status="repeated"))
            self._emit("guard", name=call["name"], reason="repeated identical call")
            return ToolMessage(content=text, tool_call_id=call["id"], name=call["name"], status="error")
        self._emit("tool_start", name=call["name"], args=self.redactor.value(call.get("args", {})))
        t0 = time.perf_counter()
        result = handler(request)
        latency = (time.perf_counter() - t0) * 1000
        output = _content(result) if isinstance(result, ToolMessage) else str(result)
        self.seen[key] = output
        status = "ok"
        try:
            status = json.loads(output).get("status", "ok")
        except (ValueError, AttributeError):
            pass
        self.trace.steps.append(TraceStep(kind="tool", name=call["name"],
                                          args=self.redactor.value(call.get("args", {})),
                                          output=self.redactor.text(output), status=status,
                                          latency_ms=round(latency, 1)))
        self._emit("tool_end", name=call["name"], status=status, latency_ms=round(latency, 1))
        return result


def run_agent(*, model: BaseChatModel, tools: list[BaseTool], system_prompt: str, messages: list[AnyMessage],
              guards: Guards) -> list[AnyMessage]:
    """Run the loop to its final answer; returns the full message list (input + new)."""
    graph = create_agent(model, tools, system_prompt=system_prompt, middleware=[guards])
    # every tool call costs two graph steps; leave room for the forced answer after the cap
    limit = 2 * guards.max_steps + 10
    state = graph.invoke({"messages": messages}, config={"recursion_limit": limit})  # type: ignore[call-overload]
    return list(state["messages"])


def stream_agent(*, model: BaseChatModel, tools: list[BaseTool], system_prompt: str, messages: list[AnyMessage],
                 guards: Guards) -> Iterator[tuple[str, Any]]:
    """Like ``run_agent`` but yields ("token", text) chunks as the model writes, then ("done", messages)."""
    graph = create_agent(model, tools, system_prompt=system_prompt, middleware=[guards])
    limit = 2 * guards.max_steps + 10
    final: list[AnyMessage] = list(messages)
    for mode, chunk in graph.stream({"messages": messages}, config={"recursion_limit": limit},  # type: ignore
                                    stream_mode=["messages", "values"]):
        if mode == "messages":
            msg, _meta = chunk
            if isinstance(msg, AIMessage) and isinstance(msg.content, str) and msg.content:
                yield "token", msg.content
        elif mode == "values":
            final = list(chunk["messages"])
    yield "done", final


def relay(stream: Iterator[tuple[str, Any]], *, pending: list[AgentEvent], redactor: Redactor,
          messages: list[AnyMessage]) -> Generator[AgentEvent, None, list[AnyMessage]]:
    """Yield the guards' pending events and the redacted tokens of a `stream_agent` run; return its messages."""
    final = messages
    for kind, payload in stream:
        yield from pending
        pending.clear()
        if kind == "token":
            yield AgentEvent(kind="token", data={"text": redactor.text(payload)})
        else:
            final = payload
    yield from pending
    pending.clear()
    return final
