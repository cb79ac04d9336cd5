"""Family ``seasonal_decoy``: strong daily and weekly seasonality, a harmless change right at the upswing.

The harmless change lands as the rate climbs into its daily peak, so a naive before/after comparison credits
it; the real change comes hours later, and another harmless change follows it within two hours (so "the
latest change" is wrong too). Only a seasonal baseline (same hour on earlier days) separates them.
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import change_root, finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import DAY, HOUR, PLATFORMS, REGIONS, draw, floor, random_scope, scope_mask
from evals.generator.themes import THEMES

FAMILY = "seasonal_decoy"
PEAK_UTC = 15.0  # the rate's daily peak; steepest climb about six hours earlier


def build(rng: np.random.Generator, *, size: str, metric: str = "trackers_before_consent_rate",
          effect: float | None = None, diurnal: float = 0.5, weekly: float = 0.3, gap_hours: float | None = None,
          scope: dict[str, str] | None = None, noise: float = 0.08, volume: float = 1.0,
          days: float | None = None, lag: int | None = None, window: bool | None = None,
          filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``diurnal``/``weekly`` are the rate's seasonal amplitudes; ``gap_hours`` separates decoy and cause."""
    theme = THEMES[metric]
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = theme.effect if effect is None else effect
    upswing = float(rng.integers(7, 10))
    gap_hours = float(rng.integers(3, 7)) if gap_hours is None else gap_hours
    lag = int(rng.integers(9, 15)) if lag is None else lag
    days = (14.0 if size == "large" else 8.0) if days is None else days
    w = make_world(rng, theme=theme, size=size, knobs=knobs, days=days, onset_hour=upswing + gap_hours, lag=lag,
                   volume=volume, noise=noise, diurnal=diurnal, weekly=weekly, traffic_diurnal=0.75,
                   weekend=0.3)
    if scope is None:
        r = rng.random()
        scope = {} if r < 0.25 else {"platform": PLATFORMS[int(rng.integers(0, 3))]} if r < 0.6 else {
            "region": REGIONS[int(rng.integers(0, 4))]}
    harmless_ts = floor(w.onset, DAY) + int(upswing * HOUR) + int(rng.integers(0, HOUR))
    true = w.log.add(["deployments", "config_changes"][int(rng.integers(0, 2))], w.onset, scope, theme.text_pool)
    w.log.add("deployments", harmless_ts, {}, theme.text_pool)
    # one more change soon after the real one (before a responder's window starts): "the latest change" is wrong
    w.log.add(["deployments", "flag_flips"][int(rng.integers(0, 2))], w.onset + int(rng.integers(20 * 60, 100 * 60)),
              random_scope(rng), theme.text_pool)
    w.log.background(w.tl, int(rng.integers(5, 10)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(harmless_ts - 2 * HOUR, w.onset + 3 * HOUR))

    mask = scope_mask(w.ev, w.pop, scope) & (w.ev.ts >= w.onset)
    flag = draw(rng, w.p + effect * mask)
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **w.log.tables()}
    params = {"metric": metric, "effect": effect, "diurnal": diurnal, "weekly": weekly, "gap_hours": gap_hours,
              "scope": scope, "noise": noise, "volume": volume, "days": days, "lag": lag,
              "window": knobs.window, "filters": knobs.filters, "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause=change_root(true.id), segment=scope or None, history_kind="change",
                  pii={theme.table: theme.pii_columns}, effect=effect, reach_segment=scope)
