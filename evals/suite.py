"""The evaluation suite: 9 families x 7 seeds and 2 metric-graph families x 6, each seed with its own effect
size, noise, volume and timing.

``python -m evals.suite --out evals/scenarios [--size small]`` writes every scenario folder plus a
``suite.json`` manifest (the specs, so a runner can group scores by family). Parameters not set here are
drawn from the seed. About half the incidents carry a ``window`` (even seeds), a few carry ``filters``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals.generator import FAMILIES, generate
from evals.generator.common import SIZES


class ScenarioSpec(BaseModel):
    """One suite entry: which family, seed and size, and the parameters passed to the family."""

    name: str
    family: str
    seed: int
    size: str = "small"
    params: dict[str, Any] = Field(default_factory=dict)


# Per family, one parameter set per seed (seed = position + 1). Comments say what each variant stresses.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "pii_leak_deploy": [
        {},
        {"effect": 0.02, "noise": 0.15},  # small but real
        {"grain": "minute", "effect": 0.08, "gap_before": 4, "gap_after": 3},
        {"volume": 0.5, "effect": 0.1, "after_scope": "narrow"},
        {"after_scope": "global", "gap_before": 4, "gap_after": 5},
        {"effect": 0.035, "onset_hour": 3, "volume": 1.2, "after_scope": "narrow"},  # night onset
        {"filters": True, "after_scope": "platform", "noise": 0.05},
    ],
    "overlapping_changes": [
        {"true_dim": "region"},
        {"true_dim": "platform", "metric": "user_report_rate"},
        {"true_dim": "region", "metric": "deletion_sla_breach_rate", "effect": 0.03},
        {"true_dim": "platform", "metric": "raw_ip_log_rate", "effect": 0.05},
        {"true_dim": "platform", "effect": 0.022, "noise": 0.06},  # small but real
        {"true_dim": "region", "metric": "user_report_rate", "effect": 0.03, "volume": 0.6},
        {"true_dim": "region", "filters": True, "noise": 0.15},
    ],
    "experiment_guardrail": [
        {},
        {"metric": "user_report_rate", "effect": 0.04},
        {"effect": -0.07, "eligible": 0.8},  # small but real
        {"metric": "user_report_rate", "effect": 0.03, "eligible": 0.6, "volume": 1.2},
        {"effect": -0.12, "eligible": 0.3},
        {"effect": -0.08, "noise": 0.2, "days": 6},
        {"metric": "user_report_rate", "effect": 0.06, "eligible": 0.4, "onset_hour": 20},
    ],
    "graph_mediator": [
        {"shifted": "moderation_queue_inflow"},
        {"shifted": "reviewers_online"},
        {"shifted": "moderation_queue_inflow", "effect": 0.4, "margin": 0.15},  # smaller shift
        {"shifted": "reviewers_online", "effect": -0.25, "margin": 0.15},
        {"shifted": "moderation_queue_inflow", "effect": 0.9, "margin": 0.3, "noise": 0.15},
        {"shifted": "reviewers_online", "effect": -0.45, "volume": 0.6},
        {"shifted": "moderation_queue_inflow", "effect": 0.5, "onset_hour": 8, "days": 6},
    ],
    "seasonal_decoy": [
        {"effect": 0.05},
        {"metric": "user_report_rate", "diurnal": 0.6, "effect": 0.04},
        {"effect": 0.02, "weekly": 0.4, "gap_hours": 3},  # small but real, close to the decoy
        {"metric": "raw_ip_log_rate", "effect": 0.03, "diurnal": 0.5},
        {"diurnal": 0.4, "weekly": 0.2, "gap_hours": 6, "scope": {}},
        {"metric": "user_report_rate", "effect": 0.035, "noise": 0.12, "days": 10},
        {"gap_hours": 5, "filters": True},
    ],
    "external_surge": [
        {"segment": {"region": "LATAM"}},
        {"segment": {"region": "LATAM"}, "effect": 0.02, "ramp_hours": 2.0},  # small, slow ramp
        {"segment": {"region": "APAC"}},
        {"segment": {"platform": "android", "region": "LATAM"}, "effect": 0.07, "volume": 1.2},
        {"segment": {"region": "LATAM"}, "effect": 0.04, "ramp_hours": 0.5, "filters": True},
        {"segment": {"region": "EU"}, "effect": 0.025, "noise": 0.15},
        {"segment": {"region": "LATAM"}, "volume": 0.6, "effect": 0.05},
    ],
    "delayed_config": [
        {"delay": 1},
        {"delay": 2},
        {"delay": 1, "grain": "day", "effect": 0.04},
        {"delay": 2, "grain": "day"},
        {"delay": 2, "metric": "deletion_completion_rate"},
        {"delay": 1, "effect": 0.03, "noise": 0.06},  # small but real
        {"delay": 2, "metric": "deletion_completion_rate", "effect": -0.04, "filters": True},
    ],
    "null_incident": [
        {"metric": "raw_ip_log_rate"},
        {"metric": "user_report_rate", "experiment": True},
        {"metric": "deletion_sla_breach_rate", "blip": 3.5, "blip_buckets": 2},
        {"metric": "consent_reject_rate", "experiment": True},
        {"metric": "trackers_before_consent_rate", "blip": 2.0, "noise": 0.2},
        {"metric": "user_report_rate", "blip": 3.0, "volume": 0.6},
        {"metric": "trackers_before_consent_rate", "experiment": True, "blip_buckets": 2},
    ],
    "metric_drop": [
        {},
        {"metric": "deletion_completion_rate"},
        {"effect": -0.045, "noise": 0.06, "scope": {"platform": "android"}},  # small but real
        {"metric": "deletion_completion_rate", "effect": -0.1, "scope": {"platform": "web", "region": "EU"}},
        {"metric": "consent_reject_rate", "effect": -0.1},
        {"effect": -0.15, "volume": 0.6, "filters": True},
        {"metric": "consent_reject_rate", "effect": -0.12, "onset_hour": 21, "scope": {"platform": "android"}},
    ],
    "graph_period_shift": [
        {"shifted": "reviewers_online"},
        {"shifted": "reports_received"},
        {"shifted": "auto_action_rate"},
        {"shifted": "reviewers_online", "effect": -0.08, "noise": 0.08},  # small but real
        {"shifted": "auto_action_rate", "effect": -0.05, "window_days": 61},  # two months, a smaller shift
        {"shifted": "reports_received", "effect": 0.1, "reference_days": 120},
    ],
    "graph_last_bucket": [
        {"spiked": "consent_db_latency_ms"},
        {"spiked": "consent_cache_miss_rate"},
        {"spiked": "geo_lookup_latency_ms"},
        {"spiked": "consent_db_latency_ms", "effect": 0.6, "noise": 0.12},  # small but real
        {"spiked": "geo_lookup_latency_ms", "effect": 0.8, "days": 1},
        {"spiked": "consent_cache_miss_rate", "effect": 1.5, "noise": 0.1},
    ],
}


HOLDOUT_OFFSET = 100  # held-out seeds: the same variants, other random draws (never looked at while tuning)


def suite_specs(size: str = "small", *, holdout: bool = False) -> list[ScenarioSpec]:
    """Every suite scenario; even seeds give the responder's window, odd seeds leave it to the engine.

    `holdout`: the same variants drawn from seeds offset by HOLDOUT_OFFSET (names ``family-hNN``), to check
    that what was improved on the suite carries over to scenarios nobody tuned on.
    """
    specs = []
    for family in FAMILIES:
        for i, params in enumerate(VARIANTS[family]):
            seed = i + 1
            full = {"window": seed % 2 == 0, **params}
            name = f"{family}-h{seed:02d}" if holdout else f"{family}-{seed:02d}"
            specs.append(ScenarioSpec(name=name, family=family, seed=seed + (HOLDOUT_OFFSET if holdout else 0),
                                      size=size, params=full))
    return specs


def write_suite(out: Path, *, size: str = "small", only: str | None = None, holdout: bool = False
                ) -> list[ScenarioSpec]:
    """Generate every spec (or those whose name contains ``only``) under ``out`` plus ``suite.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = [s for s in suite_specs(size, holdout=holdout) if only is None or only in s.name]
    for spec in specs:
        start = time.perf_counter()
        generate(spec.family, seed=spec.seed, size=spec.size, out=out / spec.name, **spec.params)
        print(f"{spec.name}: {time.perf_counter() - start:.1f}s", file=sys.stderr)
    manifest = {"size": size, "holdout": holdout,
                "scenarios": [s.model_dump() for s in suite_specs(size, holdout=holdout)]}
    (out / "suite.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return specs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.suite", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("evals/scenarios"))
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--only", help="generate only scenarios whose name contains this text")
    parser.add_argument("--holdout", action="store_true", help="the held-out seeds instead of the suite's")
    args = parser.parse_args(argv)
    specs = write_suite(args.out, size=args.size, only=args.only, holdout=args.holdout)
    print(f"wrote {len(specs)} scenarios to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
