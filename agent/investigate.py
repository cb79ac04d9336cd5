"""The investigation: one straight path from an incident to a report, each step leaving evidence.

This is the offline analyst's fixed plan; the LLM agent (next round) calls the same steps as tools.
Steps do not know who called them; progress goes through a callback, never to stdout.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlglot import exp

from agent.incident import Incident, InputError, load_incident, stated_direction
from agent.narrative import render_narrative
from agent.report import (
    AnomalyOut,
    EvidenceLog,
    ImpactOut,
    Report,
    RootCauseOut,
    SegmentOut,
    SimilarOut,
)
from tools.anomaly import GRAIN_DELTA, AnomalyWindow, find_anomaly, onset_on
from tools.catalog import Catalog, MetricDef
from tools.causal import (
    ChangeCandidate,
    ChangeEstimate,
    LeadSupport,
    Refutation,
    comparison_panel,
    estimate_change,
    lead_in_minutes,
    lead_periods,
    lead_support,
)
from tools.confinement import confinement
from tools.experiments import ArmStats, ExperimentEstimate, arm_query, estimate_experiment, started_query
from tools.impact import impact_query
from tools.metric_sql import aliased_table, col, is_additive, metric_cells, ts_literal
from tools.ranking import CONFINED, PRE_TREND_TIMING, TWIN_RATIO, WITHIN_NOISE, Features, lead_fit, timing_fit
from tools.segments import SegmentScore, dimension_sets, rank_segments, score_segments, share_phrase
from tools.settings import Settings
from tools.twins import twin_order, twin_periods
from tools.workspace import Workspace

Progress = Callable[[str], None]
REFUTE_TOP = 3            # full DoWhy refutation for the strongest candidates only (cost control)
BASELINE_SPAN = timedelta(hours=72)
CONFINE_MIN = 0.05        # changes scored below this are not worth a confinement query
PANEL_SPAN = timedelta(days=7)


def _noop(_: str) -> None:
    return None


@dataclass
class Candidate:
    """A scored candidate cause before it becomes a report row."""

    kind: str
    id: str
    title: str
    features: Features
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    refutations: dict[str, bool] = field(default_factory=dict)
    timing: str | None = None
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    reach: dict[str, object] | None = None
    experiment: tuple[object, str, str] | None = None
    fixed_score: float | None = None
    at: datetime | None = None  # when a change landed
    twins: list[str] = field(default_factory=list)  # changes its estimate cannot tell it from
    lead_support: LeadSupport | None = None  # could the hour before a change have shown an earlier start?

    @property
    def score(self) -> float:
        return self.fixed_score if self.fixed_score is not None else self.features.score()


def rank_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; equal scores (two causes at the within-noise cap) go to the stronger own evidence (lower p)."""
    return sorted(candidates, key=lambda c: (-round(c.score, 4), 1.0 if c.features.p_value is None
                                             else c.features.p_value, c.kind, c.id))


@dataclass
class Context:
    """What the steps share: the workspace, the incident, the metric and the evidence log."""

    ws: Workspace
    incident: Incident
    metric: MetricDef
    evidence: EvidenceLog
    progress: Progress
    limitations: list[str] = field(default_factory=list)
    population: SegmentScore | None = None  # the responder's filtered population scored against everyone

    @property
    def catalog(self) -> Catalog:
        return self.ws.catalog

    @property
    def grain(self) -> str:
        return self.ws.catalog.grain

    @property
    def dialect(self) -> str:
        return self.ws.catalog.dialect

    def sql(self, query, title: str, *, max_rows: int = 200_000) -> pd.DataFrame:  # noqa: ANN001
        """Guard + run + record as evidence; returns the cells as a frame."""
        result = self.ws.query(query, max_rows=max_rows)
        eid = self.evidence.add("sql", title, sql=result.sql, rows=len(result.rows),
                                elapsed_ms=round(result.elapsed_ms, 1), truncated=result.truncated)
        frame = result.to_frame()
        # --- robust (issue 20 item 2): a zero denominator is +-inf or NaN in DuckDB: that cell is missing data
        if "value" in frame.columns:
            frame["value"] = pd.to_numeric(frame["value"], errors="coerce").replace([np.inf, -np.inf], np.nan)
        # --- end robust
        frame.attrs["evidence"] = eid
        if result.truncated:
            self.limitations.append(f"{title}: result truncated at {max_rows} rows")
        return frame


# --------------------------------------------------------------------------------------------- steps


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
    unknown = [k for k in incident.filters if k not in metric.dimensions]
    if unknown:
        raise InputError(f"incident.json: filters: {', '.join(unknown)} not a dimension of {metric.name} "
                         f"(dimensions: {', '.join(metric.dimensions) or 'none'})")


def step_anomaly(ctx: Context) -> tuple[AnomalyWindow, pd.DataFrame, str]:
    """The metric's series at the catalog grain, then the anomalous window and its onset."""
    inc, m = ctx.incident, ctx.metric
    step = GRAIN_DELTA[ctx.grain]
    end = inc.window.end if inc.window else inc.detected_at + step
    end = max(end, inc.detected_at + step)
    start = (inc.window.start if inc.window else inc.detected_at) - timedelta(days=14)
    query = metric_cells(m, dialect=ctx.dialect, grain=ctx.grain, start=start, end=end, filters=inc.filters)
    series = ctx.sql(query, f"{m.name} per {ctx.grain}")
    if series.empty or series["n"].sum() == 0:
        raise InputError(f"metric {m.name} has no data between {start.isoformat()} and {end.isoformat()}")
    series["value"] = pd.to_numeric(series["value"], errors="coerce")
    if inc.window is not None:
        b = pd.to_datetime(series["bucket"])
        inside = series[(b >= pd.Timestamp(inc.window.start)) & (b < pd.Timestamp(inc.window.end))]
        if inside.empty or inside["n"].sum() == 0:
            raise InputError(f"metric {m.name} has no data in the incident window "
                             f"{inc.window.start.isoformat()} .. {inc.window.end.isoformat()}")
    window = (inc.window.start, inc.window.end) if inc.window else None
    rate = not is_additive(m, ctx.dialect)
    anomaly = find_anomaly(series, grain=ctx.grain, higher_is_worse=m.higher_is_worse,
                           detected_at=inc.detected_at, window=window, rate=rate, stated=confirmed_direction(ctx))
    if not anomaly.found:
        ctx.limitations.append("the metric's movement is within its normal noise: only a cause whose own "
                               "comparison (randomized, or against untreated segments) is clear can be confident")
    return anomaly, series, series.attrs["evidence"]


def confirmed_direction(ctx: Context) -> str | None:
    """The worsening direction when the responder's words say the metric moved that way, else None.

    Words against the catalog's direction are not trusted: "deletion jobs failing more often" is about the
    failures, while the metric is the completion rate (it fell); the series then decides as usual.
    """
    worse = "up" if ctx.metric.higher_is_worse else "down"
    return worse if stated_direction(ctx.incident) == worse else None


@dataclass
class Levels:
    baseline: float
    observed: float
    baseline_period: tuple[datetime, datetime]
    analysis_period: tuple[datetime, datetime]
    additive: bool
    evidence: str
    delta: float


