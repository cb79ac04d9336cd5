"""Typed tool outcomes: ok, error or no data, always carrying the exact query so a caller can correct itself."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class ToolResult(BaseModel, Generic[T]):
    """What every engine step returns to an agent: the status, the data, the SQL run and the error text."""

    status: Literal["ok", "error", "no_data"]
    data: T | None = None
    query: str | None = None
    error: str | None = None

    @classmethod
    def ok(cls, data: T, *, query: str | None = None) -> ToolResult[T]:
        return cls(status="ok", data=data, query=query)

    @classmethod
    def fail(cls, error: str, *, query: str | None = None) -> ToolResult[Any]:
        return cls(status="error", error=error, query=query)

    @classmethod
    def empty(cls, reason: str, *, query: str | None = None) -> ToolResult[Any]:
        return cls(status="no_data", error=reason, query=query)
