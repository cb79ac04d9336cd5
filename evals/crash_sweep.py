"""Crash sweep: perturbed generated scenarios must give a spec-valid report or a one-line ``error:`` (exit 2).

Why: the contract (spec section 5, guide "Bad input") forbids a traceback whatever the input. The sweep takes a
few generated scenarios and perturbs them the ways real incidents differ from the suite: the change landing
at every lag from -48 to +48 buckets of the onset, one-bucket windows, windows ending at the last row of the
data, minute / hour / day grain, 0.1 to 30 days of history, metrics without dimensions, empty segments, NaN
and zero denominators, windows outside the data. Each case runs ``rca investigate DIR --json`` in-process
(Typer's CliRunner, the CLI's own code path); a few also run as real subprocesses.

``python -m evals.crash_sweep [--out evals/results/crash-sweep.md] [--quick]`` writes the counts and every
crash with its traceback's last frame.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evals.generator import generate
from evals.generator.common import GRAIN_SECONDS

# Bases: (name, family, seed, params). Small, fast, and covering hour / minute / day grain, a graph, changes.
BASES: dict[str, tuple[str, int, dict[str, Any]]] = {
    "deploy_hour": ("pii_leak_deploy", 1, {"window": True}),
    "deploy_minute": ("pii_leak_deploy", 3, {"grain": "minute", "days": 1, "window": False}),
    "config_day": ("delayed_config", 3, {"grain": "day", "delay": 1, "window": True}),
    "graph_hour": ("graph_mediator", 1, {"window": False}),
    "graph_last_minute": ("graph_last_bucket", 1, {}),
    "graph_quarter": ("graph_period_shift", 1, {}),
    "deploy_30_days": ("pii_leak_deploy", 2, {"days": 30, "window": True}),
}
ALL_LAGS = list(range(-48, 49))
SOME_LAGS = [-48, -3, -2, -1, 0, 1, 2, 3, 4, 48]
HISTORY_DAYS = [0.1, 0.25, 0.5, 1.0, 2.0, 7.0]
SPEC_KINDS = {"change", "experiment", "upstream", "segment"}


# ------------------------------------------------------------------------------------------- scenario edits


class Scenario:
    """A scenario folder opened for editing: catalog, incident, truth and the data frames (timestamps parsed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.catalog = yaml.safe_load((path / "catalog.yaml").read_text())
        self.incident = json.loads((path / "incident.json").read_text())
        self.truth = json.loads((path / "truth.json").read_text())
        self._tables: dict[str, pd.DataFrame] = {}

    @property
    def metric(self) -> dict[str, Any]:
        return self.catalog["metrics"][self.incident["metric"]]

    @property
    def bucket(self) -> pd.Timedelta:
        return pd.Timedelta(seconds=GRAIN_SECONDS[self.catalog["grain"]])

    def table(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = pd.read_csv(self.path / "data" / f"{name}.csv", keep_default_na=False,
                                             na_values=[""], dtype=str)
        return self._tables[name]

    def set_table(self, name: str, frame: pd.DataFrame) -> None:
        self._tables[name] = frame

    def times(self, table: str, column: str) -> pd.Series:
        return pd.to_datetime(self.table(table)[column])

    def last_row(self) -> pd.Timestamp:
        m = self.metric
        return self.times(m["table"], m["timestamp"]).max()

    def save(self) -> None:
        (self.path / "catalog.yaml").write_text(yaml.safe_dump(self.catalog, sort_keys=False))
        (self.path / "incident.json").write_text(json.dumps(self.incident, indent=2) + "\n")
        for name, frame in self._tables.items():
            frame.to_csv(self.path / "data" / f"{name}.csv", index=False)


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_localize(None) if pd.Timestamp(text).tzinfo else pd.Timestamp(text)


def _change_row(s: Scenario) -> tuple[str, str, str, int] | None:
    """(table, timestamp column, id column, row) of the true change, else of the change nearest the onset."""
    onset = _ts(s.truth.get("onset") or s.incident["detected_at"])
    true_id = s.truth["root_cause"].get("id")
    best: tuple[float, tuple[str, str, str, int]] | None = None
    for src in s.catalog.get("changes", {}).values():
        t = s.table(src["table"])
        for i, (cid, at) in enumerate(zip(t[src["id"]], pd.to_datetime(t[src["timestamp"]]), strict=True)):
            d = -1.0 if cid == true_id else abs((at - onset).total_seconds())
            if best is None or d < best[0]:
                best = (d, (src["table"], src["timestamp"], src["id"], i))
    return best[1] if best else None


def change_at_lag(s: Scenario, lag: int) -> None:
    """The true (or nearest) change lands ``lag`` buckets before the onset (negative: after it)."""
    found = _change_row(s)
    if found is None:
        return
    table, ts_col, _, row = found
    onset = _ts(s.truth.get("onset") or s.incident["detected_at"]).floor(s.bucket)
    t = s.table(table).copy()
    t.loc[row, ts_col] = str(onset - lag * s.bucket + pd.Timedelta(seconds=7))
    s.set_table(table, t)


def one_bucket_window(s: Scenario, where: str) -> None:
    """A window of exactly one bucket: at the onset, in the middle of the data or at the last row."""
    last = s.last_row().floor(s.bucket)
    onset = _ts(s.truth.get("onset") or s.incident["detected_at"]).floor(s.bucket)
    start = {"onset": onset, "last": last, "first": s.times(s.metric["table"], s.metric["timestamp"]).min()
             .floor(s.bucket)}[where]
    s.incident["window"] = {"start": _iso(start), "end": _iso(start + s.bucket)}


def window_to_last_row(s: Scenario, buckets: int) -> None:
    """A window of ``buckets`` buckets whose last bucket holds the last row of the data; detected then."""
    end = s.last_row().floor(s.bucket) + s.bucket
    s.incident["window"] = {"start": _iso(end - buckets * s.bucket), "end": _iso(end)}
    s.incident["detected_at"] = _iso(end - s.bucket)


def set_grain(s: Scenario, grain: str) -> None:
    s.catalog["grain"] = grain


def history_days(s: Scenario, days: float) -> None:
    """Keep only ``days`` of metric rows before the detection (every metric table)."""
    detected = _ts(s.incident["detected_at"])
    start = detected - pd.Timedelta(days=days)
    if "window" in s.incident and _ts(s.incident["window"]["start"]) < start:
        s.incident["window"]["start"] = _iso(start.ceil(s.bucket))
    for m in s.catalog["metrics"].values():
        t = s.table(m["table"])
        s.set_table(m["table"], t[pd.to_datetime(t[m["timestamp"]]) >= start].reset_index(drop=True))


def no_dimensions(s: Scenario) -> None:
    for m in s.catalog["metrics"].values():
        m["dimensions"] = []
    s.incident.pop("filters", None)


def filter_to_nothing(s: Scenario) -> None:
    """Filters on a value no row has: a truly empty population."""
    dims = s.metric.get("dimensions") or []
    if dims:
        s.incident["filters"] = {dims[0]: "no-such-value"}


def segment_empty_in_window(s: Scenario) -> None:
    """One value of the first dimension has no rows from the onset on (a segment that went dark)."""
    m = s.metric
    dims = m.get("dimensions") or []
    if not dims:
        return
    t = s.table(m["table"])
    value = t[dims[0]].dropna().iloc[0]
    onset = _ts(s.truth.get("onset") or s.incident["detected_at"])
    drop = (t[dims[0]] == value) & (pd.to_datetime(t[m["timestamp"]]) >= onset)
    s.set_table(m["table"], t[~drop].reset_index(drop=True))


def null_dimension(s: Scenario) -> None:
    """Every value of the first dimension is NULL (the column exists, the segmenting has nothing to split)."""
    m = s.metric
    dims = m.get("dimensions") or []
    if dims:
        t = s.table(m["table"]).copy()
        t[dims[0]] = None
        s.set_table(m["table"], t)


def zero_denominator(s: Scenario) -> None:
    """The metric becomes a ratio whose denominator is zero in most buckets (rows of one rare dimension value)."""
    m = s.metric
    dims = m.get("dimensions") or []
    if not dims:
        m["value"] = f"sum(1.0) / sum(case when {m['timestamp']} is null then 1 else 0 end)"
        return
    t = s.table(m["table"])
    rare = t[dims[0]].value_counts().index[-1]
    m["value"] = f"({m['value']}) * count(*) / sum(case when {dims[0]} = '{rare}' then 1 else 0 end)"


def nan_values(s: Scenario) -> None:
    """NaN and empty cells in the numeric columns of every metric table (a third of the rows)."""
    for name in {m["table"] for m in s.catalog["metrics"].values()}:
        t = s.table(name).copy()
        ts_cols = {m["timestamp"] for m in s.catalog["metrics"].values() if m["table"] == name}
        for c in t.columns:
            if c in ts_cols:
                continue
            # A regex, not pd.to_numeric: pandas 2's string parser segfaulted on this data (IPs, hex ids).
            numeric = t[c].astype(str).str.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
            if numeric.mean() > 0.9:
                t.loc[t.index % 3 == 0, c] = "NaN"
                t.loc[t.index % 7 == 0, c] = None
        s.set_table(name, t)


def window_outside_data(s: Scenario) -> None:
    """A window a year after the data: must be the clear 'no data in the incident window' error."""
    end = s.last_row() + pd.Timedelta(days=365)
    s.incident["window"] = {"start": _iso(end - s.bucket * 3), "end": _iso(end)}


def window_reversed(s: Scenario) -> None:
    w = s.incident.get("window") or {"start": s.incident["detected_at"],
                                    "end": _iso(_ts(s.incident["detected_at"]) - s.bucket * 3)}
    s.incident["window"] = {"start": w["end"], "end": w["start"]}


def no_window(s: Scenario) -> None:
    s.incident.pop("window", None)


EDITS: dict[str, Callable[..., None]] = {
    "lag": change_at_lag, "one_bucket": one_bucket_window, "to_last_row": window_to_last_row,
    "grain": set_grain, "history_days": history_days, "no_dimensions": no_dimensions,
    "filter_to_nothing": filter_to_nothing, "segment_empty": segment_empty_in_window,
    "null_dimension": null_dimension, "zero_denominator": zero_denominator, "nan_values": nan_values,
    "window_outside_data": window_outside_data, "window_reversed": window_reversed, "no_window": no_window,
}


@dataclass(frozen=True)
class Case:
    """One perturbed scenario: a base and a list of (edit, argument) applied in order."""

    base: str
    edits: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        parts = [f"{e}={a}" if a is not None else e for e, a in self.edits]
        return self.base + (" + " + " + ".join(parts) if parts else "")


def cases(*, quick: bool = False) -> list[Case]:
    """The sweep's grid. ``quick`` keeps a bounded subset (what ``make test`` runs)."""
    out: list[Case] = []
    if quick:
        for base in BASES:
            out += [Case(base), Case(base, (("lag", 3),)), Case(base, (("lag", -3),)),
                    Case(base, (("one_bucket", "last"),)), Case(base, (("to_last_row", 1),)),
                    Case(base, (("grain", "minute" if base != "deploy_minute" else "day"),)),
                    Case(base, (("history_days", 0.1),)), Case(base, (("no_dimensions", None),)),
                    Case(base, (("nan_values", None),)), Case(base, (("zero_denominator", None),)),
                    Case(base, (("segment_empty", None),)), Case(base, (("window_outside_data", None),))]
        return out
    for base in BASES:
        if base == "deploy_minute":  # minute grain costs 15-30 s a run: the quick set
            out += [c for c in cases(quick=True) if c.base == base]
            continue
        if base == "deploy_30_days":  # a month of hourly rows: each run is costly, the history edits matter most
            out += [Case(base), Case(base, (("lag", 3),)), Case(base, (("lag", -3),)),
                    Case(base, (("one_bucket", "last"),)), Case(base, (("to_last_row", 1),))]
            out += [Case(base, (("history_days", d),)) for d in (0.1, 1.0, 7.0, 14.0)]
            continue
        lags = ALL_LAGS if base == "deploy_hour" else SOME_LAGS
        out.append(Case(base))
        out += [Case(base, (("lag", lag),)) for lag in lags]
        out += [Case(base, (("one_bucket", w),)) for w in ("onset", "last", "first")]
        out += [Case(base, (("to_last_row", k),)) for k in (1, 2, 6)]
        out += [Case(base, (("grain", g),)) for g in ("minute", "hour", "day")]
        out += [Case(base, (("history_days", d),)) for d in (HISTORY_DAYS if base == "deploy_hour" else (0.1, 1.0))]
        out += [Case(base, ((e, None),)) for e in ("no_dimensions", "filter_to_nothing", "segment_empty",
                                                    "null_dimension", "zero_denominator", "nan_values",
                                                    "window_outside_data", "window_reversed", "no_window")]
        out += [Case(base, (("no_dimensions", None), ("one_bucket", "last"))),
                Case(base, (("history_days", 0.5), ("to_last_row", 1))),
                Case(base, (("nan_values", None), ("to_last_row", 2)))]
    return out


# ------------------------------------------------------------------------------------------- running


@dataclass
class Outcome:
    """What one case gave: ok (spec-valid report), error (one-line error, exit 2) or crash (anything else)."""

    case: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    top: str | None = None
    tb: list[str] = field(default_factory=list)


def spec_problems(report: dict[str, Any]) -> list[str]:
    """Where a report departs from spec section 5 (empty = valid)."""
    problems = []
    for key in ("incident_id", "metric", "anomaly", "root_causes", "segments", "impact", "similar_incidents",
                "evidence", "narrative"):
        if key not in report:
            problems.append(f"missing {key}")
    anomaly = report.get("anomaly") or {}
    for key in ("start", "end", "baseline", "observed"):
        if key not in anomaly:
            problems.append(f"anomaly.{key} missing")
    ids = {e.get("id") for e in report.get("evidence", [])}
    scores = []
    for i, rc in enumerate(report.get("root_causes", [])):
        if rc.get("rank") != i + 1:
            problems.append(f"root_causes[{i}].rank = {rc.get('rank')}")
        if rc.get("kind") not in SPEC_KINDS:
            problems.append(f"root_causes[{i}].kind = {rc.get('kind')!r}")
        if not isinstance(rc.get("id"), str) or not rc.get("id"):
            problems.append(f"root_causes[{i}].id = {rc.get('id')!r}")
        score = rc.get("score")
        if not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
            problems.append(f"root_causes[{i}].score = {score!r}")
        else:
            scores.append(score)
        missing = [e for e in rc.get("evidence", []) if e not in ids]
        if missing:
            problems.append(f"root_causes[{i}] cites unknown evidence {missing}")
    if scores != sorted(scores, reverse=True):
        problems.append("root_causes not ordered best first")
    for i, seg in enumerate(report.get("segments", [])):
        if not isinstance(seg.get("dimensions"), dict) or "share_of_change" not in seg:
            problems.append(f"segments[{i}] malformed")
    if not isinstance(report.get("impact"), dict) or "affected_units" not in report.get("impact", {}):
        problems.append("impact.affected_units missing")
    if not isinstance(report.get("narrative"), str):
        problems.append("narrative is not text")
    return problems


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-JSON number {name} in the report")


def judge(case: str, code: int, stdout: str, stderr: str, exc: BaseException | None = None,
          seconds: float = 0.0) -> Outcome:
    """Classify one run by the contract: exit 0 with a spec-valid report, or exit 2 with one ``error:`` line."""
    if exc is not None and not isinstance(exc, SystemExit):
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f"{Path(last.filename).name}:{last.lineno} in {last.name}" if last else "?"
        return Outcome(case, "crash", f"{type(exc).__name__}: {exc} ({where})", seconds, tb=frames[-6:])
    if code == 0:
        try:
            report = json.loads(stdout, parse_constant=_reject_constant)
        except ValueError as err:
            return Outcome(case, "crash", f"stdout is not spec JSON: {err}", seconds)
        problems = spec_problems(report)
        if problems:
            return Outcome(case, "crash", "report departs from the spec: " + "; ".join(problems[:4]), seconds)
        top = report["root_causes"][0] if report["root_causes"] else None
        return Outcome(case, "ok", "", seconds, top=f"{top['kind']}:{top['id']} {top['score']}" if top else None)
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("…")]
    if code == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        return Outcome(case, "error", lines[0], seconds)
    tail = " | ".join(lines[-3:])
    return Outcome(case, "crash", f"exit {code}: {tail}", seconds)


def prepare(case: Case, bases: Path, work: Path) -> Path:
    """Copy the case's base scenario into ``work`` and apply its edits."""
    target = work / "scenario"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(bases / case.base, target)
    s = Scenario(target)
    for edit, arg in case.edits:
        EDITS[edit](s) if arg is None else EDITS[edit](s, arg)
    s.save()
    return target


def make_bases(out: Path, names: list[str] | None = None) -> Path:
    """Generate the base scenarios (deterministic per seed) under ``out``."""
    for name in names or list(BASES):
        if not (out / name / "truth.json").exists():
            family, seed, params = BASES[name]
            generate(family, seed=seed, out=out / name, **params)
    return out


def run_inprocess(case: Case, bases: Path, work: Path) -> Outcome:
    """``rca investigate DIR --json`` through Typer's CliRunner (the CLI's own error handling)."""
    from typer.testing import CliRunner

    from api.cli import app

    t0 = time.perf_counter()
    try:
        path = prepare(case, bases, work)
    except Exception as err:  # noqa: BLE001 - a broken edit is the sweep's bug, reported as such
        return Outcome(case.name, "skipped", f"edit failed: {type(err).__name__}: {err}")
    result = CliRunner().invoke(app, ["investigate", str(path), "--json", "--quiet"])
    return judge(case.name, result.exit_code, result.stdout, result.stderr, result.exception,
                 time.perf_counter() - t0)


def run_subprocess(case: Case, bases: Path, work: Path, *, timeout: float = 300) -> Outcome:
    """The same through a real process: what a user sees, stderr included."""
    t0 = time.perf_counter()
    path = prepare(case, bases, work)
    proc = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "investigate", str(path),
                           "--json", "--quiet"], capture_output=True, text=True, timeout=timeout)
    out = judge(case.name, proc.returncode, proc.stdout, proc.stderr, seconds=time.perf_counter() - t0)
    if out.status == "crash" and "Traceback" in proc.stderr:
        out.tb = proc.stderr.splitlines()[-6:]
    return out


