"""``make eval``: run the engine and the baselines on the scenario suite, score them and write the report.

    python -m evals.run [--size small] [--limit N] [--families a,b] [--scenarios DIR]
                        [--engine inproc|cli] [--workers 2] [--no-baselines] [--petshop]

The suite is generated into ``evals/scenarios/`` when missing. Each engine run is isolated: a failure or a
crash is recorded for that scenario and scored as wrong. Writes ``evals/results/latest.md``,
``latest.png`` and ``latest.json`` (raw per-scenario results, not committed) and prints the summary.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evals.report import ENGINE, RunMeta, render_markdown, system_order, write_chart
from evals.scorer import KeyFn, ScenarioScore, aggregate_by_family, default_key, score_scenario
from evals.separability import separability

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "evals" / "scenarios"
RESULTS = ROOT / "evals" / "results"
ENGINE_TIMEOUT_S = 300.0
DEFAULT_BASELINES = "last_change,biggest_jump,gcm_only"


class EngineTimeout(Exception):
    """An in-process investigation ran past its time limit."""


class Scenario(BaseModel):
    """A scenario folder to evaluate and the family it is reported under."""

    name: str
    family: str
    path: Path


class RunRecord(BaseModel):
    """One system on one scenario: its report (or error), how long it took, and its score."""

    scenario: str
    family: str
    system: str
    report: dict[str, Any] | None = None
    error: str | None = None
    latency_s: float | None = None
    skipped: bool = False
    score: ScenarioScore | None = None


# ---------------------------------------------------------------------------------------------------------
# finding and generating scenarios


def _family_of(path: Path, root: Path, spec_family: dict[str, str]) -> str:
    """Family from the suite spec, a ``family`` key in truth.json, the parent folder, or the name prefix."""
    if path.name in spec_family:
        return spec_family[path.name]
    try:
        truth = json.loads((path / "truth.json").read_text())
        if isinstance(truth.get("family"), str):
            return truth["family"]
    except (OSError, ValueError):
        pass
    rel = path.relative_to(root)
    if len(rel.parts) > 1:
        return rel.parts[-2]
    for sep in ("__", "-", "_"):
        if sep in path.name:
            return path.name.split(sep)[0]
    return "default"


def _suite_families(size: str) -> dict[str, str]:
    try:
        from evals.suite import suite_specs  # type: ignore[import-not-found]
    except ImportError:
        return {}
    try:
        return {spec.name: spec.family for held in (False, True) for spec in suite_specs(size, holdout=held)}
    except Exception:  # noqa: BLE001 - the suite is optional for discovery
        return {}


def discover(root: Path, *, size: str = "small") -> list[Scenario]:
    """Every folder under ``root`` (or ``root`` itself) holding catalog.yaml, incident.json and truth.json."""
    root = Path(root)
    families = _suite_families(size)
    found = []
    for truth in sorted(root.rglob("truth.json")):
        folder = truth.parent
        if (folder / "catalog.yaml").is_file() and (folder / "incident.json").is_file():
            fam = _family_of(folder, root if folder != root else root.parent, families)
            found.append(Scenario(name=folder.name, family=fam, path=folder))
    return found


def generate_suite(out: Path, *, size: str, holdout: bool = False) -> None:
    """Generate the scenario suite with the generator's own CLI (kept out of process: it may be heavy)."""
    print(f"generating the {size} {'held-out ' if holdout else ''}suite into {out} ...", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "evals.suite", "--out", str(out), "--size", size,
                    *(["--holdout"] if holdout else [])], check=True, cwd=ROOT)


# ---------------------------------------------------------------------------------------------------------
# running systems (each function runs inside a worker process)