def step_levels(ctx: Context, anomaly: AnomalyWindow) -> Levels:
    """Metric over the baseline and the anomaly window, computed exactly in the warehouse."""
    m = ctx.metric
    onset = min(anomaly.onset, anomaly.start)
    series = anomaly.series
    first = pd.Timestamp(series["bucket"].iloc[0]).to_pydatetime()
    b_start = max(first, onset - BASELINE_SPAN)
    if b_start >= onset:
        raise InputError(f"metric {m.name} has no data before the anomaly onset {onset.isoformat()}: no baseline")
    periods = [("anomaly", anomaly.start, anomaly.end), ("baseline", b_start, onset),
               ("analysis", onset, anomaly.end)]
    frame = ctx.sql(metric_cells(m, dialect=ctx.dialect, periods=periods, filters=ctx.incident.filters),
                    f"{m.name}: baseline vs anomaly window")
    vals = {r["period"]: float(r["value"]) if pd.notna(r["value"]) else None for _, r in frame.iterrows()}  # robust
    if vals.get("anomaly") is None or vals.get("baseline") is None:
        raise InputError(f"metric {m.name} has no rows in the baseline or the anomaly window")
    additive = is_additive(m, ctx.dialect)
    base, obs = vals["baseline"], vals["anomaly"]
    if additive:
        hours_b = (onset - b_start) / GRAIN_DELTA[ctx.grain]
        hours_a = (anomaly.end - anomaly.start) / GRAIN_DELTA[ctx.grain]
        base, obs = base / max(hours_b, 1), obs / max(hours_a, 1)
    return Levels(baseline=base, observed=obs, baseline_period=(b_start, onset), analysis_period=(onset, anomaly.end),
                  additive=additive, evidence=frame.attrs["evidence"], delta=obs - base)


def step_segments(ctx: Context, levels: Levels) -> tuple[list[SegmentScore], str | None]:
    """Single dimensions and pairs, scored by excess explanatory power and surprise."""
    m = ctx.metric
    dims = [d for d in m.dimensions if d not in ctx.incident.filters]
    if not dims:
        return [], None
    periods = [("baseline", *levels.baseline_period), ("anomaly", *levels.analysis_period)]
    frame = ctx.sql(metric_cells(m, dialect=ctx.dialect, periods=periods, group_by=dims,
                                 filters=ctx.incident.filters), f"{m.name} by {', '.join(dims)}: baseline vs anomaly")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    # Overall levels over the same periods (the analysis period starts at the onset).
    tot, base, obs = _period_levels(frame, levels.additive)
    len_b = (levels.baseline_period[1] - levels.baseline_period[0]) / GRAIN_DELTA[ctx.grain]
    len_a = (levels.analysis_period[1] - levels.analysis_period[0]) / GRAIN_DELTA[ctx.grain]
    scored: list[SegmentScore] = []
    for ds in dimension_sets(dims, pairs=len(dims) > 1):
        cells = frame.groupby(["period", *ds], dropna=False).apply(
            lambda g: pd.Series({"value": (g["value"] * g["n"]).sum() / g["n"].sum() if not levels.additive
                                 else g["value"].sum(), "n": g["n"].sum()}), include_groups=False).reset_index()
        scored.extend(score_segments(cells, tuple(ds), baseline=base, observed=obs, additive=levels.additive,
                                     len_baseline=len_b, len_anomaly=len_a))
    ranked = rank_segments(scored)
    ctx.population = _filtered_population(ctx, levels, periods, len_b, len_a) if ctx.incident.filters else None
    if ctx.incident.filters and (not ranked or ranked[0].excess < 0.15 or _population_leads(ctx.population, ranked)):
        whole = ctx.population or SegmentScore(
            dimensions={k: str(v) for k, v in ctx.incident.filters.items()}, share_of_change=1.0,
            population_share=1.0, excess=0.0, surprise=0.0, baseline=base, observed=obs,
            rows_baseline=int(tot.loc["baseline", "n"]) if "baseline" in tot.index else 0,
            rows_anomaly=int(tot.loc["anomaly", "n"]) if "anomaly" in tot.index else 0)
        ranked = [whole, *ranked]
    eid = ctx.evidence.add(
        "segments", "Segments that explain the change",
        method="Adtributor-style explanatory power and surprise over single dimensions and pairs; ranked by "
               "share_of_change - population_share",
        sql_evidence=frame.attrs["evidence"], baseline_period=[p.isoformat() for p in levels.baseline_period],
        anomaly_period=[p.isoformat() for p in levels.analysis_period],
        segments=[s.model_dump() for s in ranked[:5]])
    return ranked, eid


def _period_levels(frame: pd.DataFrame, additive: bool) -> tuple[pd.DataFrame, float, float]:
    """Per-period totals of a ``period, ..., value, n`` cells frame, and the baseline and anomaly levels."""
    tot = frame.assign(vn=frame["value"] * frame["n"]).groupby("period")[["vn", "n", "value"]].sum()

    def level(period: str) -> float:
        if period not in tot.index:
            return 0.0
        row = tot.loc[period]
        return float(row["value"]) if additive else float(row["vn"] / row["n"])

    return tot, level("baseline"), level("anomaly")


def _filtered_population(ctx: Context, levels: Levels, periods: list, len_b: float, len_a: float
                         ) -> SegmentScore | None:
    """The responder's filtered population scored against everyone: did it move more than the rest?

    Inside the filter it explains all of the change by construction; only the unfiltered comparison says
    whether the shift is specific to it (an external event in one region) or everywhere.
    """
    m = ctx.metric
    dims = tuple(d for d in ctx.incident.filters if d in m.dimensions)
    if not dims:
        return None
    frame = ctx.sql(metric_cells(m, dialect=ctx.dialect, periods=periods, group_by=list(dims)),
                    f"{m.name} by {', '.join(dims)} (all of them, not only the incident's filter): baseline vs "
                    "anomaly")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    tot, base, obs = _period_levels(frame, levels.additive)
    if not {"baseline", "anomaly"} <= set(tot.index):
        return None
    wanted = {d: str(ctx.incident.filters[d]) for d in dims}
    scored = score_segments(frame, dims, baseline=base, observed=obs, additive=levels.additive,
                            len_baseline=len_b, len_anomaly=len_a)
    return next((sc for sc in scored if sc.dimensions == wanted), None)


def _population_leads(whole: SegmentScore | None, inside: list[SegmentScore]) -> bool:
    """The filtered population is the most specific answer: it moved beyond its share of everyone's rows (excess
    > 0.2) and no segment inside it carries that movement (the same rule as for any segment and its parts)."""
    return (whole is not None and whole.excess > 0.2
            and _moving_part(whole, [_rescaled(s, whole) for s in inside]) is None)


def step_segment_onset(ctx: Context, anomaly: AnomalyWindow, segment: SegmentScore) -> datetime | None:
    """Onset measured on the moving segment's own series, where the shift is not diluted by the rest."""
    m = ctx.metric
    first = pd.Timestamp(anomaly.series["bucket"].iloc[0]).to_pydatetime()
    filters = {**ctx.incident.filters, **segment.dimensions}
    frame = ctx.sql(metric_cells(m, dialect=ctx.dialect, grain=ctx.grain, start=first, end=anomaly.end,
                                 filters=filters), f"{m.name} per {ctx.grain} in {segment.key}")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    sign = 1.0 if anomaly.direction == "up" else -1.0
    lo = min(anomaly.onset, anomaly.start)
    return onset_on(frame, grain=ctx.grain, start=lo, end=anomaly.end, rate=not is_additive(m, ctx.dialect),
                    sign=sign)


def _scope_value(v: object) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    text = str(v).strip()
    return None if text in {"", "*"} else text


def step_change_candidates(ctx: Context, anomaly: AnomalyWindow) -> list[tuple[str, ChangeCandidate]]:
    """Every change from every source that landed in the lookback before the onset and before the window end."""
    out: list[tuple[str, ChangeCandidate]] = []
    onset = min(anomaly.onset, anomaly.start)
    lookback = timedelta(hours=ctx.ws.settings.lookback_hours)
    for name, src in ctx.catalog.changes.items():
        cols = [src.id, src.timestamp] + ([src.description] if src.description else []) + list(src.scope)
        ts = col(src.timestamp)
        q = (_select_cols(cols).from_(_table(src.table))
             .where(exp.and_(exp.GTE(this=ts.copy(), expression=ts_literal(onset - lookback)),
                             exp.LT(this=ts.copy(), expression=ts_literal(anomaly.end))))
             .order_by(ts.copy()))
        frame = ctx.sql(q, f"candidate changes from {name}")
        for _, r in frame.iterrows():
            scope = {d: _scope_value(r[d]) for d in src.scope}
            out.append((name, ChangeCandidate(source=name, id=str(r[src.id]), at=pd.Timestamp(r[src.timestamp])
                                              .to_pydatetime(), description=str(r[src.description])
                                              if src.description and r[src.description] is not None else None,
                                              scope=scope)))
    return out


