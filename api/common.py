"""Shared API shapes: safe text and times (no NUL bytes, no overflowing zones), pages, error bodies."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field

T = TypeVar("T")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _utc_naive(value: datetime) -> datetime:
    """Times are stored as naive UTC; a zone that pushes past year 1 or 9999 is a 422, not a crash."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise ValueError("time out of range after conversion to UTC") from None


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
UtcDateTime = Annotated[datetime, AfterValidator(_utc_naive)]
FiniteFloat = Annotated[float, AfterValidator(_finite)]
FilterValue = str | bool | int | FiniteFloat
Limit = Annotated[int, Field(ge=1, le=500, description="Page size (1-500).")]
Offset = Annotated[int, Field(ge=0, le=1_000_000_000, description="Items to skip.")]


class Page(BaseModel, Generic[T]):
    """One page of a list; ``total`` counts every match of the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorBody(BaseModel):
    """Every 4xx: ``detail`` says which field or thing is wrong and why (validation errors list them)."""

    detail: str | list[dict[str, object]] | dict[str, object]


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid API key."},
    403: {"model": ErrorBody, "description": "The key's role is too low."},
    429: {"model": ErrorBody, "description": "Rate limit exceeded (Retry-After says when to retry)."},
}


def not_found(what: str, ident: str) -> ErrorBody:
    return ErrorBody(detail=f"{what} '{ident}' not found")
