"""Glue shared by the families: a simulated world for one rate metric, the incident, and the final bundle.

A family builds a ``World`` (users, traffic, baseline rate, change log), injects its effect and decoys,
then calls :func:`finish`, which writes the incident the way a responder would (window a few buckets after
the real onset, ``detected_at`` = end of data) and sets the truth's counting reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evals.generator.bundle import Bundle, Reach
from evals.generator.common import (
    DAY,
    HOUR,
    SIZE_ROWS,
    ChangeLog,
    Events,
    IdMaker,
    Population,
    TextPicker,
    Timeline,
    baseline_rate,
    iso,
    make_timeline,
    population_for,
    segment_id,
    simulate_traffic,
)
from evals.generator.history import make_history
from evals.generator.texts import INCIDENT_TEXTS
from evals.generator.themes import Theme


@dataclass
class Knobs:
    """Per-scenario presentation choices; ``None`` in a family's params means "let the seed decide"."""

    window: bool
    filters: bool
    similar: bool


def resolve_knobs(rng: np.random.Generator, *, window: bool | None, filters: bool | None,
                  similar: bool | None) -> Knobs:
    w, f, s = rng.random(3)
    return Knobs(window=bool(w < 0.5) if window is None else window,
                 filters=bool(f < 0.12) if filters is None else filters,
                 similar=bool(s < 0.75) if similar is None else similar)


@dataclass
class World:
    """One simulated rate metric plus the change log and id makers that go with it."""

    rng: np.random.Generator
    size: str
    tl: Timeline
    onset: int
    pop: Population
    ev: Events
    theme: Theme
    p: np.ndarray
    ids: IdMaker
    log: ChangeLog
    knobs: Knobs
    tables: dict[str, object] = field(default_factory=dict)


def default_days(rng: np.random.Generator, size: str, days: float | None) -> float:
    if days is not None:
        return float(days)
    return 14.0 if size == "large" else float(rng.integers(3, 6))


def n_rows_for(size: str, volume: float, days: float, grain: str) -> int:
    if size == "large":
        return int(SIZE_ROWS["large"] * volume)
    per_day = 5_000 if grain != "minute" else 30_000
    cap = 20_000 + 1_000 * min(max(0.0, days - 5), 4)  # long (weekly, daily-grain) spans get a little more
    return int(min(max(per_day * days, 5_000), cap) * volume)


def make_world(rng: np.random.Generator, *, theme: Theme, size: str, knobs: Knobs, grain: str = "hour",
               days: float | None = None, onset_hour: float = 14.0, lag: int = 10, volume: float = 1.0,
               noise: float = 0.1, diurnal: float = 0.15, weekly: float = 0.0, traffic_diurnal: float = 0.6,
               weekend: float = 0.15, events_per_user: float = 4.0, base: float | None = None) -> World:
    """Timeline, users, traffic and baseline per-row probability for ``theme``'s metric."""
    d = default_days(rng, size, days)
    history_hours = (d - 1) * 24 + onset_hour if grain != "minute" else d * 24
    tl, onset = make_timeline(rng, grain=grain, history_hours=history_hours, onset_hour=onset_hour,
                              lag_buckets=lag)
    n_rows = n_rows_for(size, volume, (tl.end - tl.start) / DAY, grain)
    pop = population_for(rng, n_rows, events_per_user=events_per_user)
    ev = simulate_traffic(rng, pop, tl, n_rows=n_rows, diurnal=traffic_diurnal, weekend=weekend)
    p = baseline_rate(rng, ev, base=theme.base if base is None else base, noise=noise, diurnal=diurnal,
                      weekly=weekly)
    ids = IdMaker(rng)
    return World(rng=rng, size=size, tl=tl, onset=onset, pop=pop, ev=ev, theme=theme, p=p, ids=ids,
                 log=ChangeLog(rng, ids, TextPicker(rng)), knobs=knobs)