def _worker_init() -> None:
    """Import the engine once per worker so the first scenario's latency is not import time."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import agent.investigate  # type: ignore[import-not-found]  # noqa: F401
    except Exception:  # noqa: BLE001 - reported per scenario instead
        pass


def _error_text(err: BaseException) -> str:
    """Type, message and where: the deepest project frame (and the library frame when deeper)."""
    tb = traceback.extract_tb(err.__traceback__)
    ours = [f for f in tb if f.filename.startswith(str(ROOT)) and "site-packages" not in f.filename]
    where = []
    if ours:
        where.append(f"{Path(ours[-1].filename).relative_to(ROOT)}:{ours[-1].lineno}")
    if tb and (not ours or tb[-1] is not ours[-1]):
        where.append(f"{Path(tb[-1].filename).name}:{tb[-1].lineno}")
    return f"{type(err).__name__}: {str(err).strip()[:500]}" + (f" at {' via '.join(where)}" if where else "")


def _on_alarm(signum: int, frame: Any) -> None:
    raise EngineTimeout


def run_engine_inproc(path: str, timeout_s: float = ENGINE_TIMEOUT_S
                      ) -> tuple[dict[str, Any] | None, float, str | None]:
    """In-process ``investigate_scenario``; returns (report JSON, seconds, error).

    The time limit uses SIGALRM, so it only applies in a process's main thread (pool workers and the CLI).
    """
    use_alarm = timeout_s > 0 and threading.current_thread() is threading.main_thread()
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    start = time.perf_counter()
    try:
        from agent.investigate import investigate_scenario  # type: ignore[import-not-found]

        report = investigate_scenario(Path(path))
        data = report.model_dump(mode="json") if hasattr(report, "model_dump") else dict(report)
        return data, time.perf_counter() - start, None
    except EngineTimeout:
        return None, time.perf_counter() - start, f"timed out after {timeout_s:g}s"
    except Exception as err:  # noqa: BLE001 - any failure is a wrong answer, recorded
        return None, time.perf_counter() - start, _error_text(err)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def rca_command() -> list[str]:
    """The ``rca`` console script next to this interpreter, else on PATH, else ``python -m api.cli``."""
    local = Path(sys.executable).parent / "rca"
    if local.is_file():
        return [str(local)]
    found = shutil.which("rca")
    return [found] if found else [sys.executable, "-m", "api.cli"]


def run_engine_cli(path: str, timeout_s: float = ENGINE_TIMEOUT_S
                   ) -> tuple[dict[str, Any] | None, float, str | None]:
    """``rca investigate DIR --json`` as a subprocess, so latency includes process start."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([*rca_command(), "investigate", path, "--json"], capture_output=True, text=True,
                              timeout=timeout_s, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, f"timed out after {timeout_s:g}s"
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return None, elapsed, f"exit {proc.returncode}: {tail[:500]}"
    try:
        return json.loads(proc.stdout), elapsed, None
    except ValueError as err:
        return None, elapsed, f"stdout is not JSON: {err}"


Outcome = tuple[dict[str, Any] | None, float, str | None, bool]  # report, seconds, error, skipped
BASELINES_TASK = "baselines"


def _task(system: str, path: str, engine_mode: str, timeout_s: float,
          baselines: tuple[str, ...]) -> dict[str, Outcome]:
    """One unit of pool work: the engine on a scenario, or every baseline on it (data loaded once)."""
    if system == ENGINE:
        run = run_engine_cli if engine_mode == "cli" else run_engine_inproc
        report, secs, err = run(path, timeout_s)
        return {ENGINE: (report, secs, err, False)}
    from evals.baselines import run_baselines

    return {b.name: (b.report, b.seconds, b.error, b.skipped) for b in run_baselines(Path(path), baselines)}


# ---------------------------------------------------------------------------------------------------------
# the run


