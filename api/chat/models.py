"""Chat shapes: sessions, messages, and the typed events streamed as Server-Sent Events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common import Text


class ChatSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incident_id: Text = Field(min_length=1, max_length=64, description="A stored incident's id.")


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Text = Field(min_length=1, max_length=10_000, description="The responder's question.")


class ChatMessageOut(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    investigation_id: str | None
    created_at: datetime


class ChatSessionOut(BaseModel):
    id: str
    incident_id: str
    created_by: str | None
    created_at: datetime


class ChatSessionDetail(ChatSessionOut):
    messages: list[ChatMessageOut]


class StepEvent(BaseModel):
    """The analyst started a step (a tool call or a step of the fixed plan)."""

    type: Literal["step"] = "step"
    text: str
    investigation_id: str | None = None


class TokenEvent(BaseModel):
    """A piece of the answer, in order; the concatenation is the answer."""

    type: Literal["token"] = "token"
    text: str


class DoneEvent(BaseModel):
    """The answer is complete and stored as ``message_id``."""

    type: Literal["done"] = "done"
    message_id: int
    investigation_id: str | None = None


class ErrorEvent(BaseModel):
    """The turn failed; ``detail`` says why (also stored as the assistant's message)."""

    type: Literal["error"] = "error"
    detail: str


ChatEvent = Annotated[StepEvent | TokenEvent | DoneEvent | ErrorEvent, Field(discriminator="type")]
