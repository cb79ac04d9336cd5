"""The toolkit's functions as LangChain tools: typed arguments, redacted and size-capped JSON results.

A tool never raises into the loop: an unexpected failure is an ``error`` result with its text, so the
model sees what went wrong and the trace keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from agent.toolkit import Toolkit, ToolResult


class NoArgs(BaseModel):
    pass


class LimitArgs(BaseModel):
    limit: int = Field(8, ge=1, le=50, description="How many rows to return.")


class CandidateArgs(BaseModel):
    candidate_id: str = Field(description="The id of a candidate cause as rank_causes lists it.")


class SqlArgs(BaseModel):
    sql: str = Field(description="One read-only SELECT over the catalog's tables (no PII columns).")
    purpose: str = Field("", description="What the query answers, in a few words.")


class ChartArgs(BaseModel):
    filters: dict[str, str] = Field(default_factory=dict, description="Dimension = value filters, optional.")


SPECS: list[tuple[str, str, type[BaseModel], str]] = [
    ("describe_catalog", "Tables, columns (PII marked), metric definitions, change sources.", NoArgs,
     "describe_catalog"),
    ("detect_anomaly", "The anomaly window, onset, direction, baseline and observed levels.", NoArgs,
     "detect_anomaly"),
    ("localize_segments", "Segments (dimension values) that carry the movement, best first.", LimitArgs,
     "localize_segments"),
    ("rank_causes", "Candidate causes (changes, experiments, upstream metrics, segments) ranked by the engine.",
     LimitArgs, "rank_causes"),
    ("estimate_candidate", "One candidate's causal effect, CI, p-value, refutation tests and methods.",
     CandidateArgs, "estimate_candidate"),
    ("size_impact", "Distinct affected units within the cause's reach.", NoArgs, "size_impact"),
    ("similar_incidents", "Past incidents similar to this one, with their root causes.", NoArgs,
     "similar_incidents"),
    ("run_sql", "Run one guarded read-only SQL query; rejected queries come back with the guard's reason.",
     SqlArgs, "run_sql"),
    ("draw_chart", "Draw the metric per bucket around the anomaly as a PNG; returns its path and evidence id.",
     ChartArgs, "draw_chart"),
]


def build_tools(toolkit: Toolkit, *, max_chars: int, names: set[str] | None = None) -> list[BaseTool]:
    """One StructuredTool per toolkit function (or the ``names`` subset)."""
    tools: list[BaseTool] = []
    for name, description, schema, method in SPECS:
        if names is not None and name not in names:
            continue
        tools.append(StructuredTool.from_function(func=_wrap(toolkit, name, method, max_chars), name=name,
                                                  description=description, args_schema=schema))
    return tools


def _wrap(toolkit: Toolkit, name: str, method: str, max_chars: int) -> Callable[..., str]:
    def call(**kwargs: Any) -> str:
        try:
            result: ToolResult = getattr(toolkit, method)(**kwargs)
        except Exception as err:  # noqa: BLE001 - the model must see the failure, not the loop crash
            result = ToolResult(tool=name, status="error", params=kwargs, error=f"{type(err).__name__}: {err}")
        return result.for_model(redactor=toolkit.redactor, max_chars=max_chars)

    call.__name__ = name
    return call
