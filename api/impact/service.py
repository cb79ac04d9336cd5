"""Size an incident's impact by every catalog dimension, with small counts suppressed (k-anonymity).

Counts come from the same guarded count(distinct unit) the engine uses (tools.impact.impact_query), grouped
by one dimension at a time, inside the top cause's reach and the anomaly window. Unit ids never leave the
warehouse; a count under k is withheld.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlglot import exp

from agent.report import Report
from api.impact.models import Breakdown, Count, DataCategory, ImpactReport
from tools.catalog import MetricDef
from tools.impact import impact_query
from tools.metric_sql import col
from tools.workspace import Workspace

CATEGORIES = [  # (substring of a PII column name, the data category it names)
    ("email", "contact data (email address)"), ("phone", "contact data (phone number)"),
    ("ip", "network identifiers (IP address)"), ("device", "device identifiers"),
    ("user", "account identifiers"), ("name", "names"), ("address", "postal address"),
    ("birth", "date of birth"), ("geo", "location data"), ("lat", "location data"), ("lon", "location data"),
]


class NoImpact(ValueError):
    """Nothing to size: no finished investigation, or a metric without a unit."""


def category(column: str) -> str:
    low = column.lower()
    return next((label for key, label in CATEGORIES if key in low), "personal data")


def parse_reach(text: str | None, metric: MetricDef) -> dict[str, str] | None:
    """The report's reach text ("platform=web, region=EU" / "all") as filters; None if it is not dimensions."""
    if not text or text == "all":
        return {}
    reach: dict[str, str] = {}
    for part in text.split(", "):
        dim, sep, value = part.partition("=")
        if not sep or dim not in metric.dimensions:
            return None
        reach[dim] = value
    return reach


def _experiment(ws: Workspace, report: Report) -> tuple[Any, str, str] | None:
    top = report.root_causes[0] if report.root_causes else None
    if top is None or top.kind != "experiment" or not ws.catalog.experiments:
        return None
    source = next(iter(ws.catalog.experiments.values()))
    return source, top.id, source.control


def _count(ws: Workspace, q: exp.Select) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in ws.query(q, max_rows=10_000).rows]


def build(*, ws: Workspace, report: Report, investigation_id: str, filters: dict[str, Any], k: int) -> ImpactReport:
    """The impact report of a finished investigation."""
    if report.metric not in ws.catalog.metrics:
        raise NoImpact(f"metric '{report.metric}' is not in the catalog")
    metric = ws.catalog.metrics[report.metric]
    if not metric.unit:
        raise NoImpact(f"metric '{metric.name or report.metric}' has no unit: no impact sizing")
    start, end = datetime.fromisoformat(report.anomaly.start), datetime.fromisoformat(report.anomaly.end)
    experiment = _experiment(ws, report)
    reach = {} if experiment else parse_reach(report.impact.reach, metric)
    if reach is None:
        raise NoImpact(f"the reach '{report.impact.reach}' is not a set of catalog dimensions")
    dialect = ws.catalog.dialect

    def base() -> exp.Select:
        return impact_query(metric=metric, dialect=dialect, start=start, end=end, reach=reach, filters=filters,
                            experiment=experiment)

    total = int(_count(ws, base())[0][0] or 0)
    breakdowns = []
    for dim in metric.dimensions:
        q = base().select(exp.alias_(col(dim), "value", quoted=True)).group_by(col(dim)).order_by(col(dim))
        counts = []
        for n, value in _count(ws, q):
            n = int(n or 0)
            counts.append(Count(value=str(value), affected_units=n if n >= k else None, suppressed=n < k))
        breakdowns.append(Breakdown(dimension=dim, counts=counts))
    pii = ws.catalog.pii.get(metric.table, [])
    top = report.root_causes[0] if report.root_causes else None
    reach_text = report.impact.reach or "all"
    method = (f"count(distinct {metric.unit}) over {metric.table} rows in the anomaly window "
              f"[{report.anomaly.start}, {report.anomaly.end})"
              + (f" where {metric.affected_when}" if metric.affected_when else "")
              + f", inside the top cause's reach ({reach_text})"
              + (f" and the incident's filters ({', '.join(f'{a}={b}' for a, b in filters.items())})"
                 if filters else "")
              + f"; per dimension value, grouped once per dimension; counts under k={k} are withheld. "
              "Data categories are the catalog's PII columns of the rows counted. Queries ran through the SQL "
              "guard; no identifier left the warehouse.")
    return ImpactReport(incident_id=report.incident_id, investigation_id=investigation_id, metric=report.metric,
                        window_start=report.anomaly.start, window_end=report.anomaly.end,
                        root_cause=f"{top.kind} {top.id}" if top else None, reach=reach_text, unit=metric.unit,
                        affected_units=total if total >= k else None, total_suppressed=total < k, k=k,
                        by_dimension=breakdowns,
                        data_categories=[DataCategory(table=metric.table, column=c, category=category(c)) for c in pii],
                        method=method)


def to_markdown(r: ImpactReport) -> str:
    """A page a privacy office can paste into a notification."""
    def n(value: int | None) -> str:
        return f"< {r.k} (suppressed)" if value is None else str(value)

    lines = [f"# Impact of {r.incident_id}", "",
             f"- Window: {r.window_start} to {r.window_end} (UTC)", f"- Root cause: {r.root_cause or 'unknown'}",
             f"- Reach: {r.reach}", f"- Affected {r.unit}s: {n(r.affected_units)}", "",
             "## Data categories involved", ""]
    lines += [f"- {c.category}: `{c.table}.{c.column}`" for c in r.data_categories] or ["- none recorded"]
    for b in r.by_dimension:
        lines += ["", f"## By {b.dimension}", "", f"| {b.dimension} | affected {r.unit}s |", "|---|---|"]
        lines += [f"| {c.value} | {n(c.affected_units)} |" for c in b.counts]
    lines += ["", "## Method", "", r.method, "", f"Investigation `{r.investigation_id}`."]
    return "\n".join(lines) + "\n"


def to_csv(r: ImpactReport) -> str:
    """One row per (dimension, value), plus the total; suppressed counts are empty with suppressed=true."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["incident_id", "dimension", "value", "affected_units", "suppressed", "window_start", "window_end"])
    w.writerow([r.incident_id, "total", "all", "" if r.affected_units is None else r.affected_units,
                str(r.total_suppressed).lower(), r.window_start, r.window_end])
    for b in r.by_dimension:
        for c in b.counts:
            w.writerow([r.incident_id, b.dimension, c.value, "" if c.affected_units is None else c.affected_units,
                        str(c.suppressed).lower(), r.window_start, r.window_end])
    return buf.getvalue()
