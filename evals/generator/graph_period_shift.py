"""Family ``graph_period_shift``: one upstream metric's distribution shifts for a whole quarter (day grain).

Graph: reports_received -> moderation_queue_inflow <- auto_action_rate, moderation_queue_inflow -> review_load
<- reviewers_online, review_load -> report_response_sla_breach_rate. Daily rows per review queue. From the
window's first day on, one root metric runs at another level (more reports, a weaker classifier, fewer
reviewers) for the whole quarter; nothing is an outlier on any single day. The responder files "the breach
rate is up this quarter against the half-year before" with the quarter as the window. The truth is the root
that shifted; the other roots are decoys with their own noise and weekly rhythm (reports), none shifted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.generator.assemble import Knobs, World, finish, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import BASE_DATE, DAY, ChangeLog, IdMaker, TextPicker, Timeline, iso

FAMILY = "graph_period_shift"
TARGET = "report_response_sla_breach_rate"
QUEUES = ["spam", "abuse", "scam"]
QUEUE_SHARE = np.array([0.5, 0.3, 0.2])
ROOTS = ("reports_received", "auto_action_rate", "reviewers_online")
DEFAULT_EFFECT = {"reports_received": 0.15, "auto_action_rate": -0.08, "reviewers_online": -0.12}
GRAPH = [["reports_received", "moderation_queue_inflow"], ["auto_action_rate", "moderation_queue_inflow"],
         ["moderation_queue_inflow", "review_load"], ["reviewers_online", "review_load"],
         ["review_load", TARGET]]
TITLES = ["Response SLA breaches up this quarter", "Quarterly review: report response SLA worse than last half",
          "Trust and safety: breach rate up over the whole quarter"]
DESCRIPTIONS = [
    "The quarterly business review shows the response SLA breach rate well above the half-year before it.",
    "Breaches have been higher all quarter, no single bad day; which part of the review pipeline changed?",
    "Against the previous two quarters the share of reports answered after the SLA is up. Please find why.",
]


def _metrics() -> dict[str, object]:
    daily = {"table": "moderation_daily", "timestamp": "day"}
    return {
        TARGET: {**daily, "description": "Share of human-reviewed reports first answered after the response SLA.",
                 "value": "sum(sla_breaches) * 1.0 / sum(human_reviews)", "dimensions": ["queue"],
                 "higher_is_worse": True},
        "reports_received": {**daily, "description": "User reports received per day.",
                             "value": "sum(reports)", "dimensions": ["queue"], "higher_is_worse": True},
        "auto_action_rate": {**daily, "description": "Share of reports resolved by the classifier without review.",
                             "value": "sum(auto_actioned) * 1.0 / sum(reports)", "dimensions": ["queue"],
                             "higher_is_worse": False},
        "moderation_queue_inflow": {**daily, "description": "Reports entering human review per day.",
                                    "value": "sum(human_reviews)", "dimensions": ["queue"], "higher_is_worse": True},
        "reviewers_online": {"table": "staffing_daily", "timestamp": "day", "value": "avg(reviewers_online)",
                             "description": "Reviewers on shift per day.", "dimensions": [],
                             "higher_is_worse": False},
        "review_load": {"table": "staffing_daily", "timestamp": "day", "value": "avg(reviews_per_reviewer)",
                        "description": "Human reviews per reviewer on shift per day.", "dimensions": [],
                        "higher_is_worse": True},
    }


def _ar(rng: np.random.Generator, n: int, sigma: float, phi: float = 0.5) -> np.ndarray:
    out = np.empty(n)
    out[0] = rng.normal(0, sigma)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + rng.normal(0, sigma * np.sqrt(1 - phi**2))
    return out


def build(rng: np.random.Generator, *, size: str, shifted: str | None = None, effect: float | None = None,
          reference_days: int = 182, window_days: int = 91, noise: float = 0.05, volume: float = 1.0,
          window: bool | None = None, filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``effect`` is the shifted root's relative change over the window (+0.15 = 15% more reports; for
    ``auto_action_rate`` an absolute change of the share). ``size`` does not matter: the data are daily."""
    del size, window, filters  # the window is the quarter, always given; the target has no filterable segment
    shifted = shifted or ROOTS[int(rng.integers(0, len(ROOTS)))]
    if shifted not in ROOTS:
        raise ValueError(f"shifted must be one of {ROOTS}, got {shifted!r}")
    knobs = resolve_knobs(rng, window=False, filters=False, similar=similar)
    effect = DEFAULT_EFFECT[shifted] if effect is None else float(effect)
    n = int(reference_days) + int(window_days)
    start = BASE_DATE + DAY * int(rng.integers(0, 60))
    tl = Timeline(start=start, end=start + n * DAY, grain="day")
    window_start = start + int(reference_days) * DAY
    onset = window_start - DAY * int(rng.integers(3, 15))  # the shift began shortly before the quarter did
    days = start + DAY * np.arange(n)
    after = days >= onset
    dow = ((days // DAY) + 3) % 7  # 0 = Monday
    weekly = np.where(dow >= 5, 0.8, 1.0 + 0.05 * np.cos(2 * np.pi * dow / 5))

    base_reports = 4000.0 * volume
    reports_level = base_reports * weekly * np.exp(_ar(rng, n, 2 * noise))
    if shifted == "reports_received":
        reports_level *= 1 + effect * after
    auto_rate = np.clip(0.45 + _ar(rng, n, 0.4 * noise) + (effect * after if shifted == "auto_action_rate" else 0),
                        0.05, 0.95)
    per_reviewer = 45.0
    plan = base_reports * 0.55 * weekly / per_reviewer * 1.15
    reviewers = np.maximum(5, np.round(plan * np.exp(_ar(rng, n, noise)) * (1 + effect * after
                                       if shifted == "reviewers_online" else 1)))
    reports = rng.poisson(reports_level[:, None] * QUEUE_SHARE[None, :])
    auto = rng.binomial(reports, np.clip(auto_rate[:, None] + rng.normal(0, 0.01, (n, len(QUEUES))), 0, 1))
    human = reports - auto
    load = human.sum(axis=1) / reviewers
    load_ref = float(np.median(load[~after]))
    breach_p = 0.04 * np.exp(2.5 * (load / load_ref - 1)) * np.exp(_ar(rng, n, noise))
    breaches = rng.binomial(human, np.clip(breach_p[:, None], 0, 1))

    daily = pd.DataFrame({"day": np.repeat(days, len(QUEUES)), "queue": np.tile(QUEUES, n),
                          "reports": reports.ravel(), "auto_actioned": auto.ravel(), "human_reviews": human.ravel(),
                          "sla_breaches": breaches.ravel()})
    staffing = pd.DataFrame({"day": days, "reviewers_online": reviewers.astype(np.int64),
                             "reviews_per_reviewer": np.round(load, 3)})
    ids = IdMaker(rng)
    log = ChangeLog(rng, ids, TextPicker(rng))
    log.background(tl, int(rng.integers(4, 9)), pools=["moderation", "reports", "generic"],
                   sources=["deployments", "config_changes"], avoid=(onset - 14 * DAY, window_start + 14 * DAY))
    w = World(rng=rng, size="small", tl=tl, onset=onset, pop=None, ev=None, theme=None, p=None,  # type: ignore
              ids=ids, log=log, knobs=Knobs(window=False, filters=False, similar=knobs.similar))
    params = {"shifted": shifted, "effect": effect, "reference_days": reference_days, "window_days": window_days,
              "noise": noise, "volume": volume, "window": True, "similar": knobs.similar}
    bundle = finish(w, family=FAMILY, params=params, metrics=_metrics(),
                    tables={"moderation_daily": daily, "staffing_daily": staffing, **log.tables()},
                    root_cause={"kind": "upstream", "id": shifted}, segment=None,
                    history_kind="upstream:staffing" if shifted == "reviewers_online" else "upstream",
                    pii={}, graph=GRAPH, count_units=False)
    bundle.incident["title"] = TITLES[int(rng.integers(0, len(TITLES)))]
    bundle.incident["description"] = DESCRIPTIONS[int(rng.integers(0, len(DESCRIPTIONS)))]
    bundle.incident["window"] = {"start": iso(window_start), "end": iso(tl.end)}
    bundle.truth["window"] = dict(bundle.incident["window"])
    return bundle
