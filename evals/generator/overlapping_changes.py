"""Family ``overlapping_changes``: two changes in the same hour with overlapping scopes, only one effective.

One change reaches a region on all platforms, the other a platform in all regions; both cover the shared
cell (e.g. EU x android). Only the cells outside the overlap tell them apart.
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import change_root, finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import HOUR, PLATFORMS, REGIONS, draw, scope_mask
from evals.generator.themes import THEMES

FAMILY = "overlapping_changes"


def build(rng: np.random.Generator, *, size: str, metric: str = "trackers_before_consent_rate",
          effect: float | None = None, true_dim: str | None = None, noise: float = 0.1, volume: float = 1.0,
          onset_hour: float | None = None, days: float | None = None, lag: int | None = None,
          window: bool | None = None, filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``true_dim`` picks which change is effective: the ``region``-wide or the ``platform``-wide one."""
    theme = THEMES[metric]
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = theme.effect if effect is None else effect
    onset_hour = float(rng.integers(8, 20)) if onset_hour is None else onset_hour
    lag = int(rng.integers(10, 18)) if lag is None else lag
    true_dim = true_dim or ["region", "platform"][int(rng.integers(0, 2))]
    w = make_world(rng, theme=theme, size=size, knobs=knobs, days=days, onset_hour=onset_hour, lag=lag,
                   volume=volume, noise=noise)
    region = REGIONS[int(rng.integers(0, 4))]
    platform = PLATFORMS[int(rng.integers(0, 3))]
    scopes = {"region": {"region": region}, "platform": {"platform": platform}}
    sources = {"region": "config_changes", "platform": "deployments"}
    if rng.random() < 0.5:
        sources = {"region": "deployments", "platform": "flag_flips"}
    hour = w.tl.floor(w.onset) if w.tl.grain == "hour" else w.onset // HOUR * HOUR
    other_dim = "platform" if true_dim == "region" else "region"
    while True:
        other_ts = hour + int(rng.integers(0, HOUR))
        if abs(other_ts - w.onset) >= 300:
            break
    true = w.log.add(sources[true_dim], w.onset, scopes[true_dim], theme.text_pool)
    w.log.add(sources[other_dim], other_ts, scopes[other_dim], theme.text_pool)
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(w.onset - 2 * HOUR, w.onset + 2 * HOUR))

    scope = scopes[true_dim]
    mask = scope_mask(w.ev, w.pop, scope) & (w.ev.ts >= w.onset)
    flag = draw(rng, w.p + effect * mask)
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **w.log.tables()}
    params = {"metric": metric, "effect": effect, "true_dim": true_dim, "noise": noise, "volume": volume,
              "onset_hour": onset_hour, "lag": lag, "other_minutes": round((other_ts - w.onset) / 60, 1),
              "window": knobs.window, "filters": knobs.filters, "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause=change_root(true.id), segment=scope, history_kind="change",
                  pii={theme.table: theme.pii_columns}, effect=effect, reach_segment=scope)
