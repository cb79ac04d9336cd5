"""Benchmark tools.upstream: speed at two sizes, and explicit vs auto-assigned mechanisms.

Run: `.venv/bin/python bench/bench_upstream.py` (about a minute on 2 cores; prints markdown).

Why: the default `gcm.auto.assign_causal_mechanisms` plus a graph walk per Shapley evaluation is
far too slow for an interactive investigation; the tool picks linear additive-noise mechanisms
and a linear noise->target function. This shows the time that buys and that the conclusion (the
top node) on a small synthetic chain is the same as with dowhy's auto-assigned mechanisms.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.upstream import attribute_upstream  # noqa: E402

CHAIN = [("a", "b"), ("b", "target"), ("c", "target")]


def chain(shift: str, seed: int, n: int = 300, k: int = 10) -> tuple[pd.DataFrame, np.ndarray]:
    """a -> b -> target <- c with a mildly non-linear b; `shift` moves one node's noise at the end."""
    rng = np.random.default_rng(seed)
    a, c = rng.normal(0, 1, n), rng.normal(0, 1, n)
    if shift == "a":
        a[-k:] += 4
    b = 2 * a + 0.3 * a**2 + rng.normal(0, 1, n)
    if shift == "b":
        b[-k:] += 6
    t = 1.5 * b + 0.5 * c + rng.normal(0, 1, n)
    if shift == "target":
        t[-k:] += 12
    mask = np.arange(n) >= n - k
    return pd.DataFrame({"a": a, "b": b, "c": c, "target": t}), mask


def tree(n_nodes: int, n_rows: int, seed: int) -> tuple[pd.DataFrame, list[tuple[str, str]], np.ndarray]:
    """A random call-tree-like DAG (each node feeds one or two later nodes); the last node is the target."""
    rng = np.random.default_rng(seed)
    names = [f"m{i}" for i in range(n_nodes)]
    edges: list[tuple[str, str]] = []
    data: dict[str, np.ndarray] = {}
    for i in range(n_nodes - 1, -1, -1):  # m{n-1} is a root; children have lower index
        parents = [e[0] for e in edges if e[1] == names[i]]
        val = rng.normal(0, 1, n_rows) + sum(0.8 * data[p] for p in parents)
        data[names[i]] = val
        if i > 0:
            for child in set(rng.integers(0, i, size=rng.integers(1, 3))):
                edges.append((names[i], names[int(child)]))
    # make sure every node reaches the target m0
    order = sorted(data, key=lambda s: -int(s[1:]))
    df = pd.DataFrame({k: data[k] for k in order})
    mask = np.arange(n_rows) >= n_rows - 5
    root = names[n_nodes - 1]
    df.loc[mask, root] += 6
    return df, edges, mask


def timed(fn, repeats: int) -> tuple[object, float, float]:
    """Result, median wall seconds and median CPU seconds over `repeats` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return out, statistics.median(walls), statistics.median(cpus)


def main() -> None:
    import dowhy.gcm  # noqa: F401 - import once, outside the timings

    print("## Explicit linear mechanisms vs dowhy auto-assigned (synthetic chain, 300 rows)\n")
    print("| shift | seed | top (linear) | s (linear) | top (auto) | s (auto) | same |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    same = total = 0
    for shift in ("a", "b", "target"):
        for seed in (0, 1):
            df, mask = chain(shift, seed)

            def run(mech: str, df=df, mask=mask):
                return attribute_upstream(series=df, graph=CHAIN, target="target", anomaly=mask, mechanisms=mech)

            lin, lin_s, _ = timed(lambda run=run: run("linear"), 1)
            auto, auto_s, _ = timed(lambda run=run: run("auto"), 1)
            ok = lin.scores[0].metric == auto.scores[0].metric
            same += ok
            total += 1
            print(
                f"| {shift} | {seed} | {lin.scores[0].metric} | {lin_s:.2f} | {auto.scores[0].metric} | "
                f"{auto_s:.2f} | {'yes' if ok else 'NO'} |"
            )
    print(f"\nSame top node in {same}/{total} cases.\n")

    print("## Speed (explicit linear mechanisms), median of 3 calls\n")
    print("| nodes | rows | wall s | CPU s | top is the shifted root |")
    print("| --- | --- | --- | --- | --- |")
    for n_nodes, n_rows in ((10, 200), (40, 600)):
        df, edges, mask = tree(n_nodes, n_rows, seed=n_nodes)
        res, wall, cpu = timed(
            lambda df=df, edges=edges, mask=mask: attribute_upstream(series=df, graph=edges, target="m0", anomaly=mask),
            3,
        )
        print(f"| {n_nodes} | {n_rows} | {wall:.2f} | {cpu:.2f} | {res.scores[0].metric == f'm{n_nodes - 1}'} |")


if __name__ == "__main__":
    main()
