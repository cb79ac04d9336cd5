"""Typed events an investigation or a chat turn streams (the HTTP service turns them into SSE)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

EventKind = Literal["step", "model", "tool_start", "tool_end", "guard", "token", "narrative_check", "answer",
                    "report", "error"]


class AgentEvent(BaseModel):
    """One thing that happened; ``data`` is already redacted."""

    kind: EventKind
    data: dict[str, Any] = Field(default_factory=dict)

    def sse(self) -> str:
        """The event as one server-sent-events frame."""
        return f"event: {self.kind}\ndata: {self.model_dump_json()}\n\n"
