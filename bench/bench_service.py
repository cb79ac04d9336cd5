"""The HTTP service under load, as deployed: uvicorn in its own process, SQLite state, real API keys.

1. Warm investigation: a ~120k-row scenario investigated repeatedly through the API; the engine time inside
   the warm process (run_ms) and the client's POST-to-done time. Issue target: median <= 1.5 s.
2. Load: 50 concurrent clients for 60 s, a mix of reads (lists, one incident, one investigation), creates
   (incidents) and investigations; then every investigation is followed to done/failed. Targets: zero 5xx,
   p99 of reads under 100 ms, no investigation lost.
Usage: python bench/bench_service.py [--runs 7] [--clients 50] [--seconds 60] [--investigations 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate(out: Path, volume: float) -> int:
    subprocess.run([sys.executable, "-m", "evals.generator", "--family", "pii_leak_deploy", "--seed", "1",
                    "--size", "small", "--out", str(out), "--param", f"volume={volume}"], check=True, cwd=ROOT,
                   capture_output=True)
    return sum(sum(1 for _ in f.open()) - 1 for f in (out / "data").glob("*.csv"))


class Service:
    """uvicorn serving api.main:app over one workspace, with an admin key minted by `rca keys create`."""

    def __init__(self, workspace: Path, state: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "RCA_WORKSPACE_DIR": str(workspace),
                    "RCA_APP_DB_URL": f"sqlite:///{state / 'rca.db'}", "RCA_CHROMA_PATH": str(state / "memory"),
                    "RCA_EMBEDDING": "lexical", "RCA_RATE_LIMIT_PER_MINUTE": "10000000"}
        out = subprocess.run([sys.executable, "-c", "from api.cli import app; app()", "keys", "create", "--name",
                              "bench", "--role", "admin"], env=self.env, capture_output=True, text=True, check=True)
        self.headers = {"Authorization": f"Bearer {out.stdout.strip()}"}
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(self.port),
                                      "--log-level", "warning", "--timeout-keep-alive", "75",
                                      "--backlog", "1024"], env=self.env, cwd=ROOT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("service did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def wait_done(client: httpx.Client, location: str, headers: dict[str, str], timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(location, headers=headers).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise TimeoutError(location)


def warm_investigations(runs: int, volume: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="rca-bench-svc-") as tmp:
        ws = Path(tmp) / "ws"
        rows = generate(ws, volume)
        incident = json.loads((ws / "incident.json").read_text())
        svc = Service(ws, Path(tmp))
        try:
            with httpx.Client(base_url=svc.base, timeout=60) as c:
                assert c.post("/api/v1/incidents", json=incident, headers=svc.headers).status_code == 201
                engine_ms, e2e_ms = [], []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    r = c.post(f"/api/v1/incidents/{incident['id']}/investigations", headers=svc.headers)
                    body = wait_done(c, r.headers["location"], svc.headers)
                    e2e_ms.append((time.perf_counter() - t0) * 1000)
                    assert body["status"] == "done", body["error"]
                    engine_ms.append(body["run_ms"])
                top = body["report"]["root_causes"][0]["id"]
        finally:
            svc.stop()
    return {"rows": rows, "runs": runs, "first_engine_ms": engine_ms[0],
            "median_engine_ms": statistics.median(engine_ms[1:] or engine_ms),
            "median_e2e_ms": statistics.median(e2e_ms[1:] or e2e_ms), "min_engine_ms": min(engine_ms),
            "top_cause": top}


async def client_loop(i: int, c: httpx.AsyncClient, headers: dict[str, str], until: float, stats: dict,
                      incident_id: str, launch_at: float | None) -> None:
    """One client; a dropped connection is counted (not a 5xx) and the client carries on."""
    while time.monotonic() < until:
        try:
            launch_at = await _client_until(i, c, headers, until, stats, incident_id, launch_at)
        except httpx.TransportError as err:
            stats["transport_errors"].append(type(err).__name__)


async def _client_until(i: int, c: httpx.AsyncClient, headers: dict[str, str], until: float, stats: dict,
                        incident_id: str, launch_at: float | None) -> float | None:
    rng = random.Random(i * 1000 + len(stats["codes"]))
    while time.monotonic() < until:
        if launch_at is not None and time.monotonic() >= launch_at:
            launch_at = None
            r = await c.post(f"/api/v1/incidents/{incident_id}/investigations", headers=headers)
            stats["codes"].append(r.status_code)
            if r.status_code == 202:
                stats["investigations"].append(r.headers["location"])
            continue
        roll = rng.random()
        t0 = time.perf_counter()
        if roll < 0.85:
            choice = rng.random()
            if choice < 0.4:
                r = await c.get("/api/v1/incidents?limit=20", headers=headers)
            elif choice < 0.7:
                r = await c.get(f"/api/v1/incidents/{incident_id}", headers=headers)
            elif stats["investigations"]:
                r = await c.get(rng.choice(stats["investigations"]), headers=headers)
            else:
                r = await c.get("/api/v1/investigations?limit=20", headers=headers)
            stats["reads_ms"].append((time.perf_counter() - t0) * 1000)
        else:
            r = await c.post("/api/v1/incidents", headers=headers,
                             json={"title": f"load {i}", "detected_at": "2026-05-13T04:00:00Z", "severity": "SEV3"})
            stats["writes_ms"].append((time.perf_counter() - t0) * 1000)
        stats["codes"].append(r.status_code)
        await asyncio.sleep(rng.uniform(0.05, 0.15))  # a client's think time
    return launch_at


async def load(clients: int, seconds: float, investigations: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="rca-bench-load-") as tmp:
        ws = Path(tmp) / "ws"
        rows = generate(ws, 1.0)
        incident = json.loads((ws / "incident.json").read_text())
        svc = Service(ws, Path(tmp))
        try:
            stats: dict = {"codes": [], "reads_ms": [], "writes_ms": [], "investigations": [], "transport_errors": []}
            limits = httpx.Limits(max_connections=clients + 10)
            async with httpx.AsyncClient(base_url=svc.base, timeout=60, limits=limits) as c:
                assert (await c.post("/api/v1/incidents", json=incident, headers=svc.headers)).status_code == 201
                start = time.monotonic()
                until = start + seconds
                launches = [start + (seconds * 0.8) * k / max(investigations, 1) for k in range(investigations)]
                await asyncio.gather(*[client_loop(i, c, svc.headers, until, stats, incident["id"],
                                                   launches[i] if i < len(launches) else None)
                                       for i in range(clients)])
            t_drain = time.monotonic()
            with httpx.Client(base_url=svc.base, timeout=60) as sync:
                outcomes = [wait_done(sync, loc, svc.headers)["status"] for loc in stats["investigations"]]
                listed = sync.get(f"/api/v1/investigations?incident_id={incident['id']}&limit=500",
                                  headers=svc.headers).json()["total"]
            drain_s = time.monotonic() - t_drain
        finally:
            svc.stop()
    reads = sorted(stats["reads_ms"])
    codes = stats["codes"]
    return {"rows": rows, "clients": clients, "seconds": seconds, "requests": len(codes),
            "rps": round(len(codes) / seconds, 1), "5xx": sum(1 for x in codes if x >= 500),
            "4xx": sum(1 for x in codes if 400 <= x < 500), "reads": len(reads),
            "transport_errors": len(stats["transport_errors"]),
            "read_p50_ms": round(reads[len(reads) // 2], 1), "read_p99_ms": round(reads[int(len(reads) * 0.99)], 1),
            "write_p99_ms": round(sorted(stats["writes_ms"])[int(len(stats["writes_ms"]) * 0.99)], 1),
            "investigations": len(outcomes), "done": outcomes.count("done"), "failed": outcomes.count("failed"),
            "stored": listed, "drain_s": round(drain_s, 1)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--volume", type=float, default=6.0, help="Generator volume (6.0 = ~120k rows).")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--investigations", type=int, default=20)
    p.add_argument("--skip-warm", action="store_true")
    args = p.parse_args()
    if not args.skip_warm:
        w = warm_investigations(args.runs, args.volume)
        print(f"warm investigation, {w['rows']:,} rows, {w['runs']} runs: engine median {w['median_engine_ms']:.0f} ms "
              f"(first {w['first_engine_ms']:.0f} ms, min {w['min_engine_ms']:.0f} ms), POST-to-done median "
              f"{w['median_e2e_ms']:.0f} ms; top cause {w['top_cause']}; target <= 1500 ms: "
              f"{'met' if w['median_engine_ms'] <= 1500 else 'NOT met'}", flush=True)
    r = asyncio.run(load(args.clients, args.seconds, args.investigations))
    print(f"load: {r['clients']} clients x {r['seconds']:.0f} s on {r['rows']:,} rows: {r['requests']} requests "
          f"({r['rps']}/s), 5xx {r['5xx']}, 4xx {r['4xx']}, dropped connections {r['transport_errors']}; "
          f"reads p50 {r['read_p50_ms']} ms, p99 {r['read_p99_ms']} ms "
          f"(target < 100: {'met' if r['read_p99_ms'] < 100 else 'NOT met'}); creates p99 {r['write_p99_ms']} ms; "
          f"investigations {r['investigations']} -> {r['done']} done, {r['failed']} failed, "
          f"{r['stored']} stored (lost: {r['investigations'] - r['done'] - r['failed']}), drained in {r['drain_s']} s",
          flush=True)
    return 0 if r["5xx"] == 0 and r["investigations"] == r["done"] + r["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
