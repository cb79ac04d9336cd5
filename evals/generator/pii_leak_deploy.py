"""Family ``pii_leak_deploy``: a deploy starts logging raw IPs on one platform.

Decoys: deploys to other scopes a few minutes before and after the true one (same bucket at hour grain).
The one after is global, another platform, a region, or ``narrow`` (the same platform in one region: its
scope shows the same jump, but it cannot explain the other regions). Only matching the moved segment to
each change's scope, all of it, finds the cause.
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import change_root, finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import HOUR, PLATFORMS, REGIONS, draw, scope_mask
from evals.generator.themes import THEMES

FAMILY = "pii_leak_deploy"


def build(rng: np.random.Generator, *, size: str, effect: float | None = None, noise: float = 0.1,
          volume: float = 1.0, onset_hour: float | None = None, days: float | None = None, grain: str = "hour",
          platform: str | None = None, gap_before: int | None = None, gap_after: int | None = None,
          after_scope: str | None = None, lag: int | None = None, window: bool | None = None,
          filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``gap_before``/``gap_after``: minutes between the decoys and the true deploy; ``after_scope``: global,
    platform, region or narrow."""
    theme = THEMES["raw_ip_log_rate"]
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = theme.effect if effect is None else effect
    onset_hour = float(rng.integers(8, 20)) if onset_hour is None else onset_hour
    if lag is None:
        lag = int(rng.integers(60, 150)) if grain == "minute" else int(rng.integers(8, 16))
    if grain == "minute" and days is None:
        days = 0.45
    w = make_world(rng, theme=theme, size=size, knobs=knobs, grain=grain, days=days, onset_hour=onset_hour,
                   lag=lag, volume=volume, noise=noise, diurnal=0.1)
    platform = platform or PLATFORMS[int(rng.integers(0, 3))]
    others = [p for p in PLATFORMS if p != platform]
    gap_before = int(rng.integers(3, 15)) if gap_before is None else gap_before
    gap_after = int(rng.integers(3, 15)) if gap_after is None else gap_after
    after_scope = after_scope or ["global", "platform", "region", "narrow"][int(rng.integers(0, 4))]
    scope = {"platform": platform}

    true = w.log.add("deployments", w.onset, scope, "logging")
    jitter = rng.integers(-30, 30, size=2)
    before = {"platform": others[int(rng.integers(0, 2))]}
    w.log.add("deployments", w.onset - 60 * gap_before + int(jitter[0]), before, "logging")
    after = {"global": {}, "platform": {"platform": others[int(rng.integers(0, 2))]},
             "region": {"region": REGIONS[int(rng.integers(0, 4))]},
             "narrow": {"platform": platform, "region": REGIONS[int(rng.integers(0, 4))]}}[after_scope]
    w.log.add("deployments", w.onset + 60 * gap_after + int(jitter[1]), after, "logging")
    span = 2 * HOUR if grain != "minute" else HOUR // 2
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=["logging", "generic"],
                     sources=["deployments", "config_changes"], avoid=(w.onset - span, w.onset + span))

    mask = scope_mask(w.ev, w.pop, scope) & (w.ev.ts >= w.onset)
    flag = draw(rng, w.p + effect * mask)
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **w.log.tables()}
    params = {"effect": effect, "noise": noise, "volume": volume, "onset_hour": onset_hour, "grain": grain,
              "platform": platform, "gap_before": gap_before, "gap_after": gap_after, "after_scope": after_scope,
              "lag": lag, "window": knobs.window, "filters": knobs.filters, "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause=change_root(true.id), segment=scope, history_kind="change",
                  pii={theme.table: theme.pii_columns}, effect=effect, reach_segment=scope)