def _select_cols(cols: list[str]) -> exp.Select:
    seen: list[str] = []
    for c in cols:
        if c not in seen:
            seen.append(c)
    return exp.select(*[exp.alias_(col(c), c, quoted=True) for c in seen])


def _table(name: str) -> exp.Table:
    return exp.to_table(name, quoted=True)


def step_change_estimates(ctx: Context, anomaly: AnomalyWindow, levels: Levels,
                          changes: list[tuple[str, ChangeCandidate]], top_segment: SegmentScore | None
                          ) -> list[Candidate]:
    """DoWhy estimate per change on a (segment x bucket) panel, refuters on the strongest ones."""
    m = ctx.metric
    step = GRAIN_DELTA[ctx.grain]
    onset = levels.analysis_period[0]
    panels: dict[tuple[str, ...], pd.DataFrame] = {}
    results: list[tuple[ChangeCandidate, str | None, list[str]]] = []   # change, panel evidence, notes
    filters = {k: str(v) for k, v in ctx.incident.filters.items()}
    excluded = [c for _, c in changes if any(c.scope.get(d) not in (None, v) for d, v in filters.items())]
    changes = [(n, c) for n, c in changes if c not in excluded]
    included = [c for _, c in changes]

    def panel_dims(change: ChangeCandidate) -> tuple[str, ...]:
        """The filter's dimensions (the cells outside it are the comparison) and every dimension the change or
        its concurrent changes are scoped on, so all treatments are exact."""
        dims: list[str] = list(filters)
        for c in [change, *concurrent(change, included, step)]:
            for d, v in c.scope.items():
                if v is not None and d in m.dimensions and d not in dims:
                    dims.append(d)
        return tuple(dims)

    def panel_for(dims: tuple[str, ...]) -> pd.DataFrame:
        if dims not in panels:
            first = max(pd.Timestamp(anomaly.series["bucket"].iloc[0]).to_pydatetime(), onset - PANEL_SPAN)
            # Up to detection, not just the window's end: a change acts until it is rolled back, so an anomaly
            # that recovered before the alert was looked at (a blip) is not explained by a change still in place.
            # Not narrowed to the filter: `comparison_panel` keeps what lies outside it only where untreated.
            q = metric_cells(m, dialect=ctx.dialect, grain=ctx.grain, group_by=list(dims), start=first,
                             end=max(anomaly.end, ctx.incident.detected_at))
            p = ctx.sql(q, f"{m.name} panel by {', '.join(dims) or 'time'} x {ctx.grain}")
            p["value"] = pd.to_numeric(p["value"], errors="coerce")
            panels[dims] = p.dropna(subset=["value"])
        return panels[dims]

    def estimate(change: ChangeCandidate, refute: bool) -> ChangeEstimate:
        dims = panel_dims(change)
        return estimate_change(panel=comparison_panel(panel_for(dims), list(dims), change, filters),
                               dims=list(dims), change=change, others=concurrent(change, included, step),
                               grain=ctx.grain, window=levels.analysis_period, refute=refute,
                               seed=_seed(change.id), population=filters)

    for _name, change in changes:
        outside = [f"{d}={v}" for d, v in change.scope.items() if v is not None and d not in m.dimensions]
        notes = [f"scope on {', '.join(outside)} is not a dimension of {m.name}: treated as all"] if outside else []
        results.append((change, panel_for(panel_dims(change)).attrs.get("evidence"), notes))
    # First pass: screening effects without refuters; second pass: DoWhy + refuters on the strongest.
    estimates: dict[str, ChangeEstimate | str] = {}
    for change, _, _ in results:
        try:
            estimates[change.id] = estimate(change, refute=False)
        except ValueError as err:
            estimates[change.id] = str(err)
    prelim = []
    for change, _, _ in results:
        est = estimates[change.id]
        if isinstance(est, ChangeEstimate):
            f, _ = _change_features(est, levels, anomaly, change, onset, step)
            prelim.append((f.score(), change.id))
    prelim.sort(reverse=True)
    moving = top_segment if top_segment is not None and carries_movement(top_segment) else None
    for _, cid in prelim[:REFUTE_TOP]:
        ctx.progress(f"refuting {cid}")
        change = next(c for c in included if c.id == cid)
        est = estimates[cid] = estimate(change, refute=True)
        if ctx.grain == "hour" and not levels.additive:
            lead, est.lead_support = _lead_in_minutes(ctx, change, est.effect, moving)
            est.refutations.append(lead)
    out: list[Candidate] = [
        Candidate(kind="change", id=c.id, title=c.description or c.id, features=Features(explained=0.0),
                  reasons=[f"its scope ({c.scope_text()}) lies outside the incident's population "
                           f"({', '.join(f'{d}={v}' for d, v in sorted(filters.items()))})"]) for c in excluded]
    for change, panel_eid, notes in results:
        est = estimates[change.id]
        title = change.description or change.id
        if isinstance(est, str):
            cand = Candidate(kind="change", id=change.id, title=title, features=Features(explained=0.0),
                             reasons=[f"not estimable: {est}"] + notes)
            out.append(cand)
            continue
        f, ttext = _change_features(est, levels, anomaly, change, onset, step)
        reasons = [f"{ttext} ({change.at.isoformat()} vs onset {onset.isoformat()})"]
        reasons.append(f"explains {f.explained:.0%} of the observed change (effect {est.effect:.4g} in scope x "
                       f"{est.exposure:.0%} of the window's rows)")
        if not anomaly.found and f.anomaly > WITHIN_NOISE:
            reasons.append(f"the series shows no clear anomaly, but the comparison with untreated segments does: "
                           f"the scope moved clearly against them (p={est.p_value:.2g}), so confidence is kept at "
                           f"{f.anomaly:.0%}")
        if top_segment is not None and not change.touches(top_segment.dimensions):
            reasons.append(f"its scope ({change.scope_text()}) does not reach the moving segment "
                           f"{top_segment.key}")
        reasons += est.notes + notes
        eid = ctx.evidence.add(
            "causal_estimate", f"Effect of {change.id} on {m.name}", method=est.method,
            change=change.model_dump(mode="json"), effect=est.effect, ci=list(est.ci), p_value=est.p_value,
            design=est.design, cells=est.n_cells, treated_cells=est.treated_cells, exposure=est.exposure,
            adjusted_for=est.adjusted_for, refutations=[r.model_dump() for r in est.refutations],
            explained_share=f.explained, timing_fit=f.timing, panel_sql=panel_eid,
            lead_support=est.lead_support.model_dump() if est.lead_support is not None else None)
        out.append(Candidate(kind="change", id=change.id, title=title, features=f, effect=est.effect, ci=est.ci,
                             p_value=est.p_value, refutations={r.name: r.passed for r in est.refutations},
                             timing=ttext, reasons=reasons, evidence=[eid] + ([panel_eid] if panel_eid else []),
                             reach={d: v for d, v in change.scope.items() if v is not None and d in m.dimensions},
                             at=change.at, twins=list(est.twins), lead_support=est.lead_support))
    return out


