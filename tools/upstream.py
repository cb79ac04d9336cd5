"""Attribute an incident metric's anomaly to upstream metrics of the catalog's metric graph.

Why this shape: the catalog's `graph` says which metrics cause which; an anomaly in the target
is explained by the metric whose *own* mechanism changed (its noise term, once its parents are
accounted for) and whose change reaches the target. We fit a structural causal model
(`dowhy.gcm`) on the normal rows, attribute the target's deviation in the anomalous rows to the
noise of every ancestor with `gcm.attribute_anomalies` (Shapley values, in target units), and
combine that with each node's own anomaly so that a root cause must itself be anomalous.

Ranking (documented, deterministic):

0. Baseline: deviations are measured against all normal rows, or, with `reference_rows=k`,
   against the last k normal rows before the window ("what changed at the onset"), which ignores
   level shifts that were already there before the incident.
1. `contribution_j`: mean gcm attribution of node j over the anomalous rows (minus its mean over
   the reference rows), signed, in target units; the contributions add up to the target's change.
2. Credit: only contributions that push the target in the incident's direction count,
   `credit_j = max(0, contribution_j * direction)`.
3. Blind edges: a parent whose window value lies outside the range it had in the normal rows (for
   instance a parent that was constant there) was never seen by the regression, so what it did is
   booked as its child's own noise. When such a parent is itself anomalous *and* shifted, the
   child's credit moves up to it, walking from the target upwards, split between several such
   parents by how many anomalous nodes each would explain as the single cause. This is the
   classic "anomalous node without an anomalous cause" rule, applied only where the model is blind.
   The model is also blind (a) to a sustained shift no stretch of normal rows of the window's length
   ever showed, even when single noisy rows reached its level (tried when no parent is outside the
   row range), and (b) below a child that sits on a bound in the normal rows (an empty queue, a full
   availability) and left it: its regression learned nothing of what its parents do off the bound.
4. Gate: `gate_j = z^2 / (z^2 + 3^2)` with `z = min(|node_z_j|, |noise_z_j|)`: a root cause must be
   anomalous as a series (node_z) and in its own mechanism (noise_z, its residual given its parents).
5. `score_j = credit_j / sum(credit) * gate_j`; ties break on |noise_z|, then on the name.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from pydantic import BaseModel

MIN_NORMAL_ROWS = 10  # fewer normal rows than this cannot fit even a one-parent regression
MIN_OBSERVED = 10  # a column needs this many observed normal values, else it is dropped
Z0 = 3.0  # robust z at which a node counts as clearly anomalous / shifted
Z_CAP = 1e3  # |z| is capped: a constant baseline makes any move "infinitely" anomalous


class UpstreamScore(BaseModel):
    """One candidate node (an ancestor of the target, or the target itself)."""

    metric: str
    contribution: float  # gcm attribution to the target's anomaly, signed, in target units
    share: float  # |contribution| / sum |contributions|
    shifted: bool  # own mechanism (noise) moved in the window: |noise_z| >= Z0
    node_z: float  # robust z of the node's mean in the window vs its normal rows
    p_value: float | None  # block-resampling p-value of the noise shift
    noise_z: float = 0.0  # robust z of the node's reconstructed noise in the window
    score: float = 0.0  # the combined ranking score (see module docstring)
    credit_share: float = 0.0  # its share of the credit after passing (the score's first factor)
    credit_from: dict[str, str] = {}  # child -> why the model is blind to this node's effect on it


class UpstreamResult(BaseModel):
    """Ranked upstream attribution for one target and anomaly window."""

    target: str
    method: str
    scores: list[UpstreamScore]
    elapsed_ms: float
    notes: list[str]


class _IdentityScorer:
    """gcm anomaly scorer g(x) = x, so mean-deviation attributions are in target units."""

    def fit(self, X: np.ndarray) -> None:  # noqa: N803 - dowhy's signature
        return None

    def score(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        return np.asarray(X, dtype=float).reshape(-1)


def _robust_center_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and a scale that is never zero: 1.4826*MAD, else std, else a tiny floor."""
    values = values[np.isfinite(values)]
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    if mad > 0:
        return med, mad
    std = float(np.std(values))
    if std > 0:
        return med, std
    return med, max(1e-3 * abs(med), 1e-9)


def _cap(z: float) -> float:
    return float(np.clip(z, -Z_CAP, Z_CAP))


