"""Family ``delayed_config``: a config change whose effect shows one or two buckets after it lands.

Decoys: a change to a disjoint scope just before the visible onset (closer in time than the true one), a
change in the true scope after the onset, and background changes. "Latest change before the onset" is wrong.
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import change_root, finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import DAY, HOUR, PLATFORMS, REGIONS, disjoint_scope, draw, scope_mask
from evals.generator.themes import THEMES

FAMILY = "delayed_config"


def build(rng: np.random.Generator, *, size: str, metric: str = "deletion_sla_breach_rate",
          effect: float | None = None, delay: int | None = None, grain: str = "hour",
          scope: dict[str, str] | None = None, noise: float = 0.1, volume: float = 1.0,
          onset_hour: float | None = None, days: float | None = None, lag: int | None = None,
          window: bool | None = None, filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``delay`` is in buckets of ``grain``; the effect starts at the change's bucket + ``delay``."""
    theme = THEMES[metric]
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = theme.effect if effect is None else effect
    delay = int(rng.integers(1, 3)) if delay is None else delay
    onset_hour = float(rng.integers(7, 19)) if onset_hour is None else onset_hour
    if grain == "day":
        lag = delay + int(rng.integers(3, 6)) if lag is None else lag
        days = (28.0 if size == "large" else 24.0) if days is None else days
    else:
        lag = delay + int(rng.integers(9, 16)) if lag is None else lag
    w = make_world(rng, theme=theme, size=size, knobs=knobs, grain=grain, days=days, onset_hour=onset_hour,
                   lag=lag, volume=volume, noise=noise)
    bucket = w.tl.bucket
    if grain == "hour":  # land early in the hour so the change's own bucket clearly shows nothing
        w.onset = w.tl.floor(w.onset) + int(rng.integers(0, 25 * 60))
    effect_start = w.tl.floor(w.onset) + delay * bucket
    if scope is None:
        r = rng.random()
        scope = {"region": REGIONS[int(rng.integers(0, 4))]} if r < 0.6 else {
            "platform": PLATFORMS[int(rng.integers(0, 3))]}
    true = w.log.add("config_changes", w.onset, scope, theme.text_pool)
    unit = HOUR if grain == "day" else 60
    w.log.add("deployments", effect_start - unit * int(rng.integers(3, 25)), disjoint_scope(rng, scope),
              theme.text_pool)
    w.log.add(["config_changes", "deployments"][int(rng.integers(0, 2))],
              effect_start + bucket * int(rng.integers(1, 3)) + unit * int(rng.integers(0, 50)), dict(scope),
              theme.text_pool)
    span = 2 * DAY if grain == "day" else 3 * HOUR
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(w.onset - span, effect_start + span))

    mask = scope_mask(w.ev, w.pop, scope) & (w.ev.ts >= effect_start)
    flag = draw(rng, w.p + effect * mask)
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **w.log.tables()}
    params = {"metric": metric, "effect": effect, "delay": delay, "grain": grain, "scope": scope, "noise": noise,
              "volume": volume, "onset_hour": onset_hour, "lag": lag, "window": knobs.window,
              "filters": knobs.filters, "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause=change_root(true.id), segment=scope, history_kind="change",
                  pii={theme.table: theme.pii_columns}, effect=effect, reach_segment=scope,
                  onset=effect_start, cause_at=w.onset)