def _lead_in_minutes(ctx: Context, change: ChangeCandidate, effect: float,
                     moving: SegmentScore | None = None) -> tuple[Refutation, LeadSupport | None]:
    """The change's scope right before and after it (`lead_periods`), against the same clock windows on earlier days:
    was it already moving (the test), and could its rows have shown that (the support, reported with the top cause)?

    `moving`: the segment that carries the movement. Where the change reaches it, the test looks there: a
    global deploy credited with a regional surge must not find that region already moving before it landed,
    and across everyone the region's first minutes are diluted by the rest.
    """
    m = ctx.metric
    scope = {d: v for d, v in change.scope.items() if v is not None and d in m.dimensions}
    where = f"the scope of {change.id}"
    if moving is not None and change.touches(moving.dimensions) and set(moving.dimensions) - set(scope):
        scope = {**scope, **moving.dimensions}
        where = f"{moving.key}, where {change.id}'s effect would be"
    frame = ctx.sql(metric_cells(m, dialect=ctx.dialect, periods=lead_periods(change.at),
                                 filters={**ctx.incident.filters, **scope}),
                    f"{m.name} in {where}, the hour around it (in parts) vs the same clock windows before")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame = frame.dropna(subset=["value"])
    return lead_in_minutes(frame, effect), lead_support(frame, effect)


def moving_population(ctx: Context, top_segment: SegmentScore | None) -> dict[str, str] | None:
    """Where the movement is: the responder's filter when there is one, else the top segment if it moved beyond
    its share of the rows (the confinement test then asks whether that movement is clear)."""
    if ctx.incident.filters:  # `check_filters` made them dimensions
        return {d: str(v) for d, v in ctx.incident.filters.items()}
    if top_segment is not None and top_segment.excess > 0.2:
        return dict(top_segment.dimensions)
    return None


def step_confinement(ctx: Context, levels: Levels, candidates: list[Candidate], moving: dict[str, str] | None,
                     sign: float) -> None:
    """Lower the changes whose scope reached beyond the moving population while the rest of it stayed flat.

    Inside the moving population a wider change has no untreated comparison; the rest of its scope is one.
    """
    if not moving or levels.additive:
        return
    m = ctx.metric
    frames: dict[tuple, pd.DataFrame] = {}
    periods = [("baseline", *levels.baseline_period), ("anomaly", *levels.analysis_period)]
    for c in candidates:
        if c.kind != "change" or c.reach is None or c.score < CONFINE_MIN:
            continue
        reach = {d: str(v) for d, v in c.reach.items()}
        if any(d in moving and moving[d] != v for d, v in reach.items()):
            continue
        wider = [d for d in moving if d not in reach]
        if not wider:
            continue
        key = (tuple(sorted(reach.items())), tuple(wider))
        scope = ", ".join(f"{d}={v}" for d, v in key[0]) or "all"
        if key not in frames:
            frame = ctx.sql(metric_cells(m, dialect=ctx.dialect, periods=periods, group_by=wider, filters=reach),
                            f"{m.name} by {', '.join(wider)} across {scope} (the moving part against the rest "
                            "of the change's scope): baseline vs anomaly")
            frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
            frames[key] = frame.dropna(subset=["value"])
        frame = frames[key]
        inside = {d: moving[d] for d in wider}
        found = confinement(frame, inside, sign)
        if found is None:
            continue
        eid = ctx.evidence.add("confinement", f"Did the rest of {c.id}'s scope move?",
                               method="log lift, anomaly vs baseline period, of the moving part of the "
                                      "change's scope against the rest of it (binomial errors on the log scale)",
                               sql_evidence=frame.attrs.get("evidence"), change=c.id, inside=inside,
                               confined=found.confined, z=round(found.z, 2), detail=found.detail)
        c.evidence.append(eid)
        if found.confined:
            c.features.specificity = CONFINED
            where = ",".join(f"{d}={v}" for d, v in sorted(inside.items()))
            c.reasons.insert(1, f"its scope ({scope}) reached beyond {where}, and only {where} moved "
                                f"({found.detail}): it is the cause only if its effect stayed inside {where}")


def step_twin_order(ctx: Context, candidates: list[Candidate], sign: float) -> set[str]:
    """Changes the panel cannot tell apart: the rows between them say which one started the shift.

    One guarded query per pair (the scope before the earlier change, between the two, after the later one);
    each change carries P(it started the shift) as its *shared* factor. Returns the ids it settled.
    """
    by_id = {c.id: c for c in candidates if c.kind == "change" and c.at is not None and c.score > 0}
    pairs = {tuple(sorted((c.id, t), key=lambda i: (by_id[i].at, i))) for c in by_id.values() for t in c.twins
             if t in by_id and by_id[t].at != c.at}
    settled: set[str] = set()
    for a, b in sorted(pairs):
        first, second = by_id[a], by_id[b]
        scope = {**ctx.incident.filters, **(first.reach or {})}
        cells = ctx.sql(metric_cells(ctx.metric, dialect=ctx.dialect, periods=twin_periods(first.at, second.at),
                                     filters=scope),
                        f"{ctx.metric.name} before {a}, between {a} and {b}, after {b}")
        cells["value"] = pd.to_numeric(cells["value"], errors="coerce")
        order = twin_order(cells, earlier=a, later=b, sign=sign)
        if order is None:
            continue
        eid = ctx.evidence.add("twin_order", f"Which of {a} and {b} started the shift",
                               method="binomial likelihood of the rows between the two changes at the rate "
                                      "before the earlier one vs the rate after the later one",
                               sql_evidence=cells.attrs["evidence"], **order.model_dump())
        for c, p, between in ((first, order.p_earlier, f"it and {b}"), (second, 1.0 - order.p_earlier, f"{a} and it")):
            c.features.shared *= p
            c.evidence.append(eid)
            c.reasons.append(f"the rows between {between} say it started the shift with probability {p:.0%} "
                             f"({order.detail})")
            settled.add(c.id)
    return settled


def share_twins(candidates: list[Candidate], settled: Collection[str] = ()) -> None:
    """Changes the panel cannot tell apart, scored within TWIN_RATIO of each other, split their evidence.

    Both keep the joint effect (neither is adjusted for the other), so each score says "one of us"; where the
    rows between them could not say which (`step_twin_order` did not settle it), each carries its share
    s / (s + s_twin). The ranking between them is unchanged.
    """
    scores = {c.id: c.score for c in candidates if c.kind == "change"}
    for c in candidates:
        s = scores.get(c.id, 0.0)
        if c.id in settled:
            continue
        close = [t for t in c.twins if t in scores and t not in settled and s > 0
                 and min(s, scores[t]) / max(s, scores[t]) >= TWIN_RATIO]
        if not close:
            continue
        other = max(close, key=lambda t: scores[t])
        c.features.shared = s / (s + scores[other])
        c.reasons.append(f"the data cannot tell it from {other} (same scope, a bucket or two apart; scores "
                         f"{s:.2f} and {scores[other]:.2f}): the two share the evidence, {c.features.shared:.0%} "
                         "of it here")


def incident_sign(levels: Levels, anomaly: AnomalyWindow) -> float:
    """+1 if the incident is the metric going up: the measured change when it is clear, else the direction
    the detector worked in (the worsening one), since a within-noise change can have either sign."""
    if anomaly.found:
        return 1.0 if levels.delta >= 0 else -1.0
    return 1.0 if anomaly.direction == "up" else -1.0


def explained_share(effect: float, exposure: float, p_value: float | None, levels: Levels,
                    anomaly: AnomalyWindow) -> float:
    """Share of the observed change a candidate accounts for (effect x exposure / change).

    When the series shows no clear anomaly the observed change is noise and a ratio to it means nothing
    (it can even have the wrong sign while a diluted cause is real). Then the share is how clearly the
    candidate itself moved the metric in the incident's direction: z of its own estimate, 1 -> 0, 4 -> 1.
    """
    if anomaly.found:
        return effect * exposure / levels.delta if levels.delta else 0.0
    if p_value is None or effect * incident_sign(levels, anomaly) <= 0:
        return 0.0
    from scipy.stats import norm

    z = float(norm.isf(max(p_value, 1e-300) / 2))
    return min(1.0, max(0.0, (z - 1.0) / 3.0))


