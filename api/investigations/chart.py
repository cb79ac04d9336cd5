"""A PNG of the metric around the incident: the series, the anomaly window shaded, candidate changes marked."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from agent.report import Report
from tools.metric_sql import metric_cells
from tools.workspace import Workspace

CONTEXT = timedelta(days=3)


def change_times(report: Report) -> dict[str, datetime]:
    """When each ranked change landed, read from its causal evidence (``data.change.at``)."""
    out: dict[str, datetime] = {}
    for item in report.evidence:
        data: Any = item.model_dump().get("data") or {}
        change = data.get("change") if isinstance(data, dict) else None
        if isinstance(change, dict) and change.get("id") and change.get("at"):
            try:
                out[str(change["id"])] = datetime.fromisoformat(str(change["at"]))
            except ValueError:
                continue
    return out


def render_png(*, report: Report, workspace: Workspace, filters: dict[str, Any]) -> bytes:
    """Query the series through the guard (same metric SQL as the engine) and draw it."""
    metric = workspace.catalog.metrics[report.metric]
    start, end = datetime.fromisoformat(report.anomaly.start), datetime.fromisoformat(report.anomaly.end)
    q = metric_cells(metric, dialect=workspace.catalog.dialect, grain=workspace.catalog.grain,
                     start=start - CONTEXT, end=end + (end - start) / 2, filters=filters)
    result = workspace.query(q, max_rows=50_000)
    cols = {c: i for i, c in enumerate(result.columns)}
    xs = [r[cols["bucket"]] for r in result.rows]
    ys = [float("nan") if r[cols["value"]] is None else float(r[cols["value"]]) for r in result.rows]
    fig = Figure(figsize=(10, 4), dpi=100)
    ax = fig.add_subplot()
    ax.plot(xs, ys, color="#1f77b4", linewidth=1.4, label=report.metric)
    ax.axvspan(float(date2num(start)), float(date2num(end)), color="#d62728", alpha=0.12, label="anomaly window")
    times = change_times(report)
    colors = ["#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]
    ranked = [rc for rc in report.root_causes if rc.kind == "change" and rc.id in times][:5]
    for rc, color in zip(ranked, colors, strict=False):
        ax.axvline(float(date2num(times[rc.id])), color=color, linestyle="--", linewidth=1.2,
                   label=f"#{rc.rank} {rc.id} (score {rc.score:.2f})")
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_title(f"{report.incident_id}: {report.metric}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
