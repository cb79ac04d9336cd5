"""Benchmark the incident memory: retrieval quality per embedding, load time, ingest rate, query latency.

    .venv/bin/python bench/bench_memory.py                 # quality + a 20k-incident store (~1-2 min)
    .venv/bin/python bench/bench_memory.py --n 100000      # the 100k target (store built once in a temp dir)
    .venv/bin/python bench/bench_memory.py --store /tmp/mem100k --n 100000   # reuse a built store

Quality: recall@3 on evals/retrieval_set.jsonl over evals/retrieval_corpus.jsonl, through the real store,
for each embedding that loads here (dense, lexical) and two dense+lexical fusions computed from both
stores' full rankings. recall@3 = mean over queries of |relevant in top 3| / min(|relevant|, 3).

Scale: N synthetic incidents go into a real Chroma store. By default the real model embeds a pool of
distinct synthetic incidents (``--pool``) and the rest of the N vectors are those pool vectors plus
small noise (renormalised), added as precomputed embeddings: query latency depends on the index size,
and embedding 100k texts would burn ~30 min of CPU on this 2-core machine. ``--embed-all`` embeds
every incident for real through ``IncidentMemory.upsert`` instead. Queries then go through
``IncidentMemory.search`` (real query embedding + HNSW), and p50/p95 latency is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.memory import (  # noqa: E402
    HistoryIncident,
    IncidentMemory,
    MemoryUnavailable,
    embeddings,  # noqa: E402
    parse_history,
)
from tools.memory.store import incident_document, incident_metadata  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "evals" / "retrieval_corpus.jsonl"
QUERIES = ROOT / "evals" / "retrieval_set.jsonl"


def load_queries() -> list[dict]:
    return [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]


def score_rankings(rankings: list[list[str]], queries: list[dict]) -> dict[str, float]:
    """recall@3, hit@1 and MRR@10 overall and per query style."""
    recall, hit1, mrr = [], [], []
    by_style: dict[str, list[float]] = {}
    for ranked, query in zip(rankings, queries, strict=True):
        relevant = set(query["relevant"])
        r3 = len(relevant & set(ranked[:3])) / min(len(relevant), 3)
        recall.append(r3)
        by_style.setdefault(query["style"], []).append(r3)
        hit1.append(1.0 if ranked and ranked[0] in relevant else 0.0)
        mrr.append(next((1 / (i + 1) for i, x in enumerate(ranked[:10]) if x in relevant), 0.0))
    out = {"recall@3": statistics.mean(recall), "hit@1": statistics.mean(hit1), "mrr@10": statistics.mean(mrr)}
    out.update({f"recall@3[{style}]": statistics.mean(v) for style, v in by_style.items()})
    return out


def fuse(a: dict[str, float], b: dict[str, float], *, how: str, weight: float = 0.2) -> list[str]:
    """Fuse two id->score maps: 'blend' = (1-w)*a + w*b, 'rrf' = reciprocal rank fusion (k=60)."""
    ids = set(a) | set(b)
    if how == "blend":
        fused = {i: (1 - weight) * a.get(i, 0.0) + weight * b.get(i, 0.0) for i in ids}
    else:
        rank_a = {i: r for r, i in enumerate(sorted(a, key=a.get, reverse=True))}  # type: ignore[arg-type]
        rank_b = {i: r for r, i in enumerate(sorted(b, key=b.get, reverse=True))}  # type: ignore[arg-type]
        fused = {i: 1 / (61 + rank_a.get(i, len(a))) + 1 / (61 + rank_b.get(i, len(b))) for i in ids}
    return sorted(fused, key=fused.get, reverse=True)  # type: ignore[arg-type]


def quality(workdir: Path) -> dict[str, dict[str, float]]:
    """Retrieval quality of every embedding that loads here, through the real store."""
    queries = load_queries()
    corpus, errors = parse_history(CORPUS)
    assert not errors, errors
    print(f"\n== retrieval quality: {len(queries)} queries over {len(corpus)} incidents ==")
    full: dict[str, list[dict[str, float]]] = {}
    results: dict[str, dict[str, float]] = {}
    for kind in ("dense", "lexical"):
        t0 = time.perf_counter()
        try:
            memory = IncidentMemory.open(path=workdir / f"quality-{kind}", embedding=kind)
        except MemoryUnavailable as exc:
            print(f"{kind:8s} unavailable: {exc}")
            continue
        t1 = time.perf_counter()
        memory.upsert(corpus)
        t2 = time.perf_counter()
        latencies, per_query = [], []
        for query in queries:
            q0 = time.perf_counter()
            hits = memory.search(text=query["query"], k=len(corpus))
            latencies.append(time.perf_counter() - q0)
            per_query.append({h.id: h.score for h in hits})
        full[kind] = per_query
        rankings = [sorted(s, key=s.get, reverse=True) for s in per_query]  # type: ignore[arg-type]
        results[kind] = score_rankings(rankings, queries) | {
            "open_s": t1 - t0, "ingest_s": t2 - t1, "query_ms_p50": 1000 * statistics.median(latencies)}
        print(f"{kind:8s} {memory.embedding_description}: open {t1 - t0:.2f}s, "
              f"ingest {len(corpus)} in {t2 - t1:.2f}s ({len(corpus) / (t2 - t1):.0f}/s)")
    if "dense" in full and "lexical" in full:
        for name, how, weight in (("blend 0.8/0.2", "blend", 0.2), ("rrf", "rrf", 0.0)):
            rankings = [fuse(d, lx, how=how, weight=weight) for d, lx in zip(full["dense"], full["lexical"],
                                                                                 strict=True)]
            results[f"dense+lexical {name}"] = score_rankings(rankings, queries)
    for name, metrics in results.items():
        styles = "  ".join(f"{k[9:-1]}={v:.3f}" for k, v in metrics.items() if k.startswith("recall@3["))
        print(f"  {name:26s} recall@3={metrics['recall@3']:.3f}  hit@1={metrics['hit@1']:.3f}  "
              f"mrr@10={metrics['mrr@10']:.3f}  ({styles})")
    return results


# ---- synthetic incidents for the scale test -------------------------------------------------------
SYSTEMS = ["analytics collector", "consent service", "erasure worker", "tag manager", "ads SDK", "log shipper",
           "moderation queue", "report API", "age gate", "retention sweeper", "data lake ingestion",
           "session replay", "push service", "search service", "DSAR exporter", "CDN edge worker",
           "messaging service", "recommendation ranker", "hash matcher", "profile service"]
SYMPTOMS = ["raw IP addresses in logs", "trackers firing before consent", "deletion requests past SLA",
            "reject-all rate jump", "report rate spike", "review backlog growth", "under-13 sign-ups",
            "logs kept past retention", "unmasked emails in events", "precise location shared",
            "advertising ID sent without permission", "audit log gap", "appeals backlog",
            "false positive removals", "spam account surge", "cookies set before opt-in",
            "consent receipts missing", "cross-region replication of EU data", "block list bypass",
            "sensitive content in recommendations"]
CAUSES = ["a deploy removed a validation step", "a config flag was flipped in one region",
          "an experiment arm skipped the check", "an upstream vendor API started failing",
          "a schema migration renamed a field", "a scheduler migration dropped a job",
          "an SDK upgrade changed a default", "a translation push swapped strings",
          "a capacity shortfall at a vendor site", "a cache was never invalidated"]
PLATFORMS = ["android", "ios", "web", "tv", "desktop"]
REGIONS = ["EU", "US", "BR", "IN", "APAC", "FR", "DE", "CA"]
METRICS = ["raw_ip_share", "pre_consent_tracker_rate", "deletion_sla_breach_rate", "consent_reject_rate",
           "report_rate", "moderation_backlog", "underage_signup_rate", "retention_violation_count"]
KINDS = ["change", "experiment", "upstream", "segment"]


def synthetic_incident(i: int, rng: random.Random) -> HistoryIncident:
    system, symptom, cause = rng.choice(SYSTEMS), rng.choice(SYMPTOMS), rng.choice(CAUSES)
    platform, region = rng.choice(PLATFORMS), rng.choice(REGIONS)
    opened = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(6 * 365 * 24))
    kind = rng.choice(KINDS)
    return HistoryIncident(
        id=f"SYN-{i:06d}", title=f"{symptom.capitalize()} on {platform} in {region}",
        description=f"The {system} showed {symptom} for {platform} users in {region} "
                    f"starting with release {rng.randrange(1, 40)}.{rng.randrange(0, 20)}.",
        metric=rng.choice(METRICS), opened_at=opened, closed_at=opened + timedelta(hours=rng.randrange(2, 200)),
        severity=f"SEV{rng.randrange(1, 5)}",
        root_cause={"kind": kind, "id": f"{kind}-{rng.randrange(10_000)}", "summary": f"{cause.capitalize()}."},
        postmortem=f"Fixed in the {system}; added a check so {symptom} pages the on-call.")


def build_store(memory: IncidentMemory, *, n: int, pool: int, embed_all: bool, seed: int = 7) -> dict[str, float]:
    """Fill the store with n synthetic incidents; returns measured ingest throughputs."""
    rng = random.Random(seed)
    stats: dict[str, float] = {}
    start = memory.count()
    if embed_all or n <= pool:
        t0 = time.perf_counter()
        batch: list[HistoryIncident] = []
        for i in range(start, n):
            batch.append(synthetic_incident(i, rng))
            if len(batch) == 1000:
                memory.upsert(batch)
                batch = []
                print(f"   {i + 1}/{n} embedded+stored ({(i + 1 - start) / (time.perf_counter() - t0):.0f}/s)",
                      flush=True)
        memory.upsert(batch)
        stats["ingest_embedded_per_s"] = (n - start) / (time.perf_counter() - t0)
        return stats
    collection = memory._collection  # the bench adds precomputed vectors, which the public API does not expose
    function = collection._embedding_function
    assert function is not None
    pool_items = [synthetic_incident(i, rng) for i in range(pool)]
    t0 = time.perf_counter()
    memory.upsert(pool_items)
    stats["ingest_embedded_per_s"] = pool / (time.perf_counter() - t0)
    print(f"   pool of {pool} embedded+stored: {stats['ingest_embedded_per_s']:.0f} incidents/s", flush=True)
    pool_vectors = np.asarray(collection.get(ids=[p.id for p in pool_items], include=["embeddings"])["embeddings"])
    nprng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    done = 0
    for lo in range(max(start, pool), n, 5000):
        hi = min(n, lo + 5000)
        items = [synthetic_incident(i, rng) for i in range(lo, hi)]
        base = pool_vectors[nprng.integers(0, pool, size=hi - lo)]
        vectors = base + nprng.normal(0, 0.02, size=base.shape)  # cos(noisy, base) ~ 0.93
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        collection.upsert(ids=[x.id for x in items], embeddings=vectors.astype(np.float32),
                          documents=[incident_document(x) for x in items],
                          metadatas=[incident_metadata(x) for x in items])  # type: ignore[arg-type]
        done += hi - lo
        print(f"   {hi}/{n} stored ({done / (time.perf_counter() - t0):.0f}/s precomputed vectors)", flush=True)
    if done:
        stats["ingest_precomputed_per_s"] = done / (time.perf_counter() - t0)
    return stats


def scale(*, n: int, pool: int, store: Path | None, embed_all: bool, queries: int) -> dict[str, float]:
    """Build (or reuse) an n-incident store and measure load time and query latency."""
    print(f"\n== scale: {n} incidents ==")
    tmp = None
    if store is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
        store = tmp / "store"
    try:
        t0 = time.perf_counter()
        memory = IncidentMemory.open(path=store, embedding="dense")
        stats: dict[str, float] = {"open_s": time.perf_counter() - t0}
        print(f"   open (model load + client): {stats['open_s']:.2f}s; {memory.count()} already stored")
        if memory.count() < n:
            t0 = time.perf_counter()
            stats |= build_store(memory, n=n, pool=pool, embed_all=embed_all)
            stats["build_s"] = time.perf_counter() - t0
        texts = [q["query"] for q in load_queries()]
        t0 = time.perf_counter()
        memory.search(text=texts[0], k=3)
        stats["first_query_ms"] = 1000 * (time.perf_counter() - t0)
        print(f"   first query after open (loads the index): {stats['first_query_ms']:.0f} ms")
        rng = random.Random(3)
        timings: dict[str, list[tuple[float, float]]] = {"query": [], "query+metric filter": []}
        for i in range(queries):
            text = texts[i % len(texts)] if i % 2 else synthetic_incident(10**6 + i, rng).title
            for name, metric in (("query", None), ("query+metric filter", METRICS[i % len(METRICS)])):
                w0, c0 = time.perf_counter(), time.process_time()
                memory.search(text=text, k=3, metric=metric)
                timings[name].append((1000 * (time.perf_counter() - w0), 1000 * (time.process_time() - c0)))
        print(f"   (load average while timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              "cpu = process CPU time per query, what it costs on an idle core)")
        for name, pairs in timings.items():
            wall = sorted(w for w, _ in pairs)
            cpu = sorted(c for _, c in pairs)
            p50, p95 = wall[len(wall) // 2], wall[int(0.95 * (len(wall) - 1))]
            c50, c95 = cpu[len(cpu) // 2], cpu[int(0.95 * (len(cpu) - 1))]
            stats[f"{name} p50_ms"], stats[f"{name} p95_ms"] = p50, p95
            stats[f"{name} cpu_p50_ms"], stats[f"{name} cpu_p95_ms"] = c50, c95
            print(f"   {name:20s} wall p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {wall[-1]:.1f} ms | "
                  f"cpu p50 {c50:.1f} ms  p95 {c95:.1f} ms  ({len(pairs)} queries)")
        stats["count"] = memory.count()
        for key in ("ingest_embedded_per_s", "ingest_precomputed_per_s"):
            if key in stats:
                print(f"   {key}: {stats[key]:.0f} incidents/s")
        return stats
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


ENGINE_PATH = """
import sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
from tools.memory import IncidentMemory
t1 = time.perf_counter()
memory = IncidentMemory.open(path=Path(tempfile.mkdtemp()) / "memory")
t2 = time.perf_counter()
report = memory.ingest_file(Path(sys.argv[1]))
t3 = time.perf_counter()
hits = memory.search(text="Under-13 sign-ups jumped after a sign-up change in one region", k=3)
t4 = time.perf_counter()
memory.search(text="Trackers load before the consent banner is answered", k=3)
t5 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f} {t5 - t4:.3f} {report.ingested} {memory.embedding}")
"""


def engine_path(history: Path) -> dict[str, float]:
    """What one investigation pays, in a fresh process: import, open (model load), ingest, searches."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", ENGINE_PATH, str(history)], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    keys = ["import_s", "open_s", "ingest_s", "first_search_s", "second_search_s"]
    stats = dict(zip(keys, map(float, out[:5]), strict=True))
    print(f"\n== engine path (fresh process, {out[5]} incidents from {history.name}, {out[6]}) ==")
    print("   " + "  ".join(f"{k} {v:.3f}" for k, v in stats.items()))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="incidents in the scale test (default 20000)")
    parser.add_argument("--pool", type=int, default=1_000, help="distinct incidents embedded for real")
    parser.add_argument("--embed-all", action="store_true", help="embed every incident for real (slow)")
    parser.add_argument("--store", type=Path, default=None, help="reuse/keep the scale store in this folder")
    parser.add_argument("--queries", type=int, default=200, help="queries timed in the scale test")
    parser.add_argument("--threads", type=int, default=embeddings.DEFAULT_THREADS,
                        help="onnxruntime threads for the dense model (default %(default)s)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    args = parser.parse_args()
    embeddings.DEFAULT_THREADS = args.threads
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-q-") as tmp:
        history = Path(tmp) / "history.jsonl"  # a scenario-sized history: 5 past incidents
        history.write_text("".join(CORPUS.read_text().splitlines(keepends=True)[:5]))
        out["engine_path"] = engine_path(history)
        if not args.skip_quality:
            out["quality"] = quality(Path(tmp))
    if not args.skip_scale:
        out["scale"] = scale(n=args.n, pool=args.pool, store=args.store, embed_all=args.embed_all,
                             queries=args.queries)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