# ------------------------------------------------------------------------------------------- report


def write_report(outcomes: list[Outcome], path: Path, *, wall: float) -> None:
    counts = Counter(o.status for o in outcomes)
    by_edit: dict[str, Counter] = {}
    for o in outcomes:
        parts = o.case.split(" + ")
        key = parts[1].split("=")[0] if len(parts) > 1 else "as generated"
        by_edit.setdefault(key, Counter())[o.status] += 1
    lines = ["# Crash sweep", "", f"- cases: {len(outcomes)} (`python -m evals.crash_sweep`), wall time "
             f"{wall:.0f} s", f"- ok (spec-valid report): {counts['ok']}", f"- error (one line, exit 2): "
             f"{counts['error']}", f"- crash (traceback, other exit, or a report off the spec): {counts['crash']}",
             f"- skipped (the sweep's edit did not apply): {counts['skipped']}", "",
             "| perturbation | ok | error | crash |", "|---|---|---|---|"]
    for key, c in sorted(by_edit.items()):
        lines.append(f"| {key} | {c['ok']} | {c['error']} | {c['crash']} |")
    crashes = [o for o in outcomes if o.status == "crash"]
    lines += ["", "## Crashes", ""]
    if not crashes:
        lines.append("None.")
    for o in crashes:
        lines += [f"- `{o.case}`: {o.detail}"]
    errors = Counter(o.detail.split(" between ")[0].split(" in the incident window")[0][:110]
                     for o in outcomes if o.status == "error")
    lines += ["", "## Errors (clear refusals, by message)", ""]
    lines += [f"- {n} x `{msg}`" for msg, n in errors.most_common()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.crash_sweep", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("evals/results/crash-sweep.md"))
    parser.add_argument("--quick", action="store_true", help="the bounded subset only")
    parser.add_argument("--only", help="run only cases whose name contains one of these (comma-separated) texts")
    parser.add_argument("--subprocess", type=int, default=3, help="cases also run as real processes")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any case crashed")
    parser.add_argument("--raw", type=Path, help="also write the outcomes as JSON here (for --merge)")
    parser.add_argument("--merge", type=Path, nargs="+", help="render --out from raw JSON files of split runs")
    args = parser.parse_args(argv)
    if args.merge:
        raw = [json.loads(p.read_text()) for p in args.merge]
        merged = [Outcome(**o) for r in raw for o in r["outcomes"]]
        write_report(merged, args.out, wall=sum(r["wall"] for r in raw))
        return 0
    # Incident memory is not what the sweep tests: the offline lexical embedding keeps each case cheap.
    os.environ.setdefault("RCA_EMBEDDING", "lexical")
    t0 = time.perf_counter()
    grid = [c for c in cases(quick=args.quick) if args.only is None or any(o in c.name for o in args.only.split(","))]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="rca-crash-sweep-") as tmp:
        bases = make_bases(Path(tmp) / "bases", sorted({c.base for c in grid}))
        work = Path(tmp) / "work"
        work.mkdir()
        for i, case in enumerate(grid):
            o = run_inprocess(case, bases, work)
            outcomes.append(o)
            print(f"[{i + 1}/{len(grid)}] {o.status:5} {o.seconds:5.1f}s {case.name} {o.detail[:150]}",
                  file=sys.stderr)
        for case in grid[: args.subprocess]:
            o = run_subprocess(case, bases, work)
            o.case = f"{o.case} (subprocess)"
            outcomes.append(o)
    wall = time.perf_counter() - t0
    write_report(outcomes, args.out, wall=wall)
    if args.raw:
        args.raw.write_text(json.dumps({"wall": wall, "outcomes": [o.__dict__ for o in outcomes]}, indent=1))
    crashes = sum(o.status == "crash" for o in outcomes)
    print(f"wrote {args.out}: {len(outcomes)} cases, {crashes} crash(es)", file=sys.stderr)
    return 1 if crashes and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