def anomaly_factor(anomaly: AnomalyWindow, randomized_p: float | None = None,
                   compared_p: float | None = None) -> float:
    """The ranking's anomaly factor: full credit for a real change, WITHIN_NOISE when the series shows none.

    `randomized_p`: the p-value of a randomized estimate that moves the metric in the incident's direction.
    Randomization needs no anomaly in the diluted aggregate: a treatment arm that differs from control at
    z >= 4 shows the metric really moved there, so the doubt rises back from WITHIN_NOISE (z <= 2) to none.
    `compared_p`: the same for a difference-in-differences estimate (an untreated comparison, not randomized,
    and one of many candidates): the doubt lifts from z 3 to 5. Such within-noise top-1 changes at p < 0.001
    were right 21 times in 23 on the four suites, all of them capped at WITHIN_NOISE before.
    """
    if anomaly.found:
        return 1.0
    p, lo = (randomized_p, 2.0) if randomized_p is not None else (compared_p, 3.0)
    if p is None:
        return WITHIN_NOISE
    from scipy.stats import norm

    z = float(norm.isf(max(p, 1e-300) / 2))
    return WITHIN_NOISE + (1.0 - WITHIN_NOISE) * min(1.0, max(0.0, (z - lo) / 2.0))


def timing_until(anomaly: AnomalyWindow) -> datetime | None:
    """End of the analysed period when the series gave no clear onset (timing then cannot discriminate)."""
    return None if anomaly.found else anomaly.end


def concurrent(change: ChangeCandidate, all_changes: list[ChangeCandidate], step: timedelta) -> list[ChangeCandidate]:
    """Changes to adjust for: those in the 24 h before it (pre-treatment confounders) and those in the same
    two buckets after it (indistinguishable in time otherwise); later ones are post-treatment and left out."""
    return [o for o in all_changes
            if o.id != change.id and -timedelta(hours=24) <= o.at - change.at <= 2 * step]


def _seed(text: str) -> int:
    return sum((i + 1) * ord(ch) for i, ch in enumerate(text)) % (2**31)


SURE_LEAD = 0.95  # below this, the hour before the top change could not tell when the shift began
LEAD_TESTS = ("pre_trend", "pre_trend_minutes")  # was the change's scope already moving before it landed?


def scope_moved_before(outcomes: dict[str, bool]) -> bool:
    """A lead test failed: the scope moved before the change, so the change cannot have started the shift."""
    return any(outcomes.get(name) is False for name in LEAD_TESTS)


def _change_features(est: ChangeEstimate, levels: Levels, anomaly: AnomalyWindow, change: ChangeCandidate,
                     onset: datetime, step: timedelta) -> tuple[Features, str]:
    """The change's ranking features and the sentence saying how its timing fits."""
    explained = explained_share(est.effect, est.exposure, est.p_value, levels, anomaly)
    tfit, ttext = timing_fit(change.at, onset, step, until=timing_until(anomaly))
    fits = [(lead_fit(r.p_value, r.threshold), r) for r in est.refutations if r.name in LEAD_TESTS and not r.passed]
    fit, lead = min(fits, key=lambda x: x[0], default=(1.0, None))
    if lead is not None and fit < tfit:
        tfit, ttext = fit, ("its scope was already moving before it landed (pre-trend test): it cannot have "
                            "started the shift" if fit <= PRE_TREND_TIMING else
                            f"its scope may have been moving before it landed (pre-trend test p={lead.p_value:.2g}, "
                            f"just under its {lead.threshold:g} threshold): a weak sign it did not start the shift")
    return Features(explained=explained, p_value=est.p_value,
                    refutations_passed=sum(r.passed for r in est.refutations), refutations_run=len(est.refutations),
                    timing=tfit, design=1.0 if est.design == "did" else 0.75,
                    anomaly=anomaly_factor(anomaly, compared_p=est.p_value if est.design == "did" and explained > 0
                                           else None)), ttext


def step_experiments(ctx: Context, anomaly: AnomalyWindow, levels: Levels) -> list[Candidate]:
    """Treatment vs control among assigned units after assignment, for experiments running in the window."""
    m = ctx.metric
    out: list[Candidate] = []
    if not ctx.catalog.experiments:
        return out
    if not m.unit:
        ctx.limitations.append(f"metric {m.name} has no unit: experiments cannot be joined to it")
        return out
    step = GRAIN_DELTA[ctx.grain]
    onset = levels.analysis_period[0]
    total_rows = float(anomaly.series.loc[(pd.to_datetime(anomaly.series["bucket"]) >= pd.Timestamp(onset)) &
                                          (pd.to_datetime(anomaly.series["bucket"]) < pd.Timestamp(anomaly.end)),
                                          "n"].sum())
    for name, src in ctx.catalog.experiments.items():
        starts = ctx.sql(started_query(source=src, experiment_ids=[]), f"experiments in {name}")
        for _, row in starts.iterrows():
            exp_id = str(row["experiment_id"])
            started = pd.Timestamp(row["started"]).to_pydatetime()
            if started >= anomaly.end:
                continue
            arms_f = ctx.sql(arm_query(metric=m, source=src, experiment_id=exp_id, dialect=ctx.dialect,
                                       end=anomaly.end, filters=ctx.incident.filters),
                             f"{m.name} per arm of {exp_id} after assignment")
            arms = [ArmStats(arm=str(r["arm"]), units=int(r["units"]), mean=float(r["mean"]),
                             var=float(r["var"] or 0.0)) for _, r in arms_f.iterrows() if r["mean"] is not None]
            direction = incident_sign(levels, anomaly)
            try:
                est: ExperimentEstimate = estimate_experiment(experiment_id=exp_id, control=src.control, arms=arms,
                                                              direction=direction, started=started)
            except ValueError as err:
                out.append(Candidate(kind="experiment", id=exp_id, title=f"experiment {exp_id}",
                                     features=Features(), reasons=[f"not estimable: {err}"]))
                continue
            exposure = _experiment_exposure(ctx, src, exp_id, est.control, onset, anomaly.end, total_rows)
            explained = explained_share(est.effect, exposure, est.p_value, levels, anomaly)
            tfit, ttext = timing_fit(started, onset, step, until=timing_until(anomaly))
            tfit, ttext = randomized_timing(tfit, ttext, started, onset, anomaly.end, explained, est.p_value)
            f = Features(explained=explained, p_value=est.p_value, timing=tfit, design=1.0,
                         anomaly=anomaly_factor(anomaly, randomized_p=est.p_value if explained > 0 else None))
            eid = ctx.evidence.add("experiment_estimate", f"Effect of experiment {exp_id} on {m.name}",
                                   method=est.method, experiment_id=exp_id, arm=est.arm, control=est.control,
                                   effect=est.effect, ci=list(est.ci), p_value=est.p_value,
                                   arms=[a.model_dump() for a in est.arms], exposure=exposure,
                                   explained_share=explained, started=started.isoformat(),
                                   randomized=True, sql_evidence=arms_f.attrs["evidence"])
            out.append(Candidate(
                kind="experiment", id=exp_id, title=f"experiment {exp_id} (arm {est.arm} vs {est.control})",
                features=f, effect=est.effect, ci=est.ci, p_value=est.p_value, timing=ttext,
                reasons=[f"{ttext} (first assignment {started.isoformat()})",
                         f"randomized: arm {est.arm} differs from control by {est.effect:.4g} per unit; explains "
                         f"{explained:.0%} of the observed change ({exposure:.0%} of the window's rows are treated)",
                         *([f"the series shows no clear anomaly, but randomization does not need one: the arm "
                            f"moved clearly (p={est.p_value:.2g}), so confidence is kept at {f.anomaly:.0%}"]
                           if not anomaly.found and f.anomaly > WITHIN_NOISE else [])],
                evidence=[eid, arms_f.attrs["evidence"]], experiment=(src, exp_id, est.control)))
    return out


