"""Step: the metric, its series at the catalog grain, the anomalous window and its onset."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from agent.incident import Incident, InputError, stated_direction
from agent.report import AnomalyData
from agent.state import Candidate, Investigation, StepTrail
from agent.steps.levels import Levels
from tools.anomaly import GRAIN_DELTA, AnomalyWindow, find_anomaly
from tools.catalog import Catalog, MetricDef
from tools.metric_sql import is_additive, metric_cells, numeric_values

HISTORY = timedelta(days=14)  # how much series before the window the detector reads


@dataclass
class WindowOut:
    anomaly: AnomalyWindow
    series_evidence: str
    trail: StepTrail


def resolve_metric(catalog: Catalog, incident: Incident) -> MetricDef:
    """The incident's metric, or a clear refusal: the offline analyst does not guess from free text."""
    if incident.metric:
        if incident.metric not in catalog.metrics:
            raise InputError(f"incident.json: metric: unknown metric {incident.metric!r}; the catalog defines "
                             f"{', '.join(sorted(catalog.metrics))}")
        return catalog.metrics[incident.metric]
    text = f"{incident.title} {incident.description}".lower()
    hits = [m for m in catalog.metrics.values()
            if all(tok in text for tok in m.name.lower().split("_") if len(tok) > 2)]
    if len(hits) == 1:
        return hits[0]
    raise InputError("incident.json: metric: missing, and the offline analyst will not pick one from the text; "
                     f"set it to one of {', '.join(sorted(catalog.metrics))}")


def check_filters(metric: MetricDef, incident: Incident) -> None:
    """The incident's filters must be dimensions of its metric (the error names the ones that are not)."""
    unknown = [k for k in incident.filters if k not in metric.dimensions]
    if unknown:
        raise InputError(f"incident.json: filters: {', '.join(unknown)} not a dimension of {metric.name} "
                         f"(dimensions: {', '.join(metric.dimensions) or 'none'})")


def confirmed_direction(inv: Investigation) -> str | None:
    """The worsening direction when the responder's words say the metric moved that way, else None.

    Words against the catalog's direction are not trusted: "deletion jobs failing more often" is about the
    failures, while the metric is the completion rate (it fell); the series then decides as usual.
    """
    worse = "up" if inv.metric.higher_is_worse else "down"
    return worse if stated_direction(inv.incident) == worse else None


def step_window(inv: Investigation) -> WindowOut:
    """The metric's series at the catalog grain, then the anomalous window and its onset."""
    mark = inv.mark()
    inc, m = inv.incident, inv.metric
    step = GRAIN_DELTA[inv.grain]
    end = max(inc.window.end if inc.window else inc.detected_at + step, inc.detected_at + step)
    start = (inc.window.start if inc.window else inc.detected_at) - HISTORY
    query = metric_cells(m, dialect=inv.dialect, grain=inv.grain, start=start, end=end, filters=inc.filters)
    series = inv.sql(query, f"{m.name} per {inv.grain}")
    if series.empty or series["n"].sum() == 0:
        raise InputError(f"metric {m.name} has no data between {start.isoformat()} and {end.isoformat()}")
    numeric_values(series)
    if inc.window is not None:
        b = pd.to_datetime(series["bucket"])
        inside = series[(b >= pd.Timestamp(inc.window.start)) & (b < pd.Timestamp(inc.window.end))]
        if inside.empty or inside["n"].sum() == 0:
            raise InputError(f"metric {m.name} has no data in the incident window "
                             f"{inc.window.start.isoformat()} .. {inc.window.end.isoformat()}")
    window = (inc.window.start, inc.window.end) if inc.window else None
    anomaly = find_anomaly(series, grain=inv.grain, higher_is_worse=m.higher_is_worse, detected_at=inc.detected_at,
                           window=window, rate=not is_additive(m, inv.dialect), stated=confirmed_direction(inv))
    if not anomaly.found:
        inv.limitations.append("the metric's movement is within its normal noise: only a cause whose own "
                               "comparison (randomized, or against untreated segments) is clear can be confident")
    return WindowOut(anomaly=anomaly, series_evidence=series.attrs["evidence"], trail=inv.trail(mark))


def with_onset(anomaly: AnomalyWindow, onset: datetime, grain: str) -> AnomalyWindow:
    """The window re-anchored on an onset measured on the moving segment (a detected window starts there)."""
    if anomaly.source != "detected":
        return replace(anomaly, onset=onset)
    return replace(anomaly, onset=onset, start=min(onset, anomaly.end - GRAIN_DELTA[grain]))


def reanchored(anomaly: AnomalyWindow, top: Candidate | None, grain: str) -> AnomalyWindow | None:
    """A detected window with no clear onset, started where the top cause (a change) landed; None if it stays.

    The series gave no onset, so the window was the day before detection; a change cannot have affected
    anything before it landed, and counting a day of units before it inflates the impact.
    """
    if anomaly.found or anomaly.source != "detected" or top is None or top.kind != "change" or top.at is None:
        return None
    start = pd.Timestamp(top.at).floor(GRAIN_DELTA[grain]).to_pydatetime()
    if not anomaly.start < start < anomaly.end:
        return None
    return replace(anomaly, start=start, onset=start)


def record_window(inv: Investigation, anomaly: AnomalyWindow, levels: Levels, series_evidence: str) -> str:
    """The window as evidence, once its onset is settled (after the re-run on the moving segment)."""
    return inv.evidence.add("Anomaly window", AnomalyData(
        start=anomaly.start.isoformat(), end=anomaly.end.isoformat(), onset=levels.onset.isoformat(),
        window_source=anomaly.source, direction=anomaly.direction,
        direction_from=("the incident's words, which agree with the metric's worsening direction"
                        if anomaly.stated else "the series (the worsening direction preferred)"),
        score=round(anomaly.score, 2),
        peak_z=round(anomaly.peak_z, 2), found=anomaly.found, baseline=levels.baseline, observed=levels.observed,
        baseline_period=[p.isoformat() for p in levels.baseline_period], series_sql=series_evidence,
        levels_sql=levels.evidence), method="robust seasonal baseline + CUSUM-style max excess run")


def record_reanchored(inv: Investigation, anomaly: AnomalyWindow, levels: Levels) -> str:
    """The window re-anchored on the top cause, as evidence."""
    return inv.evidence.add("Anomaly window, from the top cause", AnomalyData(
        start=anomaly.start.isoformat(), end=anomaly.end.isoformat(), onset=anomaly.start.isoformat(),
        window_source=anomaly.source, direction=anomaly.direction, found=False, baseline=levels.baseline,
        observed=levels.observed, levels_sql=levels.evidence),
        method="no clear onset in the series: the analysed period is cut at the bucket where the top cause landed")
