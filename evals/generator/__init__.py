"""Synthetic RCA scenarios (spec: scenario-format.md), one family per failure pattern, deterministic per seed.

``generate(family, seed=..., size=..., out=...)`` writes one scenario folder; ``FAMILIES`` maps each family
name to its builder (``build(rng, *, size, **params) -> Bundle``). See ``evals/suite.py`` for the suite.
Sizes: ``small`` = CSV, ~8-25k event rows over 3-8 days (24 for day grain); ``large`` = Parquet, ~2M rows
over 14 days. The same (family, seed, size, params) always gives byte-identical files.

truth.json keys beyond the spec (all optional; the investigation never reads truth.json):

- ``root_cause: {"kind": "none", "id": null}``: the null family; right when no candidate scores >= 0.5.
- ``window {start, end}``: the period ``affected_units`` was counted over: the incident's window when it has
  one, else the true anomalous period (the onset's bucket up to ``detected_at``, which is also the end of
  the data). Half-open: ``start <= t < end``.
- ``onset``: when the incident metric's anomaly truly begins (exact time, not bucketed).
- ``cause_at``: when the cause happened, when that differs from ``onset`` (a delayed config effect; an
  upstream shift that the downstream metric feels later).
- ``effect``: the injected absolute change of the metric's rate inside the reach (segment or treatment arm).
- ``similar_incidents``: ids in history.jsonl of the past incidents with the same metric and kind of cause.
- ``family`` and ``params``: what generated the scenario (for grouping scores and debugging).

``affected_units`` is counted with DuckDB over the written files (spec section 5): distinct ``unit`` of the
metric's table in ``window``, in the reach (the change's scope = the truth ``segment``; the treatment arm,
i.e. any arm but the control, of the experiment; the segment; everything for an upstream cause), with a row
meeting ``affected_when`` when the metric has one. The null family has none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evals.generator import (
    delayed_config,
    experiment_guardrail,
    external_surge,
    graph_last_bucket,
    graph_mediator,
    graph_period_shift,
    metric_drop,
    null_incident,
    overlapping_changes,
    pii_leak_deploy,
    seasonal_decoy,
)
from evals.generator.bundle import Bundle, write_bundle
from evals.generator.common import SIZES, family_rng

Builder = Callable[..., Bundle]

FAMILIES: dict[str, Builder] = {
    m.FAMILY: m.build
    for m in (pii_leak_deploy, overlapping_changes, experiment_guardrail, graph_mediator, seasonal_decoy,
              external_surge, delayed_config, null_incident, metric_drop, graph_period_shift, graph_last_bucket)
}


def build(family: str, *, seed: int, size: str = "small", **params: object) -> Bundle:
    """The scenario in memory (no files); raises ValueError for an unknown family or size."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    return FAMILIES[family](family_rng(family, seed), size=size, **params)


def generate(family: str, *, seed: int, size: str = "small", out: Path, **params: object) -> Path:
    """Write one scenario folder to ``out`` (CSV for small, Parquet for large) and return its path."""
    bundle = build(family, seed=seed, size=size, **params)
    return write_bundle(bundle, Path(out), fmt="parquet" if size == "large" else "csv")


__all__ = ["FAMILIES", "Bundle", "build", "generate"]
