"""Family ``experiment_guardrail``: a randomized experiment's treatment arm moves a guardrail metric.

Decoys starting the same hour: a second experiment (no effect) and a global deploy (no effect); an older
experiment keeps running in the background. The effect is diluted in the overall series (only treated
users after their assignment move), so a population-level before/after points at the deploy as readily.
"""

from __future__ import annotations

import numpy as np

from evals.generator.assemble import finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import DAY, HOUR, assign_experiment, concat_assignments, draw
from evals.generator.texts import EXPERIMENT_NAMES
from evals.generator.themes import THEMES

FAMILY = "experiment_guardrail"
EXPERIMENTS_CATALOG = {"assignments": {"table": "experiment_assignments", "id": "experiment_id",
                                       "unit": "user_id", "arm": "arm", "control": "control",
                                       "started": "assigned_at"}}


def build(rng: np.random.Generator, *, size: str, metric: str = "consent_reject_rate",
          effect: float | None = None, eligible: float = 0.6, noise: float = 0.1, volume: float = 1.0,
          onset_hour: float | None = None, days: float | None = None, lag: int | None = None,
          window: bool | None = None, filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``effect`` is the absolute change of the rate for treated users; ``eligible`` the share enrolled."""
    theme = THEMES[metric]
    knobs = resolve_knobs(rng, window=window, filters=filters, similar=similar)
    effect = (2.0 * theme.effect if metric == "user_report_rate" else theme.effect) if effect is None else effect
    onset_hour = float(rng.integers(8, 18)) if onset_hour is None else onset_hour
    lag = int(rng.integers(12, 20)) if lag is None else lag
    w = make_world(rng, theme=theme, size=size, knobs=knobs, days=days, onset_hour=onset_hour, lag=lag,
                   volume=volume, noise=noise, events_per_user=5.0)
    start = w.tl.floor(w.onset)  # experiments launch on the hour
    w.onset = start
    pool = EXPERIMENT_NAMES["reports" if metric == "user_report_rate" else "consent"]
    names = [pool[int(i)] for i in rng.permutation(len(pool))[:3]]
    old_start = start - DAY * int(rng.integers(1, 3)) - HOUR * int(rng.integers(0, 12))
    old = assign_experiment(rng, w.ev, w.pop, exp_id=names[0], start=old_start, eligible=0.3)
    true = assign_experiment(rng, w.ev, w.pop, exp_id=names[1], start=start, eligible=eligible)
    decoy = assign_experiment(rng, w.ev, w.pop, exp_id=names[2], start=start, eligible=eligible)
    w.log.add("deployments", start + int(rng.integers(3 * 60, 55 * 60)), {}, theme.text_pool)
    w.log.background(w.tl, int(rng.integers(3, 8)), pools=[theme.text_pool, "generic"],
                     sources=["deployments", "config_changes"], avoid=(start - 2 * HOUR, start + 2 * HOUR))

    flag = draw(rng, w.p + effect * true.treated_rows)
    assignments = concat_assignments([old, true, decoy])
    tables = {theme.table: theme.frame(rng, w.ev, w.pop, flag), "experiment_assignments": assignments,
              **w.log.tables()}
    params = {"metric": metric, "effect": effect, "eligible": eligible, "noise": noise, "volume": volume,
              "onset_hour": onset_hour, "lag": lag, "window": knobs.window, "filters": knobs.filters,
              "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics={theme.metric: theme.catalog_entry()}, tables=tables,
                  root_cause={"kind": "experiment", "id": true.id}, segment=None, history_kind="experiment",
                  pii={theme.table: theme.pii_columns, "experiment_assignments": ["user_id"]}, effect=effect,
                  experiments=EXPERIMENTS_CATALOG, reach_experiment=true.id)
