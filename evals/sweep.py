"""A stress sweep on seeds the suite never uses: every family at a quarter and twice the usual volume, with
and without the responder's filter. The engine was never tuned on these; they check that its accuracy is not
an artefact of the suite's seeds.

    python -m evals.sweep --out evals/scenarios/sweep [--seeds 2] [--volumes 0.25,2] [--only FAMILY]
    python -m evals.run --scenarios evals/scenarios/sweep --no-baselines --out /tmp/sweep

Each scenario's ``truth.json`` names its family, so ``evals.run`` groups the scores without a manifest.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from evals.generator import FAMILIES, generate

FIRST_SEED = 900  # the suite uses 1-7 and the held-out seeds 101-107


def sweep_names(*, seeds: int, volumes: list[float], only: str | None = None
                ) -> list[tuple[str, str, int, float, bool]]:
    """(name, family, seed, volume, filters) for every scenario of the sweep, in a fixed order."""
    out = []
    families = [f for f in sorted(FAMILIES) if only is None or only == f]
    for i, (family, volume, filters, k) in enumerate(itertools.product(families, volumes, (True, False),
                                                                        range(seeds))):
        name = f"{family}-s{k + 1}-v{volume:g}-{'filtered' if filters else 'all'}"
        out.append((name, family, FIRST_SEED + i, volume, filters))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.sweep", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("evals/scenarios/sweep"))
    parser.add_argument("--seeds", type=int, default=2, help="scenarios per family, volume and filter setting")
    parser.add_argument("--volumes", default="0.25,2", help="comma-separated volume factors (1 = the suite's)")
    parser.add_argument("--only", choices=sorted(FAMILIES), help="one family only")
    args = parser.parse_args(argv)
    try:
        volumes = [float(v) for v in args.volumes.split(",") if v.strip()]
    except ValueError:
        print(f"error: --volumes: expected numbers separated by commas, got {args.volumes!r}", file=sys.stderr)
        return 2
    names = sweep_names(seeds=args.seeds, volumes=volumes, only=args.only)
    for name, family, seed, volume, filters in names:
        generate(family, seed=seed, size="small", out=args.out / name, volume=volume, filters=filters)
    print(f"wrote {len(names)} scenarios to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
