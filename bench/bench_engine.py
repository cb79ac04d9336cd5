"""Engine speed: wall time and peak memory of ``rca investigate DIR --json`` as a fresh process.

Targets (issue "The causal RCA engine"): ~120k event rows and ~5 candidate changes under 10 s wall,
process start included; ~2.3M rows under 30 s with peak RSS under 2 GB.
Usage: python bench/bench_engine.py [--sizes target,medium,large] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RCA = Path(sys.executable).with_name("rca")
CASES = {  # name -> (family, size, params)
    "target": ("pii_leak_deploy", "small", {"volume": 6.0}),   # the issue's ~120k rows (9 changes: the fewest here)
    "medium": ("pii_leak_deploy", "small", {"volume": 8.0}),
    "large": ("pii_leak_deploy", "large", {"volume": 1.15}),   # the issue's ~2.3M rows
}


def rows_in(folder: Path) -> int:
    total = 0
    for f in (folder / "data").iterdir():
        if f.suffix == ".csv":
            with f.open() as fh:
                total += sum(1 for _ in csv.reader(fh)) - 1
        elif f.suffix == ".parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(f).metadata.num_rows
    return total


def run_case(name: str, out: Path) -> dict[str, object]:
    family, size, params = CASES[name]
    from evals.generator import generate

    folder = generate(family, seed=11, size=size, out=out / name, **params)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([str(RCA), "investigate", str(folder), "--json", "--quiet"], capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - t0
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    ok = proc.returncode == 0
    report = json.loads(proc.stdout) if ok else {}
    n_changes = sum(1 for e in report.get("root_causes", []) if e["kind"] == "change")
    return {"case": name, "rows": rows_in(folder), "changes": n_changes, "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak_mb), "ok": ok, "error": proc.stderr.strip()[-300:] if not ok else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="target,medium,large")
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="rca-bench-"))
    print(f"{'case':8} {'rows':>9} {'changes':>7} {'wall s':>7} {'peak MB':>8}  status")
    for name in args.sizes.split(","):
        r = run_case(name, out)
        print(f"{r['case']:8} {r['rows']:>9} {r['changes']:>7} {r['wall_s']:>7} {r['peak_rss_mb']:>8}  "
              f"{'ok' if r['ok'] else 'FAILED ' + str(r['error'])}")


if __name__ == "__main__":
    main()