RANDOMIZED_TIMING = 0.7  # the timing floor of an experiment that randomization shows carries most of the window


def randomized_timing(tfit: float, ttext: str, started: datetime, onset: datetime, end: datetime, explained: float,
                      p_value: float | None) -> tuple[float, str]:
    """Soften "lands after the onset" for an experiment whose arms show it carries most of the window's change.

    The onset is read off the aggregate, which day-to-day drift can open hours early; an arm-vs-control
    difference cannot come from drift. An experiment that started inside the run (after the onset, before its
    end) and explains at least half of its change (p <= 0.001) is the window's cause even if something else
    began the run. One that started long before the onset keeps its penalty: an effect would have shown sooner.
    """
    if (tfit >= RANDOMIZED_TIMING or not onset < started < end or explained < 0.5 or p_value is None
            or p_value > 1e-3):
        return tfit, ttext
    return RANDOMIZED_TIMING, (f"{ttext.split(':')[0]}, but its randomized arms carry {explained:.0%} of the "
                               "window's change: the earlier part of the run has another cause (drift?)")


def _experiment_exposure(ctx: Context, src, exp_id: str, control: str, start: datetime,  # noqa: ANN001
                         end: datetime, total_rows: float) -> float:
    """Share of the window's metric rows that come from treated units after their assignment."""
    m = ctx.metric
    q = (exp.select(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True))
         .from_(aliased_table(m.table, "m"))
         .join(aliased_table(src.table, "e"), on=exp.EQ(this=col(m.unit, "m"), expression=col(src.unit, "e")))
         .where(exp.and_(exp.EQ(this=col(src.id, "e"), expression=exp.Literal.string(exp_id)),
                         exp.NEQ(this=col(src.arm, "e"), expression=exp.Literal.string(control)),
                         exp.GTE(this=col(m.timestamp, "m"), expression=col(src.started, "e")),
                         exp.GTE(this=col(m.timestamp, "m"), expression=ts_literal(start)),
                         exp.LT(this=col(m.timestamp, "m"), expression=ts_literal(end)),
                         *[exp.EQ(this=col(d, "m"), expression=exp.Literal.string(str(v)))
                           for d, v in sorted(ctx.incident.filters.items())])))
    rows = ctx.sql(q, f"rows of treated units of {exp_id} in the window")
    n = float(rows["rows"].iloc[0] or 0) if not rows.empty else 0.0
    return n / total_rows if total_rows else 0.0


def daily_phase(index: pd.DatetimeIndex, grain: str) -> np.ndarray | None:
    """Hour of day per bucket when the grain is sub-daily and two days are covered; else no seasons."""
    if grain not in {"minute", "hour"} or len(index) == 0 or index[-1] - index[0] < pd.Timedelta(days=2):
        return None
    return np.asarray(index.hour)


def step_upstream(ctx: Context, anomaly: AnomalyWindow, levels: Levels) -> list[Candidate]:
    """Attribute the anomaly to upstream metrics of the graph with dowhy.gcm."""
    ancestors = ctx.catalog.ancestors(ctx.metric.name)
    if not ancestors:
        return []
    from tools.upstream import attribute_upstream

    nodes = [ctx.metric.name, *ancestors]
    first = pd.Timestamp(anomaly.series["bucket"].iloc[0]).to_pydatetime()
    # --- robust (issue 20 item 4): a period-long window is compared with up to two periods before it
    from tools.period_shift import attribute_period_shift, is_period_window, reference_start

    first = reference_start(first=first, start=anomaly.start, end=anomaly.end, step=GRAIN_DELTA[ctx.grain])
    # --- end robust
    frames = []
    for name in nodes:
        md = ctx.catalog.metrics[name]
        filters = {k: v for k, v in ctx.incident.filters.items() if k in md.dimensions}
        f = ctx.sql(metric_cells(md, dialect=ctx.dialect, grain=ctx.grain, start=first, end=anomaly.end,
                                 filters=filters), f"{name} per {ctx.grain}")
        frames.append(f.set_index(pd.to_datetime(f["bucket"]))["value"].astype(float).rename(name))
    series = pd.concat(frames, axis=1).sort_index()
    series = series.interpolate(limit_direction="both")
    mask = (series.index >= pd.Timestamp(levels.analysis_period[0])) & (series.index < pd.Timestamp(anomaly.end))
    sub = [(u, d) for u, d in ctx.catalog.graph if u in nodes and d in nodes]
    try:
        # --- robust (issue 20 item 4): whole-period shift -> gcm.distribution_change; short window -> outliers
        if is_period_window(window_buckets=int(mask.sum()), reference_buckets=int((~mask).sum())):
            result = attribute_period_shift(series=series, graph=sub, target=ctx.metric.name, window=mask,
                                            direction=1 if anomaly.direction == "up" else -1)
        else:  # --- end robust
            result = attribute_upstream(series=series, graph=sub, target=ctx.metric.name, anomaly=mask,
                                        direction=1 if anomaly.direction == "up" else -1,
                                        seasons=daily_phase(series.index, ctx.grain))
    except ValueError as err:
        ctx.limitations.append(f"upstream attribution not possible: {err}")
        return []
    eid = ctx.evidence.add("upstream_attribution", f"Attribution of {ctx.metric.name}'s anomaly to the graph",
                           method=result.method, scores=[s.model_dump() for s in result.scores], notes=result.notes,
                           elapsed_ms=round(result.elapsed_ms, 1))
    parents: dict[str, list[str]] = {}
    for up, down in sub:
        parents.setdefault(down, []).append(up)
    shifted = {s.metric for s in result.scores if s.shifted}
    out = []
    for s in result.scores:
        if s.metric == ctx.metric.name:
            continue
        # The attribution's own ranking (``s.score``: gcm contribution gated by the node's own anomaly, with
        # credit passed up to anomalous parents) decides; the traversal below only explains it. Re-ranking
        # roots first was measured: PetShop through the engine fell from 0.81 to 0.65 top-1.
        shifted_parents = [p for p in parents.get(s.metric, []) if p in shifted]
        root = s.shifted and not shifted_parents
        base = min(max(float(getattr(s, "score", s.share) or 0.0), 0.0), 1.0)
        combined = base
        f = Features(explained=s.share, p_value=s.p_value, anomaly=anomaly_factor(anomaly))
        fixed = combined * f.anomaly
        why = [f"gcm attributes {s.share:.0%} of the anomaly to {s.metric}; its own series moved "
               f"{s.node_z:+.1f} robust z in the window"]
        if s.credit_from:
            why.append(f"the model cannot know what it does to {', '.join(s.credit_from)} "
                       f"({'; '.join(s.credit_from.values())}), so their share passes to it: "
                       f"{s.credit_share:.0%} of the attribution in all")
        if root:
            why.append("it shifted and none of its own upstream metrics did: the shift starts here")
        elif shifted_parents:
            why.append(f"its upstream {', '.join(shifted_parents)} shifted too: likely a mediator")
        out.append(Candidate(kind="upstream", id=s.metric, title=f"upstream metric {s.metric}", features=f,
                             fixed_score=fixed, effect=s.contribution, p_value=s.p_value, reasons=why,
                             evidence=[eid]))
    return out


def segment_significance(s: SegmentScore) -> float:
    """How far the segment's own shift is beyond noise: two-proportion z for rates in [0, 1], mapped to [0, 1].

    A segment explaining most of a small wobble is still a wobble: full credit needs z >= 5.
    """
    pb, pa, nb, na = s.baseline, s.observed, s.rows_baseline, s.rows_anomaly
    if pb is None or pa is None or nb < 1 or na < 1 or not (0 <= pb <= 1 and 0 <= pa <= 1):
        return 1.0
    var = pb * (1 - pb) / nb + pa * (1 - pa) / na
    if var <= 0:
        return 1.0
    z = abs(pa - pb) / var ** 0.5
    return float(min(1.0, max(0.0, (z - 2.0) / 3.0)))