def run_all(scenarios: Sequence[Scenario], *, systems: Sequence[str], engine_mode: str = "inproc",
            workers: int = 2, timeout_s: float = ENGINE_TIMEOUT_S,
            key_for: Callable[[Scenario], KeyFn] | None = None,
            progress: Callable[[str], None] | None = None) -> list[RunRecord]:
    """Every system on every scenario (in a process pool when ``workers`` > 1), each scored on its truth.

    Engine runs are queued first and the (short) baseline runs after them, so the pool ends evenly.
    """
    baselines = tuple(s for s in systems if s != ENGINE)
    jobs = [(sc, ENGINE) for sc in scenarios if ENGINE in systems]
    jobs += [(sc, BASELINES_TASK) for sc in scenarios if baselines]
    total = len(scenarios) * len(systems)
    results: dict[tuple[str, str], Outcome] = {}

    def note(sc: Scenario, outcomes: dict[str, Outcome]) -> None:
        for system, res in outcomes.items():
            results[(str(sc.path), system)] = res
            if progress:
                status = "skip" if res[3] else ("ERROR " + (res[2] or "")[:80] if res[2] else "ok")
                progress(f"[{len(results)}/{total}] {system:<13} {sc.name}: {status} ({res[1]:.1f}s)")

    def failed(names: Sequence[str], err: BaseException) -> dict[str, Outcome]:
        return {n: (None, 0.0, f"worker failed: {_error_text(err)}", False) for n in names}

    if workers <= 1:
        _worker_init()
        for sc, system in jobs:
            note(sc, _task(system, str(sc.path), engine_mode, timeout_s, baselines))
    else:
        with cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            futures = {pool.submit(_task, system, str(sc.path), engine_mode, timeout_s, baselines): (sc, system)
                       for sc, system in jobs}
            for fut in cf.as_completed(futures):
                sc, system = futures[fut]
                try:
                    outcomes = fut.result()
                except Exception as err:  # noqa: BLE001 - a dead worker is this scenario's failure
                    outcomes = failed([ENGINE] if system == ENGINE else baselines, err)
                note(sc, outcomes)

    records = []
    for sc in scenarios:
        truth = json.loads((sc.path / "truth.json").read_text())
        key = key_for(sc) if key_for else default_key
        oracle = separability(sc.path, truth)
        for system in systems:
            report, secs, err, skipped = results[(str(sc.path), system)]
            score = score_scenario(truth, report, scenario=sc.name, family=sc.family, system=system,
                                   latency_s=secs, error=err, skipped=skipped, key=key)
            if oracle is not None:
                score.separable, score.separability = oracle.separable, oracle.detail()
            records.append(RunRecord(scenario=sc.name, family=sc.family, system=system, report=report,
                                     error=err, latency_s=secs, skipped=skipped, score=score))
    return records


def git_commit() -> str:
    """Short commit hash, with ``+dirty`` when the tree has uncommitted changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=ROOT).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def summary_text(scores: Sequence[ScenarioScore]) -> str:
    """A compact plain-text table for the terminal: AC@1 / AC@3 per family and system."""
    aggs = aggregate_by_family(scores)
    systems = system_order([s.system for s in scores])
    groups = [*sorted({s.family for s in scores}), "overall"]
    width = max([len(g) for g in groups] + [8])
    lines = [f"{'family':<{width}}  " + "  ".join(f"{s[:13]:>13}" for s in systems),
             f"{'':<{width}}  " + "  ".join(f"{'AC@1 / AC@3':>13}" for _ in systems)]
    for g in groups:
        cells = []
        for s in systems:
            agg = aggs.get((s, g))
            if agg is None or not agg.n:
                cells.append(f"{'n/a':>13}")
            else:
                cells.append(f"{agg.ac[1]:>6.0%} / {agg.ac[3]:<4.0%}".rjust(13))
        lines.append(f"{g:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def write_outputs(records: Sequence[RunRecord], meta: RunMeta, *, out_dir: Path, stem: str = "latest",
                  title: str = "rca evaluation") -> tuple[Path, Path, Path]:
    """latest.md, latest.png and latest.json in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = [r.score for r in records if r.score is not None]
    png = write_chart(scores, out_dir / f"{stem}.png", title=f"{title}: AC@1 per family")
    md = out_dir / f"{stem}.md"
    md.write_text(render_markdown(scores, meta, title=title, chart=png.name))
    raw = out_dir / f"{stem}.json"
    raw.write_text(json.dumps({"meta": meta.model_dump(mode="json"),
                               "results": [r.model_dump(mode="json") for r in records]}, indent=1))
    return md, png, raw


# ---------------------------------------------------------------------------------------------------------
# PetShop (external benchmark)


