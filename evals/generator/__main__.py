"""CLI: ``python -m evals.generator --family NAME --seed N --size small|large --out DIR [--param k=v ...]``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from evals.generator import FAMILIES, generate
from evals.generator.common import SIZES


def _param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.generator", description=__doc__)
    parser.add_argument("--family", required=True, choices=sorted(FAMILIES))
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--param", type=_param, action="append", default=[],
                        help="family parameter as key=value (value parsed as JSON when it can be)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = generate(args.family, seed=args.seed, size=args.size, out=args.out, **dict(args.param))
    print(f"wrote {path} in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
