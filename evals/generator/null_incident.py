"""Family ``null_incident``: a responder filed an incident on a blip; nothing in the candidates caused it.

The series has only noise plus a short transient (one or two buckets, a couple of noise sigmas) that
recovers by itself. Changes land shortly before it and an experiment is running; none has any effect.
Truth: ``{"kind": "none", "id": null}`` (right when no candidate scores >= 0.5).
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import DAY, HOUR, assign_experiment, draw, random_scope, scope_mask
from evals.generator.experiment_guardrail import EXPERIMENTS_CATALOG
from evals.generator.texts import EXPERIMENT_NAMES
from evals.generator.themes import THEMES

FAMILY = "null_incident"
METRICS = ["raw_ip_log_rate", "trackers_before_consent_rate", "user_report_rate", "deletion_sla_breach_rate",
           "consent_reject_rate"]


def build(rng: np.random.Generator, *, size: str, metric: str | None = None, blip: float = 2.5,
          blip_buckets: int | None = None, noise: float = 0.12, volume: float = 1.0,
          onset_hour: float | None = None, days: float | None = None, lag: int | None = None,
          experiment: bool | None = None, window: bool | None = None, filters: bool | None = None,
          similar: bool | None = None) -> Bundle:
    """``blip`` is the transient's size in multiples of ``noise`` (relative to the rate)."""
    metric = metric or METRICS[int(rng.integers(0, len(METRICS)))]
    theme = THEMES[metric]
    knobs = resolve_knobs(rng, window=window, filters=False if filters is None else filters, similar=similar)
    onset_hour = float(rng.integers(6, 21)) if onset_hour is None else onset_hour
    blip_buckets = int(rng.integers(1, 3)) if blip_buckets is None else blip_buckets
    lag = blip_buckets + int(rng.integers(2, 5)) if lag is None else lag
    experiment = bool(rng.random() < 0.5) if experiment is None else experiment
    w = make_world(rng, theme=theme, size=size, knobs=knobs, days=days, onset_hour=onset_hour, lag=lag,
                   volume=volume, noise=noise)
    start = w.tl.floor(w.onset)
    w.onset = start
    segment = random_scope(rng)
    in_blip = scope_mask(w.ev, w.pop, segment) & (w.ev.ts >= start) & (w.ev.ts < start + blip_buckets * w.tl.bucket)
    sign = 1.0 if theme.higher_is_worse else -1.0
    p = w.p * np.where(in_blip, 1.0 + sign * blip * noise, 1.0)

    w.log.add("deployments", start - int(rng.integers(10 * 60, 80 * 60)), random_scope(rng), theme.text_pool)
    w.log.add("config_changes", start - int(rng.integers(3 * HOUR, 12 * HOUR)), random_scope(rng),
              theme.text_pool)
    w.log.add(["deployments", "flag_flips"][int(rng.integers(0, 2))], start + int(rng.integers(5 * 60, HOUR)),
              random_scope(rng), theme.text_pool)
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(start - 13 * HOUR, start + 2 * HOUR))
    tables: dict[str, object] = {}
    experiments = None
    if experiment:
        pool = EXPERIMENT_NAMES["reports" if metric == "user_report_rate" else "consent"]
        exp = assign_experiment(rng, w.ev, w.pop, exp_id=pool[int(rng.integers(0, len(pool)))],
                                start=start - DAY - HOUR * int(rng.integers(0, 20)), eligible=0.4)
        tables["experiment_assignments"] = exp.table
        experiments = EXPERIMENTS_CATALOG

    flag = draw(rng, p)
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **tables, **w.log.tables()}
    params = {"metric": metric, "blip": blip, "blip_buckets": blip_buckets, "blip_segment": segment,
              "noise": noise, "volume": volume, "onset_hour": onset_hour, "lag": lag, "experiment": experiment,
              "window": knobs.window, "filters": knobs.filters, "similar": knobs.similar}
    pii = {theme.table: theme.pii_columns}
    if experiment:
        pii["experiment_assignments"] = ["user_id"]
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause={"kind": "none", "id": None}, segment=None, history_kind="none", pii=pii,
                  experiments=experiments, count_units=False)