def carries_movement(s: SegmentScore) -> bool:
    """The segment holds the movement clearly enough to look there (its onset, a change's lead): it moved
    well beyond its share of the rows (excess > 0.2) and its own shift is clear (significance >= 0.8)."""
    return s.excess > 0.2 and segment_significance(s) >= 0.8


EXPLAINED_SEGMENT = 0.5  # a segment whose movement a more specific part or a fitting change explains counts half


def _moving_part(s: SegmentScore, segments: list[SegmentScore]) -> SegmentScore | None:
    """A listed sub-segment of `s` that carries its movement: the rest of `s` shows no excess of its own.

    Adtributor keeps the most specific explanation: android explaining 95% of a change with 46% of the rows
    loses to android+LATAM explaining 87% with 7%, since android outside LATAM explains 8% with 39%.
    """
    for c in segments:
        if len(c.dimensions) <= len(s.dimensions) or any(c.dimensions.get(d) != v for d, v in s.dimensions.items()):
            continue
        rest_excess = (s.share_of_change - c.share_of_change) - (s.population_share - c.population_share)
        if c.share_of_change > 0.5 * s.share_of_change and rest_excess <= 0.05:
            return c
    return None


def _rescaled(sub: SegmentScore, whole: SegmentScore) -> SegmentScore:
    """A segment scored inside the responder's filter, as a part of the filter scored against everyone."""
    share = sub.share_of_change * whole.share_of_change
    pop = sub.population_share * whole.population_share
    return sub.model_copy(update={"dimensions": {**whole.dimensions, **sub.dimensions}, "share_of_change": share,
                                  "population_share": pop, "excess": share - pop})


def _change_that_fits(s: SegmentScore, others: list[Candidate], onset: datetime) -> Candidate | None:
    """A change reaching the segment whose own evidence holds: clear effect, clean pre-trend, landed first.

    A segment is the cause only when nothing in the change log explains its movement; a loose timing fit
    (an onset detected hours late on a sparse series) does not make such a change irrelevant. A change that
    reached beyond the segment while only the segment moved (confined) does not explain it specifically.
    """
    for c in others:
        if c.kind != "change" or c.at is None or c.reach is None or c.p_value is None:
            continue
        reaches = all(s.dimensions.get(d, str(v)) == str(v) for d, v in c.reach.items())
        if (reaches and c.p_value < 1e-3 and c.features.explained >= 0.5 and c.at <= onset
                and c.refutations.get("pre_trend") is True and not scope_moved_before(c.refutations)
                and c.features.specificity == 1.0):
            return c
    return None


def segment_candidates(ctx: Context, segments: list[SegmentScore], seg_eid: str | None, anomaly: AnomalyWindow,
                       others: list[Candidate]) -> list[Candidate]:
    """The top segments as causes of their own: what is left when no change, experiment or node fits."""
    out = []
    best_other = max((c.score for c in others), default=0.0)
    whole = ctx.population
    inside = [s for s in segments if whole is None or s.dimensions != whole.dimensions]
    pool = [(s, [_rescaled(x, s) for x in inside] if s is whole else segments) for s in segments[:3]]
    if whole is not None and all(s is not whole for s in segments[:3]):
        # The responder's filter is a candidate of its own: against everyone, it may be all that moved.
        pool.append((whole, [_rescaled(x, whole) for x in inside]))
    for s, parts in pool:
        strength = min(max(s.share_of_change, 0.0), 1.0) * min(max(s.excess, 0.0) / 0.4, 1.0)
        reasons = [f"{s.key} {share_phrase(s.share_of_change, s.population_share)}"
                   + (" (against everyone, not only the incident's filter)" if s is whole else "")]
        part = _moving_part(s, parts)
        if part is not None:
            strength *= EXPLAINED_SEGMENT
            reasons.append(f"its part {part.key} explains {part.share_of_change:.0%} of the change; the rest of "
                           f"{s.key} moved no more than its share of the rows")
        change = _change_that_fits(s, others, anomaly.onset)
        if change is not None:
            strength *= EXPLAINED_SEGMENT
            reasons.append(f"{change.id} reaches it, landed before the onset and its scope was not moving before "
                           f"it (p={change.p_value:.2g}): the segment is where that change acted, not a cause "
                           "of its own")
        score = strength * segment_significance(s) * (1.0 - best_other) * anomaly_factor(anomaly)
        if best_other < 0.3:
            reasons.append("no change, experiment or upstream metric explains the movement")
        out.append(Candidate(kind="segment", id=s.key, title=f"segment {s.key}", features=Features(),
                             fixed_score=score, effect=(s.observed or 0) - (s.baseline or 0),
                             reasons=reasons, evidence=[seg_eid] if seg_eid else [], reach=dict(s.dimensions)))
    return out


def reanchor(ctx: Context, anomaly: AnomalyWindow, top: Candidate | None) -> bool:
    """Start a detected window with no clear onset where the top cause (a change) landed.

    The series gave no onset, so the window was the day before detection; a change cannot have affected
    anything before it landed, and counting a day of units before it inflates the impact.
    """
    if anomaly.found or anomaly.source != "detected" or top is None or top.kind != "change" or top.at is None:
        return False
    start = pd.Timestamp(top.at).floor(GRAIN_DELTA[ctx.grain]).to_pydatetime()
    if not anomaly.start < start < anomaly.end:
        return False
    anomaly.start = anomaly.onset = start
    return True


def step_impact(ctx: Context, top: Candidate | None, anomaly: AnomalyWindow) -> ImpactOut:
    """Distinct units in the window inside the top cause's reach (never the ids)."""
    m = ctx.metric
    if not m.unit:
        return ImpactOut(affected_units=None, reach="metric has no unit: no impact sizing")
    reach = top.reach if top is not None and top.kind in {"change", "segment"} else None
    experiment = top.experiment if top is not None and top.kind == "experiment" else None
    q = impact_query(metric=m, dialect=ctx.dialect, start=anomaly.start, end=anomaly.end, reach=reach,
                     filters=ctx.incident.filters, experiment=experiment)  # type: ignore[arg-type]
    frame = ctx.sql(q, "Affected units")
    n = int(frame["affected_units"].iloc[0] or 0)
    text = ("treatment arm of " + top.id if experiment else
            ", ".join(f"{d}={v}" for d, v in sorted((reach or {}).items())) or "all")
    eid = ctx.evidence.add("impact", "Affected units", sql_evidence=frame.attrs["evidence"], affected_units=n,
                           reach=text,
                           window=[anomaly.start.isoformat(), anomaly.end.isoformat()],
                           affected_when=m.affected_when)
    return ImpactOut(affected_units=n, reach=text, evidence=[eid, frame.attrs["evidence"]])


def find_similar(*, settings: Settings, text: str, history: Path | None
                 ) -> tuple[list[SimilarOut] | None, list[str]]:
    """Past incidents like this one (None if the memory failed) and the limitations met on the way.

    A scenario's history.jsonl is ingested first.

    Touches no investigation state, so it can run beside the causal steps (embedding and Chroma release the GIL).
    """
    limitations: list[str] = []
    try:
        from tools.memory import IncidentMemory, MemoryUnavailable
    except ImportError:
        return None, ["incident memory not available in this build"]
    try:
        if history is not None:
            # A scenario's history is private to it: an ephemeral store, removed when done.
            with tempfile.TemporaryDirectory(prefix="rca-memory-") as tmp:
                memory = IncidentMemory.open(path=Path(tmp), embedding=settings.embedding)
                report = memory.ingest_file(history)
                for err in getattr(report, "errors", [])[:5]:
                    limitations.append(f"history.jsonl line {err.line}: {err.message} (skipped)")
                hits = memory.search(text=text, k=3)
        else:
            memory = IncidentMemory.open(path=settings.chroma_path if not settings.chroma_url else None,
                                         url=settings.chroma_url, embedding=settings.embedding)
            hits = memory.search(text=text, k=3)
    except (MemoryUnavailable, FileNotFoundError, OSError) as err:
        return None, [*limitations, f"no similar incidents: {err}"]
    out = [SimilarOut(id=h.id, score=round(h.score, 4), title=h.title, root_cause_kind=h.root_cause_kind,
                      root_cause_summary=h.root_cause_summary) for h in hits]
    return out, limitations