def _block_p_value(normal: np.ndarray, window_mean: float, k: int, center: float) -> float:
    """P-value of a window of k rows: how often a contiguous k-row block of normal rows moves as far."""
    n = normal.shape[0]
    k = max(1, min(k, n))
    csum = np.concatenate([[0.0], np.cumsum(normal)])
    block_means = (csum[k:] - csum[:-k]) / k
    obs = abs(window_mean - center)
    exceed = int(np.sum(np.abs(block_means - center) >= obs))
    return (1 + exceed) / (1 + block_means.shape[0])


def _marginalize(g: nx.DiGraph, node: str) -> None:
    """Remove a node but keep the causal paths through it (parents -> children)."""
    for p in list(g.predecessors(node)):
        for c in list(g.successors(node)):
            if p != c:
                g.add_edge(p, c)
    g.remove_node(node)


def _validate(
    series: pd.DataFrame, graph: Iterable[tuple[str, str]], target: str, anomaly: pd.Series | np.ndarray
) -> tuple[nx.DiGraph, np.ndarray]:
    if not isinstance(series, pd.DataFrame) or series.empty:
        raise ValueError("series: expected a non-empty DataFrame (rows = buckets, columns = metrics)")
    if series.columns.duplicated().any():
        dups = sorted(set(series.columns[series.columns.duplicated()]))
        raise ValueError(f"series: duplicate metric columns {dups}")
    g = nx.DiGraph()
    for i, edge in enumerate(graph):
        if len(edge) != 2:
            raise ValueError(f"graph[{i}]: expected an edge [upstream, downstream], got {edge!r}")
        g.add_edge(str(edge[0]), str(edge[1]))
    if target not in g:
        raise ValueError(f"target {target!r} is not a node of the graph")
    if target not in series.columns:
        raise ValueError(f"target {target!r} is not a column of series")
    mask = np.asarray(anomaly)
    if mask.ndim != 1 or mask.shape[0] != series.shape[0]:
        raise ValueError(f"anomaly: expected a 1-d boolean mask of length {series.shape[0]}, got {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, [0, 1, True, False]).all():
            raise ValueError("anomaly: expected booleans (True = anomalous bucket)")
        mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("anomaly: no anomalous row (mask is all False)")
    if int((~mask).sum()) < MIN_NORMAL_ROWS:
        raise ValueError(f"anomaly: need at least {MIN_NORMAL_ROWS} normal rows to fit, got {int((~mask).sum())}")
    sub = g.subgraph(nx.ancestors(g, target) | {target}).copy()
    if not nx.is_directed_acyclic_graph(sub):
        cycle = nx.find_cycle(sub)
        raise ValueError(f"graph: cycle among the target's ancestors: {cycle}")
    return sub, mask


def _prepare(series: pd.DataFrame, sub: nx.DiGraph, target: str, mask: np.ndarray, notes: list[str]) -> pd.DataFrame:
    """Numeric columns of the ancestral subgraph, NaNs imputed with the normal median."""
    for node in sorted(n for n in sub.nodes if n not in series.columns):
        notes.append(f"{node}: no column in series; dropped, its causal paths kept")
        _marginalize(sub, node)
    cols = sorted(sub.nodes)
    data = {}
    for c in cols:
        try:
            data[c] = np.asarray(pd.to_numeric(series[c]), dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"series[{c!r}]: expected numbers ({exc})") from exc
    df = pd.DataFrame(data, index=series.index)
    df = df.where(np.isfinite(df))
    if df.loc[mask, target].isna().all():
        raise ValueError(f"target {target!r}: no value in the anomalous rows")
    for c in cols:
        observed = int(df.loc[~mask, c].notna().sum())
        if observed < MIN_OBSERVED:
            if c == target:
                raise ValueError(f"target {target!r}: only {observed} observed normal values, need {MIN_OBSERVED}")
            notes.append(f"{c}: only {observed} observed normal values; dropped, its causal paths kept")
            _marginalize(sub, c)
            df = df.drop(columns=c)
            continue
        n_missing_win = int(df.loc[mask, c].isna().sum())
        if n_missing_win:
            notes.append(f"{c}: {n_missing_win} anomalous row(s) missing, imputed with the normal median")
        df[c] = df[c].fillna(float(df.loc[~mask, c].median()))
    return df


def attribute_upstream(
    *,
    series: pd.DataFrame,
    graph: list[tuple[str, str]],
    target: str,
    anomaly: pd.Series | np.ndarray,
    seed: int = 0,
    direction: int | None = None,
    reference_rows: int | None = None,
    blind_edges: str = "support",
    mechanisms: str = "linear",
    num_distribution_samples: int = 300,
    num_permutations: int = 6,
    seasons: np.ndarray | None = None,
) -> UpstreamResult:
    """Rank the target's ancestors (and the target) as causes of its anomaly; see the module docstring.

    `direction`: +1 if the incident is the target going up, -1 down; None infers it from the data.
    `reference_rows`: None measures the window against all normal rows; k measures it against the
    last k normal rows before the window (use when older normal rows come from another period).
    `blind_edges`: which edges the model cannot know, for credit passing: "support" (the parent's window
    mean outside its normal range, or outside the range of its normal means over the window's length, or
    a child that sat on a bound and left it; see `_blind_edges`), "constant" (parent constant in the
    normal rows) or "none" (no passing: plain gcm attribution x gate).
    `mechanisms`: "linear" (AdditiveNoiseModel with linear regression, the fast default), "ridge",
    or "auto" (dowhy's auto-assignment; slow, for benchmarks).
    `seasons`: a phase label per row (e.g. hour of day); each metric's normal-row median per phase is
    removed first where that at least halves its spread, so a daily rhythm shared by all metrics is neither
    read as a causal link nor hides a shift (a 35% staffing drop is within the day/night range).
    Raises ValueError on malformed input.
    """
    t0 = time.perf_counter()
    notes: list[str] = []
    sub, mask = _validate(series, graph, target, anomaly)
    _check_options(direction, mechanisms, blind_edges, reference_rows)
    df = _prepare(series, sub, target, mask, notes)
    censored = _censored(df.loc[~mask])
    if seasons is not None:
        df = _deseasonalize(df, mask, np.asarray(seasons), notes)
    nodes = list(nx.topological_sort(sub))
    normal, window = df.loc[~mask, nodes], df.loc[mask, nodes]
    ref_pos = _reference_positions(mask, reference_rows)
    if reference_rows is not None and len(ref_pos) < reference_rows:
        notes.append(f"only {len(ref_pos)} normal row(s) before the window for the reference")
    if reference_rows is not None and not ref_pos:
        raise ValueError("reference_rows: no normal row precedes the first anomalous row")

    # Standardize with robust normal-row statistics: regressions stay well conditioned across
    # metrics in different units; attributions are mapped back to target units at the end.
    centers, scales = {}, {}
    for c in nodes:
        centers[c], scales[c] = _robust_center_scale(normal[c].to_numpy())
    z_all = (df[nodes] - pd.Series(centers)) / pd.Series(scales)
    z_normal, z_window = z_all.loc[~mask], z_all.loc[mask]
    z_ref = z_all.iloc[ref_pos] if ref_pos else None
    scm = _fit_scm(sub, z_normal, mechanisms, seed)
    rows = z_window if z_ref is None else pd.concat([z_window, z_ref])
    per_row = _attribute(scm, target, rows, seed, num_distribution_samples, num_permutations, mechanisms != "auto")
    k = int(mask.sum())
    contributions = {}
    for node, vals in per_row.items():
        delta = float(np.mean(vals[:k])) - (float(np.mean(vals[k:])) if z_ref is not None else 0.0)
        contributions[node] = delta * scales[target]

    node_z, noise_z, p_values = _node_statistics(scm, nodes, z_normal, z_window, z_ref, k)

    if abs(node_z[target]) < Z0:
        notes.append(f"target {target!r} is not clearly anomalous in the window (z={node_z[target]:.2f})")
    sign = float(direction) if direction is not None else (1.0 if node_z[target] >= 0 else -1.0)
    if direction is not None and node_z[target] * sign < 0:
        notes.append(f"target {target!r} moved against the given direction (z={node_z[target]:.2f})")
    credit = {c: max(0.0, contributions.get(c, 0.0) * sign) for c in nodes}
    passable = {c for c in nodes if abs(node_z[c]) >= Z0 and abs(noise_z[c]) >= Z0}
    blind = _blind_edges(sub, normal, window, blind_edges, passable, censored)
    credit, received = _pass_blind_credit(sub, nodes, credit, blind, passable, node_z, notes)

    scores = [_node_score(c, contributions, credit, received, node_z, noise_z, p_values) for c in nodes]
    scores.sort(key=lambda s: (-s.score, -abs(s.noise_z), s.metric))
    ref_txt = "all normal rows" if reference_rows is None else f"last {len(ref_pos)} normal row(s)"
    method = (
        f"gcm.attribute_anomalies (AdditiveNoiseModel/{mechanisms}, mean deviation vs {ref_txt}, "
        f"{num_permutations} permutations) x own-anomaly gate + blind-edge credit passing"
    )
    return UpstreamResult(
        target=target,
        method=method,
        scores=scores,
        elapsed_ms=(time.perf_counter() - t0) * 1000.0,
        notes=notes,
    )


def _check_options(direction: int | None, mechanisms: str, blind_edges: str, reference_rows: int | None) -> None:
    """Refuse an option outside its documented values before any fitting starts."""
    if direction not in (None, 1, -1):
        raise ValueError(f"direction: expected +1, -1 or None, got {direction!r}")
    if mechanisms not in ("linear", "ridge", "auto"):
        raise ValueError(f"mechanisms: expected 'linear', 'ridge' or 'auto', got {mechanisms!r}")
    if blind_edges not in ("support", "constant", "none"):
        raise ValueError(f"blind_edges: expected 'support', 'constant' or 'none', got {blind_edges!r}")
    if reference_rows is not None and reference_rows < 1:
        raise ValueError(f"reference_rows: expected a positive count or None, got {reference_rows!r}")


def _node_statistics(scm: Any, nodes: list[str], z_normal: pd.DataFrame, z_window: pd.DataFrame,
                     z_ref: pd.DataFrame | None, k: int
                     ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per node: its own shift (robust z), its noise's shift under the fitted model, and the noise's block p."""
    from dowhy.gcm._noise import compute_noise_from_data

    noise_normal = compute_noise_from_data(scm, z_normal)
    noise_window = compute_noise_from_data(scm, z_window)
    noise_ref = compute_noise_from_data(scm, z_ref) if z_ref is not None else None
    node_z, noise_z, p_values = {}, {}, {}
    for c in nodes:
        base = float(z_ref[c].mean()) if z_ref is not None else 0.0  # z_all is robust-centred already
        node_z[c] = _cap(float(z_window[c].mean()) - base)
        nc, ns = _robust_center_scale(noise_normal[c].to_numpy())
        nbase = float(noise_ref[c].mean()) if noise_ref is not None else nc
        wmean = float(noise_window[c].mean())
        noise_z[c] = _cap((wmean - nbase) / ns)
        p_values[c] = _block_p_value(noise_normal[c].to_numpy(), nc + (wmean - nbase), k, nc)
    return node_z, noise_z, p_values


def _node_score(c: str, contributions: dict[str, float], credit: dict[str, float],
                received: dict[str, dict[str, str]], node_z: dict[str, float], noise_z: dict[str, float],
                p_values: dict[str, float]) -> UpstreamScore:
    """One node's score: its share of the credit, gated by how clearly it moved itself."""
    total_credit = sum(credit.values())
    total_abs = sum(abs(v) for v in contributions.values())
    z = min(abs(node_z[c]), abs(noise_z[c]))
    gate = z * z / (z * z + Z0 * Z0)
    share_credit = credit[c] / total_credit if total_credit > 0 else 0.0
    contrib = float(contributions.get(c, 0.0))
    return UpstreamScore(metric=c, contribution=contrib, share=abs(contrib) / total_abs if total_abs > 0 else 0.0,
                         shifted=abs(noise_z[c]) >= Z0, node_z=node_z[c], p_value=p_values[c], noise_z=noise_z[c],
                         score=share_credit * gate, credit_share=share_credit, credit_from=received.get(c, {}))


SEASON_MIN_ROWS = 2  # normal rows a phase needs before its own median is trusted
# Keep the removal only if it at least halves the normal rows' robust spread (a rhythm behind >= 3/4 of the
# variance). 24 phase medians always absorb some noise and day-to-day drift: PetShop's 5-minute latencies,
# which have no daily rhythm, shrink to 0.6-1.0 of their spread; a staffing or traffic rhythm to 0.06-0.45.
SEASON_GAIN = 0.5


def _deseasonalize(df: pd.DataFrame, mask: np.ndarray, seasons: np.ndarray, notes: list[str]) -> pd.DataFrame:
    """Subtract each column's per-phase normal-row median (re-centred), where it tightens the normal rows."""
    if seasons.shape[0] != df.shape[0]:
        raise ValueError(f"seasons: expected one label per row ({df.shape[0]}), got {seasons.shape[0]}")
    from tools.anomaly import phase_effect

    out = df.copy()
    removed = []
    for c in df.columns:
        values = df[c].to_numpy(dtype=float)
        adjusted = values - phase_effect(values, seasons, ~mask, min_rows=SEASON_MIN_ROWS)
        if _robust_center_scale(adjusted[~mask])[1] <= SEASON_GAIN * _robust_center_scale(values[~mask])[1]:
            out[c] = adjusted
            removed.append(c)
    if removed:
        notes.append(f"seasonal profile removed from {removed}")
    return out


def _reference_positions(mask: np.ndarray, k: int | None) -> list[int]:
    """Positions of the last k normal rows before the first anomalous row."""
    if k is None:
        return []
    first = int(np.argmax(mask))
    before = [i for i in range(first) if not mask[i]]
    return before[-k:]


def _fit_scm(sub: nx.DiGraph, data: pd.DataFrame, mechanisms: str, seed: int):
    """Fit an invertible SCM; explicit cheap mechanisms unless `auto` is asked for."""
    from dowhy import gcm
    from dowhy.gcm.util.general import set_random_seed

    gcm.config.disable_progress_bars()
    logging.getLogger("dowhy").setLevel(logging.WARNING)
    set_random_seed(seed)
    scm = gcm.InvertibleStructuralCausalModel(nx.DiGraph(sub))
    if mechanisms == "auto":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gcm.auto.assign_causal_mechanisms(scm, data)
    else:
        make = gcm.ml.create_linear_regressor if mechanisms == "linear" else gcm.ml.create_ridge_regressor
        for node in sub.nodes:
            if sub.in_degree(node) == 0:
                scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
            else:
                scm.set_causal_mechanism(node, gcm.AdditiveNoiseModel(make()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gcm.fit(scm, data)
    return scm


def _attribute(
    scm, target: str, window: pd.DataFrame, seed: int, num_samples: int, num_permutations: int, linear: bool
) -> dict[str, np.ndarray]:
    """gcm attribution per node and row of `window`, in standardized target units.

    This is `gcm.attribute_anomalies` (mean deviation, identity scorer) spelled out so that, for
    linear mechanisms, the target-as-function-of-noise is dowhy's linear approximation (exact for a
    linear SCM) instead of a graph walk per Shapley evaluation: 40 nodes go from minutes to < 1 s.
    """
    from dowhy import gcm
    from dowhy.gcm._noise import compute_noise_from_data, get_noise_dependent_function, noise_samples_of_ancestors
    from dowhy.gcm.anomaly import attribute_anomaly_scores
    from dowhy.gcm.shapley import ShapleyApproximationMethods, ShapleyConfig
    from dowhy.gcm.util.general import set_random_seed

    set_random_seed(seed)
    n_players = len(nx.ancestors(scm.graph, target)) + 1
    method = ShapleyApproximationMethods.EXACT if n_players <= 5 else ShapleyApproximationMethods.PERMUTATION
    config = ShapleyConfig(approximation_method=method, num_permutations=num_permutations, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not linear:
            attributions = gcm.attribute_anomalies(
                scm,
                target,
                anomaly_samples=window,
                anomaly_scorer=_IdentityScorer(),
                attribute_mean_deviation=True,
                num_distribution_samples=num_samples,
                shapley_config=config,
            )
            return {str(k): np.asarray(v, dtype=float) for k, v in attributions.items()}
        noise_of_anomalies = compute_noise_from_data(scm, window)
        _, noise_samples = noise_samples_of_ancestors(scm, target, num_samples)
        approx = gcm.ml.create_linear_regressor()
        _, order = get_noise_dependent_function(scm, target, approx_prediction_model=approx, num_training_samples=5000)
        coef = np.asarray(approx.sklearn_model.coef_, dtype=float).reshape(-1)
        intercept = float(np.asarray(approx.sklearn_model.intercept_).reshape(-1)[0])
        values = attribute_anomaly_scores(
            noise_of_anomalies[order].to_numpy(),
            noise_samples[order].to_numpy(),
            lambda x: x @ coef + intercept,
            True,
            config,
        )
    return {str(node): values[:, i] for i, node in enumerate(order)}


# Means over k rows spread 1/sqrt(k) as much as single rows: below 4 rows (half the spread) the block range says
# little the row range does not (PetShop's 3-row windows lost an issue to it: 0.81 -> 0.79 top-1).
BLOCK_MIN_ROWS = 4
CENSORED_SHARE = 0.5  # a metric at one exact value (its minimum or maximum) this often sits on a bound


def _censored(normal: pd.DataFrame) -> set[str]:
    """Metrics that sit on a bound most of the time (an empty queue at 0, an availability at 1)."""
    out = set()
    for c in normal.columns:
        v = normal[c].dropna().to_numpy()
        if len(v) and max(np.mean(v == v.min()), np.mean(v == v.max())) >= CENSORED_SHARE:
            out.add(c)
    return out


def _blind_edges(
    sub: nx.DiGraph, normal: pd.DataFrame, window: pd.DataFrame, mode: str, passable: set[str],
    censored: frozenset[str] | set[str] = frozenset(),
) -> dict[tuple[str, str], str]:
    """Edges whose parent did in the window what the normal rows never showed, so the model cannot know it.

    "support": the parent's window mean lies outside the range of its normal rows; for a child with no such
    (anomalous, shifted) parent, outside the range of its normal means over as many rows as the window has.
    A sustained shift of six robust z over nine hours is beyond anything normal even when single noisy
    hours reached it: a queue's inflow up 20% never filled the queue before, and its regression learned
    nothing about what it does then. The single-row range comes first: a parent far outside it (a constant
    availability dropping) is the clearer explanation than one only outside the block range. A child in
    `censored` (on a bound in the normal rows) that left its range makes all its edges blind, as a last resort.
    "constant": the parent was constant in the normal rows. "none": no edge. Returns each blind edge with why.
    """
    if mode == "none":
        return {}
    if mode == "constant":
        return {(p, v): f"{p} was constant in the normal rows" for p, v in sub.edges
                if float(normal[p].std(ddof=0)) == 0.0}
    mean_w = window.mean()
    beyond = {c for c in normal.columns if not normal[c].min() <= float(mean_w[c]) <= normal[c].max()}
    k = min(len(window), len(normal))
    beyond_block = set()
    if k >= BLOCK_MIN_ROWS:
        blocks = normal.rolling(k).mean().iloc[k - 1:]
        beyond_block = {c for c in normal.columns if not blocks[c].min() <= float(mean_w[c]) <= blocks[c].max()}
    blind: dict[tuple[str, str], str] = {}
    for v in sub.nodes:
        parents = list(sub.predecessors(v))
        why = {p: f"{p} left the range of its normal rows" for p in parents if p in beyond}
        if not any(p in passable for p in why):
            why |= {p: f"{p} stayed outside the range of its normal {k}-row means" for p in parents
                    if p in beyond_block and p not in beyond}
        if v in censored and v in beyond and not any(p in passable for p in why):
            why = {p: f"{v} sat on a bound in the normal rows and left it" for p in parents}
        blind |= {(p, v): reason for p, reason in why.items()}
    return blind


def _pass_blind_credit(
    sub: nx.DiGraph,
    nodes: list[str],
    credit: dict[str, float],
    blind: dict[tuple[str, str], str],
    passable: set[str],
    node_z: dict[str, float],
    notes: list[str],
) -> tuple[dict[str, float], dict[str, dict[str, str]]]:
    """Move a node's credit to anomalous, shifted (`passable`) parents whose effect the model cannot know.

    Along a `blind` edge (see `_blind_edges`) the parent did what the normal rows never showed: the
    regression either learned nothing about it or extrapolates, and what the parent did lands in the
    child's noise. Under the usual
    single-root-cause assumption the child's credit belongs to such a parent. Several such parents
    share it by coverage: how many anomalous nodes (itself and its descendants) each would explain
    as the single cause. Their z-scores are not used: a constant baseline makes them incomparable.
    Also returns, per receiving parent, the children it took credit from and why the model is blind there.
    """
    credit = dict(credit)
    received: dict[str, dict[str, str]] = {}
    anomalous = {c for c in nodes if abs(node_z[c]) >= Z0}
    for v in reversed(nodes):  # downstream first, so credit can climb several levels
        if credit[v] <= 0:
            continue
        takers = [
            p
            for p in sorted(sub.predecessors(v))
            if (p, v) in blind and p in passable
        ]
        if not takers:
            continue
        cover = np.array([len(anomalous & (nx.descendants(sub, p) | {p})) for p in takers], dtype=float)
        for p, w in zip(takers, cover / cover.sum(), strict=True):
            credit[p] += credit[v] * float(w)
            received.setdefault(p, {})[v] = blind[(p, v)]
        notes.append(f"{v}: credit passed to anomalous parent(s) beyond the model's support {takers}")
        credit[v] = 0.0
    return credit, received
