"""Family ``metric_drop``: a good metric (``higher_is_worse: false``) drops after a change in one scope.

Decoys: a change to a disjoint scope minutes away, an earlier change whose scope contains the true one, a
later change in the same scope (after the onset, so it cannot be the cause) and, for a one-dimension scope,
a change minutes later to a part of the scope (same jump inside it, but it cannot explain the rest).
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import change_root, finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import HOUR, PLATFORMS, REGIONS, disjoint_scope, draw, scope_mask
from evals.generator.themes import THEMES

FAMILY = "metric_drop"
SOURCES = ["deployments", "config_changes", "flag_flips"]


def build(rng: np.random.Generator, *, size: str, metric: str = "consent_prompt_shown_rate",
          effect: float | None = None, scope: dict[str, str] | None = None, noise: float = 0.1,
          volume: float = 1.0, onset_hour: float | None = None, days: float | None = None, lag: int | None = None,
          window: bool | None = None, filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``effect`` is negative: the absolute drop of the rate inside ``scope`` after the change."""
    theme = THEMES[metric]
    if theme.higher_is_worse:
        raise ValueError(f"metric_drop needs a metric with higher_is_worse: false, got {metric}")
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = theme.effect if effect is None else effect
    onset_hour = float(rng.integers(8, 20)) if onset_hour is None else onset_hour
    lag = int(rng.integers(10, 18)) if lag is None else lag
    w = make_world(rng, theme=theme, size=size, knobs=knobs, days=days, onset_hour=onset_hour, lag=lag,
                   volume=volume, noise=noise)
    if scope is None:
        r = rng.random()
        platform, region = PLATFORMS[int(rng.integers(0, 3))], REGIONS[int(rng.integers(0, 4))]
        scope = {"platform": platform} if r < 0.4 else {"region": region} if r < 0.8 else {
            "platform": platform, "region": region}
    source = SOURCES[int(rng.integers(0, 3))]
    true = w.log.add(source, w.onset, scope, theme.text_pool)
    near = int(rng.integers(4, 40)) * 60 * (1 if rng.random() < 0.5 else -1)
    w.log.add(SOURCES[int(rng.integers(0, 3))], w.onset + near, disjoint_scope(rng, scope), theme.text_pool)
    keys = sorted(scope)
    container = {} if len(keys) == 1 else {keys[i]: scope[keys[i]] for i in [int(rng.integers(0, 2))]}
    w.log.add(SOURCES[int(rng.integers(0, 3))], w.onset - int(rng.integers(2 * HOUR, 7 * HOUR)), container,
              theme.text_pool)
    w.log.add(SOURCES[int(rng.integers(0, 3))], w.onset + int(rng.integers(HOUR, 3 * HOUR)), dict(scope),
              theme.text_pool)
    if len(scope) == 1:  # a change inside the true scope, minutes later: same jump, but only in part of it
        narrow = dict(scope)
        if "platform" in scope:
            narrow["region"] = REGIONS[int(rng.integers(0, 4))]
        else:
            narrow["platform"] = PLATFORMS[int(rng.integers(0, 3))]
        w.log.add(SOURCES[int(rng.integers(0, 3))], w.onset + int(rng.integers(4 * 60, 25 * 60)), narrow,
                  theme.text_pool)
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(w.onset - 8 * HOUR, w.onset + 3 * HOUR))

    mask = scope_mask(w.ev, w.pop, scope) & (w.ev.ts >= w.onset)
    flag = draw(rng, w.p + effect * mask)
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **w.log.tables()}
    params = {"metric": metric, "effect": effect, "scope": scope, "source": source, "noise": noise,
              "volume": volume, "onset_hour": onset_hour, "lag": lag, "window": knobs.window,
              "filters": knobs.filters, "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause=change_root(true.id), segment=scope, history_kind="change",
                  pii={theme.table: theme.pii_columns}, effect=effect, reach_segment=scope)
