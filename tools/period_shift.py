"""Attribute a whole-period shift of a metric to the nodes of the catalog's metric graph.

Why a second method beside ``tools.upstream``: the outlier path asks "which node's noise made these few rows
unusual?". When the responder's window is a whole quarter at day grain ("the breach rate is up against the
half-year before"), nothing is an outlier: a node's *distribution* moved for the whole period. That is what
``dowhy.gcm.distribution_change`` answers (Budhathoki et al., 2021): it fits the graph's mechanisms on the
reference period and on the window, tests each mechanism for a change, and splits the change of the target's
mean between the nodes with Shapley values over "which mechanisms come from the window".

Scoring (documented, deterministic for a seed):

1. ``contribution_j``: the Shapley attribution of node j to ``mean(target | window) - mean(target | reference)``,
   in target units (fast linear additive-noise mechanisms, empirical distributions at the roots).
2. Credit: only what pushes the target in the incident's direction counts, ``credit_j = max(0, contribution_j *
   direction)``; ``credit_share_j = credit_j / sum(credit)`` (the target's own mechanism takes its share too).
3. Gate: a node whose own mechanism did not change (dowhy's mechanism-change test, kernel independence tests,
   Benjamini-Hochberg at 5%) keeps ``UNCHANGED_GATE`` of its share: its attribution is Monte Carlo noise or a
   fit artefact, not a shift. ``score_j = credit_share_j x gate_j``.

Scores spread over the nodes by their share: two nodes that both shifted share the credit, none gets all of it.
"""

from __future__ import annotations

import logging
import time
import warnings
from datetime import datetime, timedelta

import networkx as nx
import numpy as np
import pandas as pd

from tools.upstream import UpstreamResult, UpstreamScore, _prepare, _robust_center_scale, _validate

LONG_WINDOW_BUCKETS = 28  # a window this long (4 weeks at day grain) is a period, not an outlier
UNCHANGED_GATE = 0.3      # share kept by a node whose own mechanism shows no significant change
NUM_SAMPLES = 1000        # samples drawn per Shapley evaluation


def is_period_window(*, window_buckets: int, reference_buckets: int) -> bool:
    """A window long enough to be a period, with at least as much reference before it to compare with."""
    return window_buckets >= LONG_WINDOW_BUCKETS and reference_buckets >= LONG_WINDOW_BUCKETS


def reference_start(*, first: datetime, start: datetime, end: datetime, step: timedelta) -> datetime:
    """Where the series for the attribution begins: ``first`` for a short window; for a period-long one, up to
    two periods before it (a quarter against the half-year before), so the reference is as long as the window."""
    if (end - start) / step < LONG_WINDOW_BUCKETS:
        return first
    return min(first, start - 2 * (end - start))


def _independence(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> float:
    """dowhy's kernel (conditional) independence test, in this thread: its joblib pool only adds waiting here."""
    from dowhy.gcm.independence_test import kernel_based

    return float(kernel_based(x, y, z, bootstrap_n_jobs=1))


def _mean_difference(old: np.ndarray, new: np.ndarray) -> float:
    return float(np.mean(new) - np.mean(old))


def attribute_period_shift(
    *,
    series: pd.DataFrame,
    graph: list[tuple[str, str]],
    target: str,
    window: pd.Series | np.ndarray,
    direction: int | None = None,
    seed: int = 0,
    num_samples: int = NUM_SAMPLES,
) -> UpstreamResult:
    """Rank the target's ancestors (and the target) by their share of the window's shift; see the module docstring.

    `window`: a boolean mask of the rows in the responder's period; every other row is the reference.
    `direction`: +1 if the incident is the target going up, -1 down; None reads it from the data.
    Raises ValueError on malformed input (same checks as ``tools.upstream.attribute_upstream``).
    """
    from dowhy import gcm
    from dowhy.gcm.shapley import ShapleyApproximationMethods, ShapleyConfig
    from dowhy.gcm.util.general import set_random_seed

    t0 = time.perf_counter()
    notes: list[str] = []
    sub, mask = _validate(series, graph, target, window)
    if direction not in (None, 1, -1):
        raise ValueError(f"direction: expected +1, -1 or None, got {direction!r}")
    df = _prepare(series, sub, target, mask, notes)
    nodes = list(nx.topological_sort(sub))
    ref, win = df.loc[~mask, nodes], df.loc[mask, nodes]
    if len(win) < 2:
        raise ValueError("window: a distribution change needs at least two rows in the window")
    centers, scales = {}, {}
    for c in nodes:
        centers[c], scales[c] = _robust_center_scale(ref[c].to_numpy())
    z_ref = (ref - pd.Series(centers)) / pd.Series(scales)
    z_win = (win - pd.Series(centers)) / pd.Series(scales)

    gcm.config.disable_progress_bars()
    logging.getLogger("dowhy").setLevel(logging.WARNING)
    set_random_seed(seed)
    scm = gcm.ProbabilisticCausalModel(nx.DiGraph(sub))
    for node in sub.nodes:
        if sub.in_degree(node) == 0:
            scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        else:
            scm.set_causal_mechanism(node, gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor()))
    method = ShapleyApproximationMethods.EXACT if len(nodes) <= 6 else ShapleyApproximationMethods.PERMUTATION
    config = ShapleyConfig(approximation_method=method, num_permutations=8, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attributions, changed, _, _ = gcm.distribution_change(
            scm, z_ref, z_win, target, num_samples=num_samples, difference_estimation_func=_mean_difference,
            independence_test=_independence, conditional_independence_test=_independence,
            shapley_config=config, return_additional_info=True)

    node_z = {c: float(z_win[c].mean() - z_ref[c].mean()) for c in nodes}
    observed = node_z[target]
    sign = float(direction) if direction is not None else (1.0 if observed >= 0 else -1.0)
    if direction is not None and observed * sign < 0:
        notes.append(f"target {target!r} moved against the given direction (z={observed:.2f})")
    contributions = {c: float(attributions.get(c, 0.0)) * scales[target] for c in nodes}
    credit = {c: max(0.0, contributions[c] * sign) for c in nodes}
    total_credit = sum(credit.values())
    total_abs = sum(abs(v) for v in contributions.values())
    scores = []
    for c in nodes:
        share_credit = credit[c] / total_credit if total_credit > 0 else 0.0
        gate = 1.0 if changed.get(c, False) else UNCHANGED_GATE
        scores.append(UpstreamScore(
            metric=c, contribution=contributions[c],
            share=abs(contributions[c]) / total_abs if total_abs > 0 else 0.0,
            shifted=bool(changed.get(c, False)), node_z=node_z[c], p_value=None, noise_z=0.0,
            score=share_credit * gate, credit_share=share_credit))
    scores.sort(key=lambda s: (-s.score, -abs(s.node_z), s.metric))
    if not any(changed.values()):
        notes.append("no mechanism of the graph changed significantly between the reference and the window")
    return UpstreamResult(
        target=target,
        method=(f"gcm.distribution_change (AdditiveNoiseModel/linear, mean difference of {len(win)} window rows "
                f"vs {len(ref)} reference rows, mechanism-change tests with BH at 5%) x mechanism-change gate"),
        scores=scores, elapsed_ms=(time.perf_counter() - t0) * 1000.0, notes=notes)
