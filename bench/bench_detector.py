"""Anomaly detector: false alarms on pure noise and power on a small shift, by days of history.

Why: the detector's threshold (MIN_SCORE) promises about 1 false alarm in 100 noise series; that only holds
if the residual noise scale is honest. Series: an hourly rate (base 3%, a daily rhythm of +-1 point, about 200
rows an hour), detected at the last bucket. Power: the same with +1.2 points (one noise sd) over the last
12 hours. The score is the detector's run excess, so one run shows the trade-off at several thresholds.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.anomaly import MIN_SCORE, _fast_best_run, find_anomaly  # noqa: E402

START = datetime(2026, 3, 1)
HOUR = timedelta(hours=1)


def run_scores(days: int, shift: float, n_series: int, hours_shifted: int = 12) -> np.ndarray:
    """The best run's excess on each of `n_series` synthetic series."""
    out = []
    for seed in range(n_series):
        rng = np.random.default_rng(seed + 1000 * days)
        hours = days * 24
        buckets = pd.date_range(START, periods=hours, freq="h")
        n = rng.poisson(200, hours)
        p = 0.03 + 0.01 * np.sin(2 * np.pi * buckets.hour.to_numpy() / 24)
        p[-hours_shifted:] += shift
        frame = pd.DataFrame({"bucket": buckets, "value": rng.binomial(n, p) / n, "n": n})
        a = find_anomaly(frame, grain="hour", higher_is_worse=True, detected_at=START + (hours - 1) * HOUR)
        score, _, _ = _fast_best_run(a.series["z"].to_numpy(), hours - 1, hours - 25)
        out.append(score)
    return np.asarray(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=150, help="series per cell (default 150)")
    args = ap.parse_args()
    thresholds = (8.0, MIN_SCORE, 5.0, 4.0)
    head = " ".join(f"@{t:g}" for t in thresholds)
    print(f"days  false alarms {head:>22}   power (+1 sd, 12 h) {head:>22}")
    for days in (3, 4, 5, 10):
        noise, shifted = run_scores(days, 0.0, args.series), run_scores(days, 0.012, args.series)
        fp = " ".join(f"{(noise >= t).mean():5.3f}" for t in thresholds)
        pw = " ".join(f"{(shifted >= t).mean():5.2f}" for t in thresholds)
        print(f"{days:>4}  {'':12} {fp:>22}   {'':19} {pw:>22}")


if __name__ == "__main__":
    main()
