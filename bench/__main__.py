"""``make bench``: every benchmark of the project, one after the other (each prints its own table)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("SQL guard: validation time per query", ["bench_guard.py"]),
    ("Incident memory: recall@3, query p95, ingest throughput", ["bench_memory.py", "--n", "100000"]),
    ("dowhy.gcm upstream attribution: tuned vs default mechanisms", ["bench_upstream.py"]),
    ("Anomaly detector: false alarms on noise and power by days of history", ["bench_detector.py"]),
    ("Engine: rca investigate wall time and peak memory", ["bench_engine.py"]),
    ("Agent: its own overhead per investigation beside the engine's time", ["bench_agent.py"]),
    ("HTTP service: warm investigation, 50 clients x 60 s", ["bench_service.py"]),
]


def main() -> int:
    failed = 0
    for title, argv in BENCHES:
        script = HERE / argv[0]
        print(f"\n== {title} ==", flush=True)
        if not script.exists():
            print(f"(missing {script.name})")
            continue
        failed += subprocess.call([sys.executable, str(script), *argv[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