def petshop_scenarios(out: Path) -> tuple[list[Scenario], Callable[[Scenario], KeyFn]]:
    """Converted PetShop issues (via ``evals.petshop``) and a key that compares components, not metrics.

    The truth names the injected component's metric; any metric of that component counts as right, so
    report ids and the truth id both go through ``evals.petshop.component_of``. Families are
    ``<traffic scenario>-<paged metric family>`` (e.g. ``low_traffic-latency``).
    """
    from evals.scorer import component_key

    try:
        import evals.petshop as petshop
    except ImportError as err:
        raise SystemExit(f"--petshop needs evals/petshop.py (the PetShop converter): {err}") from None
    scenarios = []
    for issue in petshop.issue_dirs():
        traffic, split = issue.parent.parent.name, issue.parent.name
        folder = out / f"{traffic}-{split}-{issue.name}"
        if not (folder / "truth.json").is_file():
            petshop.convert(issue, out=folder)
        metric = json.loads((folder / "incident.json").read_text()).get("metric", "")
        kind = next((f for f in petshop.FAMILIES if str(metric).endswith("_" + f)), "unknown")
        scenarios.append(Scenario(name=folder.name, family=f"{traffic}-{kind}", path=folder))
    key = component_key(petshop.component_of)
    return scenarios, lambda _sc: key


# ---------------------------------------------------------------------------------------------------------
# RS (external benchmark: the answer is a segment)

RS_BASELINES = "adtributor,hotspot,top_value_change"


def run_rs(args: argparse.Namespace) -> int:
    """Convert the RS cases (evals.riskloc), run the engine through ``rca investigate DIR --json`` and the
    segment baselines, score top-1 / top-3 / set F1 (evals.scorer.segment_set_score) and write rs.md."""
    from evals.baselines import BASELINES
    from evals.report import render_rs_markdown
    from evals.riskloc import convert_all
    from evals.scorer import segment_set_score

    started = time.perf_counter()
    root = args.scenarios or SCENARIOS / "rs"
    convert_all(root)
    scenarios = discover(root)
    if args.limit:
        scenarios = _limit(scenarios, args.limit)
    names = args.baselines if args.baselines != DEFAULT_BASELINES else RS_BASELINES
    systems = [] if args.no_engine else [ENGINE]
    if not args.no_baselines:
        for name in (b.strip() for b in names.split(",") if b.strip()):
            if name not in BASELINES:
                raise SystemExit(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
            systems.append(name)
    mode = "cli" if args.engine_default else args.engine
    records = run_all(scenarios, systems=systems, engine_mode=mode, workers=args.workers, timeout_s=args.timeout,
                      progress=None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True)))
    rows = []
    for r in records:
        truth = json.loads((next(s for s in scenarios if s.name == r.scenario).path / "truth.json").read_text())
        rows.append(segment_set_score(truth, r.report, scenario=r.scenario, system=r.system, error=r.error))
    meta = RunMeta(date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), commit=git_commit(), size="rs",
                   engine_mode=mode, scenarios=len(scenarios), wall_s=time.perf_counter() - started,
                   workers=args.workers, title="rca on RS (real stall incidents, segment localization)")
    if args.limit:
        meta.notes.append(f"partial run: --limit {args.limit}")
    args.out.mkdir(parents=True, exist_ok=True)
    md = args.out / "rs.md"
    text = render_rs_markdown(rows, meta)
    md.write_text(text)
    (args.out / "rs.json").write_text(json.dumps({"meta": meta.model_dump(mode="json"),
                                                  "results": [r.model_dump(mode="json") for r in records]},
                                                 indent=1, ensure_ascii=False))
    print(text.split("\n## Per case")[0])
    print(f"wrote {md} in {meta.wall_s:.0f} s")
    return 0


# ---------------------------------------------------------------------------------------------------------
# CLI


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="small", help="suite size to generate when missing (default: small)")
    p.add_argument("--limit", type=int, default=None, help="at most N scenarios (spread over families)")
    p.add_argument("--families", default=None, help="comma-separated families to run")
    p.add_argument("--scenarios", type=Path, default=None,
                   help="root holding scenario folders (default: the generated suite)")
    p.add_argument("--engine", choices=["inproc", "cli"], default=None,
                   help="in-process or the rca CLI (default: inproc; cli for --rs)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--timeout", type=float, default=ENGINE_TIMEOUT_S, help="seconds per engine run")
    p.add_argument("--no-baselines", action="store_true", help="run the engine only")
    p.add_argument("--baselines", default=DEFAULT_BASELINES)
    p.add_argument("--no-engine", action="store_true", help="run the baselines only")
    p.add_argument("--petshop", action="store_true", help="run the PetShop external benchmark instead")
    p.add_argument("--rs", action="store_true",
                   help="run the RS benchmark (real stall incidents, segment answers; results/rs.md) instead")
    p.add_argument("--holdout", action="store_true",
                   help="the suite's variants on held-out seeds (results/holdout.md): does a gain carry over?")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--rerender", type=Path, default=None, metavar="JSON",
                   help="re-write the markdown and chart from a raw results JSON without running anything")
    args = p.parse_args(argv)
    args.engine_default = args.engine is None
    args.engine = args.engine or "inproc"
    return args


