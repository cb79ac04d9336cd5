"""The agent's tools as plain typed functions over the engine: the ONE module that knows where the engine lives.

Each tool returns a ``ToolResult`` (ok / error / no_data) carrying the exact query, the parameters and the
error text, so the model can correct itself; what it shows the model is redacted and size-capped.
The engine's steps are reached through ``_engine_report`` and ``_series``: re-pointing the tools at the
per-step modules is a change to this file only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.incident import Incident
from agent.privacy import Redactor
from agent.report import ChartData, Evidence, Payload, Report, SqlData, make_evidence
from tools.settings import Settings
from tools.workspace import GuardRejected, WarehouseError, Workspace

Status = Literal["ok", "error", "no_data"]


class ToolResult(BaseModel):
    """What a tool hands back: status, the exact query and parameters, the data or the error text."""

    tool: str
    status: Status
    params: dict[str, Any] = Field(default_factory=dict)
    query: str | None = None
    data: Any = None
    error: str | None = None
    evidence: list[str] = Field(default_factory=list)
    note: str | None = None

    def for_model(self, *, redactor: Redactor, max_chars: int) -> str:
        """The redacted JSON the model sees, cut to ``max_chars`` with a note saying so."""
        payload = redactor.value(self.model_dump(exclude_none=True))
        text = json.dumps(payload, default=str)
        if len(text) <= max_chars:
            return text
        data = payload.get("data")
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            rows = data["rows"]
            while rows and len(json.dumps(payload, default=str)) > max_chars - 120:
                rows.pop()
            payload["note"] = (f"output cut to {len(rows)} rows to fit {max_chars} characters; "
                               "aggregate in SQL (GROUP BY, LIMIT) to see the rest")
            text = json.dumps(payload, default=str)
            if len(text) <= max_chars:
                return text
        for width, items in ((1000, 50), (300, 20), (120, 5)):
            shrunk = _shrink(payload, width, items)
            shrunk["note"] = (f"output shortened to fit {max_chars} characters (long texts cut to {width} "
                              f"characters, lists to {items} items); ask for less to see more")
            text = json.dumps(shrunk, default=str)
            if len(text) <= max_chars:
                return text
        return json.dumps({"tool": self.tool, "status": self.status, "query": (self.query or "")[:500],
                           "evidence": self.evidence, "note": f"output too large for {max_chars} characters; "
                           "ask for less (fewer rows, an aggregate)"})


def _shrink(value: Any, width: int, items: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= width else value[:width] + "...[cut]"
    if isinstance(value, dict):
        return {k: _shrink(v, width, items) for k, v in value.items()}
    if isinstance(value, list):
        return [_shrink(v, width, items) for v in value[:items]]
    return value


@dataclass
class Toolkit:
    """One investigation's tools: the workspace, the incident and the evidence the agent adds itself."""

    ws: Workspace
    incident: Incident
    settings: Settings
    redactor: Redactor
    history: Path | None = None
    report: Report | None = None
    extra: list[Evidence] = field(default_factory=list)
    engine_ms: float = 0.0
    queries: list[str] = field(default_factory=list)  # every SQL the agent ran, for "show the SQL"

    # ------------------------------------------------------------------ the engine (the one adapter point)

    def _engine_report(self) -> Report:
        """The offline analyst's full plan, run once; every engine tool reads from it."""
        if self.report is None:
            from agent.investigate import investigate

            t0 = time.perf_counter()
            self.report = investigate(workspace=self.ws, incident=self.incident, history=self.history)
            self.engine_ms += (time.perf_counter() - t0) * 1000
        return self.report

    def _series(self, filters: dict[str, Any]) -> tuple[str, list[tuple[Any, ...]]]:
        """The metric's per-bucket series (the engine's own cell query), as run."""
        from tools.anomaly import GRAIN_DELTA
        from tools.metric_sql import metric_cells

        metric = self.ws.catalog.metrics[self._engine_report().metric]
        a = self._engine_report().anomaly
        from datetime import datetime

        end = datetime.fromisoformat(a.end) + GRAIN_DELTA[self.ws.catalog.grain]
        start = datetime.fromisoformat(a.start) - timedelta(days=7)
        q = metric_cells(metric, dialect=self.ws.catalog.dialect, grain=self.ws.catalog.grain, start=start,
                         end=end, filters={**self.incident.filters, **filters})
        result = self.ws.query(q)
        return result.sql, result.rows

    def add_evidence(self, title: str, data: Payload, *, sql: str | None = None) -> str:
        """An agent-made evidence item, numbered after the engine's."""
        base = len(self._engine_report().evidence)
        eid = f"E{base + len(self.extra) + 1}"
        self.extra.append(make_evidence(eid, title, data, sql=sql))
        return eid

    def evidence(self) -> list[Evidence]:
        return [*self._engine_report().evidence, *self.extra]

    # ------------------------------------------------------------------ tools

    def describe_catalog(self) -> ToolResult:
        """Tables, columns (PII marked, never their values), metric definitions and change sources."""
        schema = self.ws.warehouse.schema()
        pii = {t: set(c) for t, c in self.ws.catalog.pii.items()}
        tables = {t: [{"column": c, "type": ty, **({"pii": True} if c in pii.get(t, ()) else {})}
                      for c, ty in cols.items()] for t, cols in sorted(schema.items())}
        metrics = {n: {"table": m.table, "timestamp": m.timestamp, "value": m.value, "unit": m.unit,
                       "dimensions": m.dimensions, "higher_is_worse": m.higher_is_worse, "description": m.description}
                   for n, m in self.ws.catalog.metrics.items()}
        changes = {n: {"table": c.table, "id": c.id, "timestamp": c.timestamp, "description": c.description,
                       "scope": c.scope} for n, c in self.ws.catalog.changes.items()}
        return ToolResult(tool="describe_catalog", status="ok",
                          data={"dialect": self.ws.catalog.dialect, "grain": self.ws.catalog.grain,
                                "tables": tables, "metrics": metrics, "change_sources": changes,
                                "experiments": {n: e.table for n, e in self.ws.catalog.experiments.items()},
                                "graph": [list(e) if isinstance(e, list | tuple) else e
                                          for e in self.ws.catalog.graph]})

    def detect_anomaly(self) -> ToolResult:
        a = self._engine_report().anomaly
        return ToolResult(tool="detect_anomaly", status="ok", data=a.model_dump(), evidence=a.evidence)

    def localize_segments(self, *, limit: int = 5) -> ToolResult:
        r = self._engine_report()
        if not r.segments:
            return ToolResult(tool="localize_segments", status="no_data", params={"limit": limit},
                              note="the metric has no dimensions, or no segment carries the movement")
        eids = [e.id for e in r.evidence if e.kind == "segments"]
        return ToolResult(tool="localize_segments", status="ok", params={"limit": limit},
                          data=[s.model_dump() for s in r.segments[:limit]], evidence=eids[-1:])

    def rank_causes(self, *, limit: int = 8) -> ToolResult:
        r = self._engine_report()
        if not r.root_causes:
            return ToolResult(tool="rank_causes", status="no_data", params={"limit": limit},
                              note="no candidate cause in the change logs, experiments or metric graph")
        rows = [{"rank": c.rank, "kind": c.kind, "id": c.id, "title": c.title, "score": c.score,
                 "effect": c.effect, "timing": c.timing, "evidence": c.evidence} for c in r.root_causes[:limit]]
        return ToolResult(tool="rank_causes", status="ok", params={"limit": limit}, data=rows,
                          note=None if len(r.root_causes) <= limit else f"{len(r.root_causes)} candidates, "
                          f"top {limit} shown")

    def estimate_candidate(self, *, candidate_id: str) -> ToolResult:
        r = self._engine_report()
        hit = next((c for c in r.root_causes if c.id == candidate_id), None)
        if hit is None:
            return ToolResult(tool="estimate_candidate", status="error", params={"candidate_id": candidate_id},
                              error=f"unknown candidate {candidate_id!r}; known: "
                                    f"{', '.join(c.id for c in r.root_causes[:20])}")
        ev = [e for e in r.evidence if e.id in hit.evidence and e.kind != "ranking"]
        return ToolResult(tool="estimate_candidate", status="ok", params={"candidate_id": candidate_id},
                          data={**hit.model_dump(), "methods": [{"id": e.id, "kind": e.kind, "method": e.method}
                                                                for e in ev]},
                          query=next((e.sql for e in ev if e.sql), None), evidence=hit.evidence)

    def size_impact(self) -> ToolResult:
        i = self._engine_report().impact
        if i.affected_units is None:
            return ToolResult(tool="size_impact", status="no_data", data=i.model_dump(), evidence=i.evidence,
                              note=i.reach or "impact not sized")
        sql = next((e.sql for e in self._engine_report().evidence if e.id in i.evidence and e.sql), None)
        return ToolResult(tool="size_impact", status="ok", data=i.model_dump(), evidence=i.evidence, query=sql)

    def similar_incidents(self) -> ToolResult:
        r = self._engine_report()
        if not r.similar_incidents:
            return ToolResult(tool="similar_incidents", status="no_data", note="no similar past incident found")
        eids = [e.id for e in r.evidence if e.kind == "retrieval"]
        return ToolResult(tool="similar_incidents", status="ok",
                          data=[s.model_dump() for s in r.similar_incidents], evidence=eids[-1:])

    def run_sql(self, *, sql: str, purpose: str = "") -> ToolResult:
        """One guarded read-only query; a rejection or a database error comes back with its exact text."""
        params = {"purpose": purpose}
        try:
            result = self.ws.query(sql)
        except GuardRejected as err:
            return ToolResult(tool="run_sql", status="error", params=params, query=sql,
                              error=f"rejected by the SQL guard ({err.rule}): {err}")
        except WarehouseError as err:
            return ToolResult(tool="run_sql", status="error", params=params, query=err.sql or sql,
                              error=f"database error: {err}")
        self.queries.append(result.sql)
        rows = [list(r) for r in result.rows]
        eid = self.add_evidence(purpose or "agent query", SqlData(
            rows=len(rows), columns=list(result.columns), sample=self.redactor.value(rows[:50]),
            elapsed_ms=round(result.elapsed_ms, 1), truncated=result.truncated), sql=result.sql)
        status: Status = "ok" if rows else "no_data"
        return ToolResult(tool="run_sql", status=status, params=params, query=result.sql,
                          data={"columns": result.columns, "rows": rows}, evidence=[eid],
                          note="row cap reached: the result is truncated" if result.truncated else None)

    def draw_chart(self, *, filters: dict[str, Any] | None = None) -> ToolResult:
        """The metric per bucket around the anomaly, as a PNG artifact; the model gets its path and id."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        filters = filters or {}
        try:
            sql, rows = self._series(filters)
        except (GuardRejected, WarehouseError, ValueError) as err:
            return ToolResult(tool="draw_chart", status="error", params={"filters": filters}, error=str(err))
        if not rows:
            return ToolResult(tool="draw_chart", status="no_data", params={"filters": filters}, query=sql)
        r = self._engine_report()
        out = Path(self.settings.artifacts_dir) / r.incident_id
        out.mkdir(parents=True, exist_ok=True)
        name = f"{r.metric}-{len(self.extra) + 1}.png"
        xs = [row[0] for row in rows]
        ys = [float(row[1]) if row[1] is not None else float("nan") for row in rows]
        fig, ax = plt.subplots(figsize=(9, 3.2))
        ax.plot(xs, ys, lw=1)
        from datetime import datetime

        ax.axvspan(datetime.fromisoformat(r.anomaly.start), datetime.fromisoformat(r.anomaly.end),  # type: ignore
                   alpha=0.2, color="red")
        ax.set_title(f"{r.metric} {filters or ''}".strip())
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        eid = self.add_evidence(f"chart of {r.metric}", ChartData(artifact=str(out / name), filters=filters), sql=sql)
        return ToolResult(tool="draw_chart", status="ok", params={"filters": filters}, query=sql,
                          data={"artifact": str(out / name), "points": len(rows)}, evidence=[eid])