def window_start(rng: np.random.Generator, tl: Timeline, onset: int) -> int:
    """Where a responder marks the window: a few buckets after the true onset (from the alert)."""
    first = tl.floor(onset)
    if tl.grain == "minute":
        start = first + 60 * int(rng.integers(8, 25))
    elif tl.grain == "day":
        start = first + DAY
    else:
        start = first + HOUR * int(rng.integers(2, 5))
    return int(min(start, tl.end - 3 * tl.bucket))


def make_incident(rng: np.random.Generator, ids: IdMaker, *, metric: str, tl: Timeline, onset: int,
                  knobs: Knobs, segment: dict[str, str] | None) -> tuple[dict[str, object], int | None]:
    """incident.json plus the window start it gives (None when the responder left the window out)."""
    texts = INCIDENT_TEXTS[metric]
    incident: dict[str, object] = {
        "id": ids.make("INC-", 4),
        "title": texts["title"][int(rng.integers(0, len(texts["title"])))],
        "description": texts["description"][int(rng.integers(0, len(texts["description"])))],
        "severity": ["SEV1", "SEV2", "SEV2", "SEV3"][int(rng.integers(0, 4))],
        "status": "open",
        "metric": metric,
        "detected_at": iso(tl.end),
    }
    start = None
    if knobs.window:
        start = window_start(rng, tl, onset)
        incident["window"] = {"start": iso(start), "end": iso(tl.end)}
    if knobs.filters and segment:
        dim = sorted(segment)[int(rng.integers(0, len(segment)))]
        incident["filters"] = {dim: segment[dim]}
        incident["description"] = f"{incident['description']} Seen in {dim} {segment[dim]}."
    return incident, start


def finish(w: World, *, family: str, params: dict[str, object], metrics: dict[str, object],
           tables: dict[str, object], root_cause: dict[str, object], segment: dict[str, str] | None,
           history_kind: str, pii: dict[str, list[str]], effect: float | None = None,
           experiments: dict[str, object] | None = None, graph: list[list[str]] | None = None,
           reach_segment: dict[str, str] | None = None, reach_experiment: str | None = None,
           count_units: bool = True, onset: int | None = None, cause_at: int | None = None) -> Bundle:
    """Assemble catalog, incident, history and truth; the reach is counted later, over the written files.

    ``onset`` is when the incident metric's anomaly begins (default: the world's onset); ``cause_at`` is when
    the cause happened, when that differs (a delayed effect, an upstream shift felt later downstream).
    """
    metric = next(iter(metrics))
    onset = w.onset if onset is None else onset
    incident, start = make_incident(w.rng, w.ids, metric=metric, tl=w.tl, onset=onset, knobs=w.knobs,
                                    segment=segment)
    history, similar_ids = make_history(w.rng, w.ids, metric=metric, kind=history_kind, before=w.tl.start,
                                        similar=w.knobs.similar)
    catalog: dict[str, object] = {"dialect": "duckdb", "grain": w.tl.grain, "metrics": metrics}
    catalog["changes"] = w.log.catalog()
    if experiments:
        catalog["experiments"] = experiments
    if graph:
        catalog["graph"] = graph
    catalog["pii"] = pii
    truth: dict[str, object] = {"root_cause": root_cause}
    if segment:
        truth["segment"] = dict(segment)
    truth["onset"] = iso(onset)
    if cause_at is not None:
        truth["cause_at"] = iso(cause_at)
    if effect is not None:
        truth["effect"] = round(float(effect), 6)
    if similar_ids:
        truth["similar_incidents"] = similar_ids
    truth["family"] = family
    truth["params"] = params
    count_from = start if start is not None else w.tl.floor(onset)
    reach = None
    if count_units:
        reach = Reach(metric=metric, start=count_from, end=w.tl.end, segment=dict(reach_segment or {}),
                      experiment=reach_experiment)
    else:
        truth["window"] = {"start": iso(count_from), "end": iso(w.tl.end)}
    return Bundle(catalog=catalog, tables=dict(tables), incident=incident, history=history, truth=truth,
                  reach=reach)


def change_root(change_id: str) -> dict[str, object]:
    return {"kind": "change", "id": change_id}


def segment_root(segment: dict[str, str]) -> dict[str, object]:
    return {"kind": "segment", "id": segment_id(segment)}
