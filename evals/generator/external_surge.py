"""Family ``external_surge``: reports surge in one region from an outside event, before any change reaches it.

Changes exist (one to the surging region and one global, both after the onset; earlier ones only to other
regions), so "the change in the moved segment" is wrong: nothing in the change log explains the onset.
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import finish, make_world, resolve_knobs, segment_root
from evals.generator.bundle import Bundle
from evals.generator.common import HOUR, REGIONS, disjoint_scope, draw, ramp, scope_mask
from evals.generator.themes import THEMES

FAMILY = "external_surge"


def build(rng: np.random.Generator, *, size: str, metric: str = "user_report_rate", effect: float | None = None,
          segment: dict[str, str] | None = None, ramp_hours: float = 1.0, noise: float = 0.1,
          volume: float = 1.0, onset_hour: float | None = None, days: float | None = None, lag: int | None = None,
          window: bool | None = None, filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """The surge ramps up over ``ramp_hours`` inside ``segment`` (default a region, usually LATAM)."""
    theme = THEMES[metric]
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = 2.0 * theme.effect if effect is None else effect
    onset_hour = float(rng.integers(6, 20)) if onset_hour is None else onset_hour
    lag = int(rng.integers(10, 18)) if lag is None else lag
    if segment is None:
        segment = {"region": ["LATAM", "LATAM", "APAC", "EU"][int(rng.integers(0, 4))]}
    w = make_world(rng, theme=theme, size=size, knobs=knobs, days=days, onset_hour=onset_hour, lag=lag,
                   volume=volume, noise=noise)
    region = segment.get("region", REGIONS[int(rng.integers(0, 4))])
    w.log.add("deployments", w.onset + int(rng.integers(int(1.5 * HOUR), 5 * HOUR)), {"region": region},
              theme.text_pool)
    w.log.add(["deployments", "config_changes"][int(rng.integers(0, 2))],
              w.onset + int(rng.integers(HOUR // 3, 3 * HOUR)), {}, theme.text_pool)
    w.log.add("config_changes", w.onset - int(rng.integers(HOUR // 3, 3 * HOUR)), disjoint_scope(rng, segment),
              theme.text_pool)
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(w.onset - 3 * HOUR, w.onset + 5 * HOUR))
    for change in w.log.changes:  # nothing may reach the segment before the surge starts
        reaches = all(change.scope.get(d, v) == v for d, v in segment.items())
        if change.ts < w.onset and reaches:
            change.scope = disjoint_scope(rng, segment)

    mask = scope_mask(w.ev, w.pop, segment)
    flag = draw(rng, w.p + effect * mask * ramp(w.ev.ts, w.onset, int(ramp_hours * HOUR)))
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), **w.log.tables()}
    params = {"metric": metric, "effect": effect, "segment": segment, "ramp_hours": ramp_hours, "noise": noise,
              "volume": volume, "onset_hour": onset_hour, "lag": lag, "window": knobs.window,
              "filters": knobs.filters, "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause=segment_root(segment), segment=segment, history_kind="segment",
                  pii={theme.table: theme.pii_columns}, effect=effect, reach_segment=segment)