def record_similar(ctx: Context, found: tuple[list[SimilarOut] | None, list[str]], text: str
                   ) -> tuple[list[SimilarOut], str | None]:
    """Add the retrieval to the evidence (and its limitations to the report)."""
    out, limitations = found
    ctx.limitations.extend(limitations)
    if out is None:
        return [], None
    eid = ctx.evidence.add("retrieval", "Similar past incidents", method="incident memory (Chroma) search",
                           query=text, results=[o.model_dump() for o in out])
    return out, eid


# --------------------------------------------------------------------------------------------- the plan


def investigate(*, workspace: Workspace, incident: Incident, history: Path | None = None,
                progress: Progress = _noop) -> Report:
    """Run the fixed offline plan and return the report (spec section 5)."""
    t0 = time.perf_counter()
    metric = resolve_metric(workspace.catalog, incident)
    check_filters(metric, incident)
    ctx = Context(ws=workspace, incident=incident, metric=metric, evidence=EvidenceLog(), progress=progress)
    similar_text = f"{incident.title}. {incident.description}"
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rca-memory")
    similar_job = pool.submit(find_similar, settings=workspace.settings, text=similar_text, history=history)
    pool.shutdown(wait=False)
    progress(f"series of {metric.name}")
    anomaly, _series, series_eid = step_anomaly(ctx)
    levels = step_levels(ctx, anomaly)
    progress("segments")
    segments, seg_eid = step_segments(ctx, levels)
    if segments and carries_movement(segments[0]):
        refined = step_segment_onset(ctx, anomaly, segments[0])
        if refined is not None and refined != levels.analysis_period[0]:
            anomaly.onset = refined
            if anomaly.source == "detected":
                anomaly.start = min(refined, anomaly.end - GRAIN_DELTA[ctx.grain])
            levels = step_levels(ctx, anomaly)
            segments, seg_eid = step_segments(ctx, levels)
    onset = levels.analysis_period[0]
    top_segment = segments[0] if segments else None
    a_eid = ctx.evidence.add(
        "anomaly", "Anomaly window", method="robust seasonal baseline + CUSUM-style max excess run",
        start=anomaly.start.isoformat(), end=anomaly.end.isoformat(), onset=onset.isoformat(),
        window_source=anomaly.source, direction=anomaly.direction,
        direction_from=("the incident's words, which agree with the metric's worsening direction"
                        if anomaly.stated else "the series (the worsening direction preferred)"),
        score=round(anomaly.score, 2),
        peak_z=round(anomaly.peak_z, 2), found=anomaly.found, baseline=levels.baseline, observed=levels.observed,
        baseline_period=[p.isoformat() for p in levels.baseline_period], series_sql=series_eid,
        levels_sql=levels.evidence)
    progress("candidate changes")
    changes = step_change_candidates(ctx, anomaly)
    candidates = step_change_estimates(ctx, anomaly, levels, changes, top_segment)
    sign = incident_sign(levels, anomaly)
    step_confinement(ctx, levels, candidates, moving_population(ctx, top_segment), sign)
    share_twins(candidates, step_twin_order(ctx, candidates, sign))
    progress("experiments")
    candidates += step_experiments(ctx, anomaly, levels)
    progress("upstream metrics")
    upstream = step_upstream(ctx, anomaly, levels)
    if any(u.score >= 0.5 for u in upstream):
        for c in candidates:
            if c.kind == "change" and c.features.design < 1.0:
                c.features.design *= 0.6
                c.reasons.append("before/after estimate without an untreated comparison, and an upstream metric "
                                 "shift explains the same movement")
    candidates += upstream
    candidates += segment_candidates(ctx, segments, seg_eid, anomaly, candidates)
    candidates = rank_candidates(candidates)
    rank_eid = ctx.evidence.add("ranking", "Ranking of candidate causes", method="tools.ranking.Features.score",
                                scores={f"{c.kind}:{c.id}": round(c.score, 4) for c in candidates})
    progress("impact")
    top = candidates[0] if candidates and candidates[0].score >= 0.05 else None
    if top is not None and top.lead_support is not None and top.lead_support.support < SURE_LEAD:
        ctx.limitations.append(f"the timing of {top.id} is weak evidence: {top.lead_support.sentence()} "
                               f"[{top.evidence[0]}]; an outside event in its scope that began shortly before it "
                               "would look the same")
    if reanchor(ctx, anomaly, top):
        levels = step_levels(ctx, anomaly)
        segments, seg_eid = step_segments(ctx, levels)   # reported on the window the cause could have touched
        onset = anomaly.start
        a_eid = ctx.evidence.add(
            "anomaly", "Anomaly window, from the top cause", method="no clear onset in the series: the analysed "
            "period is cut at the bucket where the top cause landed", start=anomaly.start.isoformat(),
            end=anomaly.end.isoformat(), onset=onset.isoformat(), window_source=anomaly.source,
            direction=anomaly.direction, found=False, baseline=levels.baseline, observed=levels.observed,
            levels_sql=levels.evidence)
    impact = step_impact(ctx, top, anomaly)
    progress("similar incidents")
    similar, sim_eid = record_similar(ctx, similar_job.result(), similar_text)
    root_causes = [RootCauseOut(rank=i + 1, kind=c.kind, id=c.id, title=c.title, effect=c.effect,  # type: ignore
                                ci=list(c.ci) if c.ci else None, p_value=c.p_value, refutations=c.refutations,
                                score=round(c.score, 4), explained_share=round(c.features.explained, 4)
                                if c.fixed_score is None else None, timing=c.timing, reasons=c.reasons,
                                evidence=c.evidence + [rank_eid]) for i, c in enumerate(candidates)]
    report = Report(
        incident_id=incident.id, metric=metric.name,
        anomaly=AnomalyOut(start=anomaly.start.isoformat(), end=anomaly.end.isoformat(), onset=onset.isoformat(),
                           baseline=levels.baseline, observed=levels.observed, direction=anomaly.direction,
                           window_source=anomaly.source, evidence=[a_eid]),  # type: ignore[arg-type]
        root_causes=root_causes,
        segments=[SegmentOut(dimensions=s.dimensions, share_of_change=round(s.share_of_change, 4),
                             baseline=s.baseline, observed=s.observed, population_share=round(s.population_share, 4),
                             surprise=round(s.surprise, 5)) for s in segments[:5]],
        impact=impact, similar_incidents=similar, evidence=ctx.evidence.items, narrative="",
        limitations=ctx.limitations)
    report.narrative = render_narrative(report, segments_evidence=seg_eid, similar_evidence=sim_eid)
    report.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
    return report


def investigate_scenario(path: Path, *, settings: Settings | None = None, progress: Progress = _noop) -> Report:
    """Open a scenario folder (spec section 1) and investigate its incident; never reads truth.json."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: scenario folder not found")
    progress("loading workspace")
    ws = Workspace.open(path, settings=settings)
    incident = load_incident(path / "incident.json")
    history = path / "history.jsonl"
    return investigate(workspace=ws, incident=incident, history=history if history.is_file() else None,
                       progress=progress)