def _limit(scenarios: list[Scenario], n: int) -> list[Scenario]:
    """The first ``n`` scenarios taken round-robin over families, so a limited run still covers them all."""
    by_family: dict[str, list[Scenario]] = {}
    for sc in scenarios:
        by_family.setdefault(sc.family, []).append(sc)
    picked: list[Scenario] = []
    queues = [list(v) for _, v in sorted(by_family.items())]
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``make eval``; returns a process exit code (0 even when answers are wrong)."""
    args = _parse(argv)
    if args.rerender:
        raw = json.loads(args.rerender.read_text())
        meta = RunMeta.model_validate(raw["meta"])
        records = [RunRecord.model_validate(r) for r in raw["results"]]
        stem = args.rerender.stem
        md, png = args.out / f"{stem}.md", args.out / f"{stem}.png"
        args.out.mkdir(parents=True, exist_ok=True)
        scores = [r.score for r in records if r.score is not None]
        write_chart(scores, png, title=f"{meta.title}: AC@1 per family")
        md.write_text(render_markdown(scores, meta, title=meta.title, chart=png.name))
        print(f"re-rendered {md} and {png} from {args.rerender}")
        return 0
    if args.rs:
        return run_rs(args)
    started = time.perf_counter()
    key_for: Callable[[Scenario], KeyFn] | None = None
    stem, title = "latest", "rca evaluation"
    if args.petshop:
        scenarios, key_for = petshop_scenarios(SCENARIOS / "petshop")
        stem, title = "petshop-engine", "rca on PetShop (component top-k)"
    else:
        root = args.scenarios or SCENARIOS / (f"{args.size}-holdout" if args.holdout else args.size)
        if args.holdout:
            stem, title = "holdout", "rca evaluation on held-out seeds"
        if args.size != "small":  # same seeds with more data: what the engine gets right when the data allow it
            stem, title = f"{stem}-{args.size}", f"{title} ({args.size} scenarios)"
        if args.scenarios is None:
            from evals.suite import suite_specs

            expected = [spec.name for spec in suite_specs(args.size, holdout=args.holdout)]
            missing = [n for n in expected if not (root / n / "truth.json").is_file()]
            if missing or not expected and not root.exists():
                generate_suite(root, size=args.size, holdout=args.holdout)
        scenarios = discover(root, size=args.size)
    if args.families:
        wanted = {f.strip() for f in args.families.split(",") if f.strip()}
        scenarios = [s for s in scenarios if s.family in wanted]
    if args.limit:
        scenarios = _limit(scenarios, args.limit)
    if not scenarios:
        raise SystemExit("no scenarios to run")
    systems: list[str] = [] if args.no_engine else [ENGINE]
    if not args.no_baselines:
        from evals.baselines import BASELINES

        for name in (b.strip() for b in args.baselines.split(",") if b.strip()):
            if name not in BASELINES:
                raise SystemExit(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
            systems.append(name)
    if not systems:
        raise SystemExit("nothing to run: both the engine and the baselines are off")

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    records = run_all(scenarios, systems=systems, engine_mode=args.engine, workers=args.workers,
                      timeout_s=args.timeout,
                      key_for=key_for, progress=None if args.quiet else say)
    meta = RunMeta(date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), commit=git_commit(),
                   size="petshop" if args.petshop else args.size, engine_mode=args.engine,
                   scenarios=len(scenarios), wall_s=time.perf_counter() - started, workers=args.workers,
                   title=title)
    if args.limit or args.families:
        meta.notes.append(f"partial run: --limit {args.limit} --families {args.families}")
    md, png, raw = write_outputs(records, meta, out_dir=args.out, stem=stem, title=title)
    print(summary_text([r.score for r in records if r.score is not None]))
    print(f"\nwrote {md}, {png}, {raw} in {meta.wall_s:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
