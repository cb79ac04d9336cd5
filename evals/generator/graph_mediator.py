"""Family ``graph_mediator``: an upstream metric shifts and a mediator amplifies it downstream.

Graph: auto_action_rate -> moderation_queue_inflow -> moderation_backlog -> report_response_sla_breach_rate,
and reviewers_online -> moderation_backlog. Either the human-review inflow rises (a spam wave) or reviewers
online drop (a staffing gap); the backlog is a queue (inflow minus capacity, never negative), so a modest
upstream shift turns into a large, growing SLA breach rate. The incident is filed on the downstream metric.
The other upstream node and a tooling change near the onset are decoys with no effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.generator.assemble import finish, make_world, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import HOUR, Coded, Timeline, ar_noise, draw, merge_events, simulate_traffic
from evals.generator.themes import Theme

FAMILY = "graph_mediator"
STEP = 600  # queue snapshot / simulation step, seconds
CATEGORIES = ["spam", "harassment", "hate_speech", "scam", "nudity", "other"]
CATEGORY_SHARE = [0.30, 0.22, 0.12, 0.14, 0.10, 0.12]
DOWNSTREAM = "report_response_sla_breach_rate"
REPORTS = Theme(DOWNSTREAM, "reports", "report_time", "sla_breached",
                "Share of user reports whose first moderation response came after the response SLA.", 0.04,
                "moderation", 0.0, affected_when="sla_breached", pii=("device_id",), id_col="report_id")
UPSTREAMS = ("moderation_queue_inflow", "reviewers_online")


def _metrics() -> dict[str, object]:
    down = REPORTS.catalog_entry()
    down["dimensions"] = ["platform", "region", "category"]
    return {
        DOWNSTREAM: down,
        "moderation_backlog": {
            "description": "Reports waiting in the human review queue (average of 10-minute snapshots).",
            "table": "queue_snapshots", "timestamp": "snapshot_time", "value": "avg(backlog_items)",
            "dimensions": [], "higher_is_worse": True},
        "moderation_queue_inflow": {
            "description": "Reports entering the human review queue (not auto-actioned) per bucket.",
            "table": "reports", "timestamp": "report_time", "value": "sum(case when auto_actioned then 0 else 1 end)",
            "dimensions": ["category"], "higher_is_worse": True},
        "reviewers_online": {
            "description": "Moderators online and reviewing (average of 10-minute snapshots).",
            "table": "queue_snapshots", "timestamp": "snapshot_time", "value": "avg(reviewers_online)",
            "dimensions": [], "higher_is_worse": False},
        "auto_action_rate": {
            "description": "Share of reports resolved by the classifier without human review.",
            "table": "reports", "timestamp": "report_time",
            "value": "avg(case when auto_actioned then 1.0 else 0.0 end)",
            "dimensions": ["category"], "higher_is_worse": False},
    }


GRAPH = [["auto_action_rate", "moderation_queue_inflow"], ["moderation_queue_inflow", "moderation_backlog"],
         ["reviewers_online", "moderation_backlog"], ["moderation_backlog", DOWNSTREAM]]


def build(rng: np.random.Generator, *, size: str, shifted: str | None = None, effect: float | None = None,
          margin: float = 0.2, noise: float = 0.1, volume: float = 1.0, onset_hour: float | None = None,
          days: float | None = None, lag: int | None = None, window: bool | None = None,
          filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``effect`` is the relative upstream shift (+0.6 = 60% more inflow; -0.35 = 35% fewer reviewers);
    ``margin`` is the planned spare review capacity."""
    shifted = shifted or UPSTREAMS[int(rng.integers(0, 2))]
    if shifted not in UPSTREAMS:
        raise ValueError(f"shifted must be one of {UPSTREAMS}, got {shifted!r}")
    knobs = resolve_knobs(rng, window=window, filters=False if filters is None else filters, similar=similar)
    effect = (0.6 if shifted == UPSTREAMS[0] else -0.35) if effect is None else effect
    onset_hour = float(rng.integers(7, 16)) if onset_hour is None else onset_hour
    lag = int(rng.integers(10, 16)) if lag is None else lag
    w = make_world(rng, theme=REPORTS, size=size, knobs=knobs, days=days, onset_hour=onset_hour, lag=lag,
                   volume=volume, noise=noise, events_per_user=3.0)
    tl, onset = w.tl, w.onset
    ev = w.ev
    is_surge = np.zeros(len(ev), dtype=bool)
    if shifted == UPSTREAMS[0]:  # a spam wave: extra reports from onset on, on top of normal traffic
        sub = Timeline(start=onset // HOUR * HOUR, end=tl.end, grain=tl.grain)
        expected = effect * np.count_nonzero(ev.ts >= onset)
        extra = simulate_traffic(rng, w.pop, sub, n_rows=int(expected * (tl.end - sub.start) / (tl.end - onset)))
        ev, is_surge = merge_events(ev, extra, keep_b_from=onset)

    category = np.where(is_surge & (rng.random(len(ev)) < 0.8), 0,
                        rng.choice(len(CATEGORIES), size=len(ev), p=CATEGORY_SHARE))
    steps = (ev.ts - tl.start) // STEP
    n_steps = int((tl.end - tl.start) // STEP)
    auto_noise = ar_noise(rng, n_steps, 1, noise)[:, 0]
    auto = rng.random(len(ev)) < np.clip(0.25 * auto_noise[steps], 0, 1)
    human = np.bincount(steps[~auto], minlength=n_steps).astype(float)
    base_human = np.bincount(steps[~auto & ~is_surge], minlength=n_steps).astype(float)

    step_starts = tl.start + STEP * np.arange(n_steps)
    sod = (step_starts % 86400) // STEP
    pre = step_starts < onset
    plan = np.array([base_human[pre & (sod == s)].mean() if np.any(pre & (sod == s)) else base_human.mean()
                     for s in range(86400 // STEP)])
    per_reviewer = max(base_human.mean() / 10.0, 0.5)  # reports one reviewer clears per step
    reviewers = np.maximum(1, np.round(plan[sod] * (1 + margin) / per_reviewer + rng.normal(0, 0.6, n_steps)))
    if shifted == UPSTREAMS[1]:
        gap = np.clip((step_starts - onset) / HOUR, 0, 1) * (step_starts >= onset)
        reviewers = np.maximum(1, np.round(reviewers * (1 + effect * gap)))
    capacity = rng.poisson(per_reviewer * reviewers)
    backlog = np.zeros(n_steps)
    level = float(rng.integers(0, 5))
    for k in range(n_steps):
        level = max(0.0, level + human[k] - capacity[k])
        backlog[k] = level
    wait = backlog / (per_reviewer * reviewers)  # steps until a new report is reached
    breach_p = REPORTS.base * ar_noise(rng, n_steps, 1, noise)[:, 0] + 0.75 * (1 - np.exp(-np.maximum(0, wait - 1) / 6))
    breached = draw(rng, breach_p[steps]) & ~auto

    reports = REPORTS.frame(rng, ev, w.pop, breached)
    flag = reports.pop(REPORTS.flag)
    reports |= {"category": Coded(category, np.asarray(CATEGORIES)), "auto_actioned": auto, REPORTS.flag: flag}
    snapshots = pd.DataFrame({"snapshot_time": step_starts, "queue": "trust_safety_review",
                              "backlog_items": backlog.astype(np.int64),
                              "reviewers_online": reviewers.astype(np.int64)})

    w.log.add("config_changes", onset - int(rng.integers(15 * 60, 90 * 60)), {}, "moderation")
    w.log.background(w.tl, int(rng.integers(4, 9)), pools=["moderation", "reports", "generic"],
                     sources=["deployments", "config_changes"], avoid=(onset - 2 * HOUR, onset + 2 * HOUR))
    tables = {"reports": reports, "queue_snapshots": snapshots, **w.log.tables()}
    down_onset = _downstream_onset(step_starts, breach_p, onset)
    params = {"shifted": shifted, "effect": effect, "margin": margin, "noise": noise, "volume": volume,
              "onset_hour": onset_hour, "lag": lag, "window": knobs.window, "filters": knobs.filters,
              "similar": knobs.similar}
    return finish(w, family=FAMILY, params=params, metrics=_metrics(), tables=tables,
                  root_cause={"kind": "upstream", "id": shifted}, segment=None,
                  history_kind="upstream" if shifted == UPSTREAMS[0] else "upstream:staffing",
                  pii={"reports": REPORTS.pii_columns}, graph=GRAPH, onset=down_onset, cause_at=onset)


def _downstream_onset(step_starts: np.ndarray, breach_p: np.ndarray, onset: int) -> int:
    """First hour after the upstream shift whose mean breach probability leaves the pre-shift range."""
    hours = step_starts // HOUR * HOUR
    frame = pd.DataFrame({"hour": hours, "p": breach_p}).groupby("hour")["p"].mean()
    before = frame[frame.index < onset // HOUR * HOUR]
    threshold = before.mean() + 3 * before.std()
    after = frame[(frame.index >= onset // HOUR * HOUR) & (frame > threshold)]
    return int(after.index[0]) if len(after) else int(onset)
