"""Benchmark the SQL guard on the shared legit corpus (parse + checks + qualify + PII + transpile).

Run: .venv/bin/python bench/bench_guard.py [--rounds N] [--write-dialect duckdb]
Prints median / p95 / max milliseconds per query over all (query, round) pairs, both wall clock and the
thread's CPU time (the latter is the honest number on a shared, busy machine); target median < 2 ms.
Each call is cold apart from the per-policy compile cache: no query results are cached.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tools.sql_guard_cases import MAX_ROWS, PII, SCHEMA, hostile_cases, legit_cases  # noqa: E402
from tools.sql_guard import GuardPolicy, guard_sql  # noqa: E402


def _percentile(sorted_ms: list[float], q: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


def _measure(queries: list[str], policy: GuardPolicy, rounds: int) -> tuple[list[float], list[float]]:
    """Sorted (wall, cpu) milliseconds per call."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for sql in queries:
            start_cpu = time.thread_time()
            start = time.perf_counter()
            guard_sql(sql, policy=policy)
            wall.append((time.perf_counter() - start) * 1000.0)
            cpu.append((time.thread_time() - start_cpu) * 1000.0)
    return sorted(wall), sorted(cpu)


def _line(ms: list[float]) -> str:
    return f"median {statistics.median(ms):6.3f}  p95 {_percentile(ms, 0.95):6.3f}  max {ms[-1]:7.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the corpus (default 20)")
    parser.add_argument("--write-dialect", default="duckdb", help="warehouse dialect to transpile to")
    args = parser.parse_args()
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # hostile corpus triggers parser warnings

    policy = GuardPolicy(
        read_dialect="duckdb", write_dialect=args.write_dialect, schema=SCHEMA, pii=PII, max_rows=MAX_ROWS
    )
    refused = [c.id for c in legit_cases() if not guard_sql(c.sql, policy=policy).ok]
    if refused:  # e.g. a DuckDB-only construct with no equivalent in the target dialect
        print(f"note: {len(refused)} legit case(s) refused when writing {args.write_dialect}: {refused}")
    legit = [case.sql for case in legit_cases() if case.id not in refused]
    hostile = [case.sql for case in hostile_cases()]

    _measure(legit, policy, 2)  # warm-up: imports, dialect tables, compiled policy
    print(f"ms per query, read duckdb -> write {args.write_dialect}, {args.rounds} rounds")
    for label, queries in (("legit", legit), ("hostile", hostile)):
        wall, cpu = _measure(queries, policy, args.rounds)
        print(f"{label:8s} {len(queries):4d} queries  wall: {_line(wall)}   cpu: {_line(cpu)}")


if __name__ == "__main__":
    main()
