"""Where the external benchmark datasets are found (they are not shipped in the repository)."""

from __future__ import annotations

import os
from pathlib import Path


def benchmark_dir(name: str, env: str) -> Path:
    """``$env``, else ``shared/benchmarks/<name>`` beside the repository (as in CI), else the workspace copy."""
    given = os.environ.get(env)
    if given:
        return Path(given)
    beside = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / name
    return beside if beside.is_dir() else Path("/work/shared/benchmarks") / name
