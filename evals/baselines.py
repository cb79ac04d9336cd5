"""Simple baselines the engine must beat, run on the same scenario folders as the engine.

They read ``catalog.yaml``, ``incident.json`` and ``data/`` with DuckDB directly (no engine code), never
``truth.json``, and return report-like dicts (``root_causes`` ranked best first, optionally ``segments``)
that :mod:`evals.scorer` scores like a real report.

- ``last_change``: what a responder does first: blame the latest change (over all change sources) at or
  before the anomaly window's start (the incident's ``window.start``, else its ``detected_at``).
- ``biggest_jump``: the change whose scope shows the largest worsening of the metric, comparing the
  6 hours after the change with the 6 hours before it (direction from ``higher_is_worse``).
- ``gcm_only``: DoWhy's graphical causal model anomaly attribution over the catalog ``graph`` alone;
  not applicable (``None``) when the target metric has no upstream metrics in the graph.

A baseline returns ``None`` where it cannot apply (no graph, no change source): the scenario is skipped
for it, not counted wrong.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml
from pydantic import BaseModel

JUMP_HOURS = 6
GRAIN_DELTA = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
GCM_SEED = 0
GCM_SAMPLES = 500  # distribution samples per anomaly attribution (DoWhy default 3000: 8x slower)
NO_WINDOW_BUCKETS = 6  # gcm_only without an incident window: the last buckets up to detection are anomalous

BaselineFn = Callable[["Path | ScenarioData"], dict[str, Any] | None]


# ---------------------------------------------------------------------------------------------------------
# reading a scenario


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def parse_time(value: Any) -> datetime | None:
    """ISO time (``Z`` or offset allowed) -> naive UTC datetime; naive input is already UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


class ScenarioData:
    """A scenario's catalog, incident and tables in an in-memory DuckDB (text columns stay text)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.catalog: dict[str, Any] = yaml.safe_load((self.path / "catalog.yaml").read_text()) or {}
        self.incident: dict[str, Any] = json.loads((self.path / "incident.json").read_text())
        self.metrics: dict[str, dict[str, Any]] = self.catalog.get("metrics") or {}
        self.changes: dict[str, dict[str, Any]] = self.catalog.get("changes") or {}
        self.graph: list[list[str]] = [list(e) for e in (self.catalog.get("graph") or [])]
        self.grain: str = self.catalog.get("grain") or "hour"
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone='UTC'")
        self.con.execute("SET threads=1")
        self._load()

    # -- loading ----------------------------------------------------------------------------------------

    def _column_roles(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """Per table: columns that hold times, and columns that must stay text (dimensions, scopes, ids)."""
        times: dict[str, set[str]] = {}
        texts: dict[str, set[str]] = {}
        for m in self.metrics.values():
            t = str(m["table"]).lower()
            times.setdefault(t, set()).add(str(m["timestamp"]).lower())
            texts.setdefault(t, set()).update(str(d).lower() for d in m.get("dimensions") or [])
        for c in self.changes.values():
            t = str(c["table"]).lower()
            times.setdefault(t, set()).add(str(c["timestamp"]).lower())
            texts.setdefault(t, set()).update(str(s).lower() for s in (c.get("scope") or []) + [c["id"]])
        for e in (self.catalog.get("experiments") or {}).values():
            times.setdefault(str(e["table"]).lower(), set()).add(str(e["started"]).lower())
        return times, texts

    def _load(self) -> None:
        times, texts = self._column_roles()
        data = self.path / "data"
        for file in sorted(data.iterdir()):
            suffix = file.suffix.lower()
            if suffix not in {".csv", ".parquet"}:
                continue
            table, lit = _quote(file.stem), str(file).replace("'", "''")
            reader = (f"read_parquet('{lit}')" if suffix == ".parquet"
                      else f"read_csv('{lit}', all_varchar=true, header=true)")
            self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM {reader}")
            cols = self.con.execute(f"DESCRIBE {table}").fetchall()
            tcols, xcols = times.get(file.stem.lower(), set()), texts.get(file.stem.lower(), set())
            for name, dtype, *_ in cols:
                q = _quote(name)
                if name.lower() in tcols:
                    if "TIMESTAMP" not in dtype.upper():
                        expr = f"CAST(TRY_CAST({q} AS TIMESTAMPTZ) AS TIMESTAMP)"
                        self.con.execute(f"ALTER TABLE {table} ALTER {q} TYPE TIMESTAMP USING {expr}")
                elif name.lower() in xcols:
                    if dtype.upper() != "VARCHAR":
                        to_text = f"TYPE VARCHAR USING CAST({q} AS VARCHAR)"
                        self.con.execute(f"ALTER TABLE {table} ALTER {q} {to_text}")
                elif dtype.upper() == "VARCHAR":
                    self._type_text_column(table, q)

    def _type_text_column(self, table: str, q: str) -> None:
        """A text column becomes BIGINT, DOUBLE or BOOLEAN when every value parses (as the spec reads CSV)."""
        nonnull, *counts = self.con.execute(
            f"SELECT count({q}), count(try_cast({q} AS BIGINT)), count(try_cast({q} AS DOUBLE)), "
            f"count(try_cast({q} AS BOOLEAN)) FROM {table}").fetchone() or (0, 0, 0, 0)
        if not nonnull:
            return
        for kind, n in zip(("BIGINT", "DOUBLE", "BOOLEAN"), counts, strict=True):
            if n == nonnull:
                self.con.execute(f"ALTER TABLE {table} ALTER {q} TYPE {kind} USING CAST({q} AS {kind})")
                return

    def columns(self, table: str) -> set[str]:
        return {r[0].lower() for r in self.con.execute(f"DESCRIBE {_quote(table)}").fetchall()}

    # -- incident -----------------------------------------------------------------------------------------

    def metric_name(self) -> str | None:
        """The incident's metric; without one, a catalog metric named in the text, else the only metric."""
        name = self.incident.get("metric")
        if name in self.metrics:
            return str(name)
        text = f"{self.incident.get('title', '')} {self.incident.get('description', '')}".lower()
        named = [m for m in self.metrics if m.lower() in text or m.lower().replace("_", " ") in text]
        if named:
            return named[0]
        return next(iter(self.metrics)) if len(self.metrics) == 1 else None

    def window(self) -> tuple[datetime | None, datetime | None]:
        """(start, end) of the incident's window; without one, (None, detected_at)."""
        win = self.incident.get("window") or {}
        detected = parse_time(self.incident.get("detected_at"))
        return parse_time(win.get("start")), parse_time(win.get("end")) or detected

    def metric_sql(self, metric: str) -> tuple[str, str, str, set[str]]:
        """(table, timestamp, value SQL in DuckDB dialect, table columns) of a metric."""
        m = self.metrics[metric]
        value = str(m["value"])
        dialect = self.catalog.get("dialect") or "duckdb"
        if dialect != "duckdb":
            import sqlglot

            value = sqlglot.transpile(f"SELECT {value}", read=dialect, write="duckdb")[0][len("SELECT "):]
        return str(m["table"]), str(m["timestamp"]), value, self.columns(str(m["table"]))

    def change_rows(self) -> list[dict[str, Any]]:
        """Every change over all sources: id, time, description and scope {column: value or None = all}."""
        out = []
        for source, c in self.changes.items():
            scope = [str(s) for s in c.get("scope") or []]
            desc = c.get("description")
            cols = [c["id"], c["timestamp"], *([desc] if desc else []), *scope]
            sql = f"SELECT {', '.join(_quote(x) for x in cols)} FROM {_quote(c['table'])}"
            for row in self.con.execute(sql).fetchall():
                if row[1] is None:
                    continue
                rest = list(row[3:] if desc else row[2:])
                out.append({
                    "source": source, "id": str(row[0]), "time": row[1],
                    "description": str(row[2]) if desc and row[2] is not None else "",
                    "scope": {s: (None if v is None or str(v).strip() in {"", "*"} else str(v))
                              for s, v in zip(scope, rest, strict=True)},
                })
        return out

    def metric_value(self, metric: str, start: datetime, end: datetime,
                     where: Mapping[str, str | None]) -> float | None:
        """The metric over [start, end) restricted to ``where`` (column = value; None = any)."""
        return self.metric_rate(metric, start, end, where)[0]

    def metric_rate(self, metric: str, start: datetime, end: datetime,
                    where: Mapping[str, str | None]) -> tuple[float | None, float]:
        """The metric and its row count over [start, end) restricted to ``where`` (for count tests on rates)."""
        table, ts, value, cols = self.metric_sql(metric)
        conds, params = [f"{_quote(ts)} >= ?", f"{_quote(ts)} < ?"], [start, end]
        for col, val in where.items():
            if val is not None and col.lower() in cols:
                conds.append(f"CAST({_quote(col)} AS VARCHAR) = ?")
                params.append(val)
        row = self.con.execute(f"SELECT {value}, count(*) FROM {_quote(table)} WHERE {' AND '.join(conds)}",
                               params).fetchone()
        if row is None:
            return None, 0.0
        return (None if row[0] is None else float(row[0])), float(row[1] or 0)

    def series(self, metric: str) -> pd.Series:
        """The metric per grain bucket over all its data (incident filters applied where they are columns)."""
        table, ts, value, cols = self.metric_sql(metric)
        conds, params = ["TRUE"], []
        for col, val in (self.incident.get("filters") or {}).items():
            if col.lower() in cols:
                conds.append(f"CAST({_quote(col)} AS VARCHAR) = ?")
                params.append(str(val))
        sql = (f"SELECT date_trunc('{self.grain}', {_quote(ts)}) AS b, {value} AS v FROM {_quote(table)} "
               f"WHERE {' AND '.join(conds)} GROUP BY 1 ORDER BY 1")
        frame = self.con.execute(sql, params).df()
        return pd.Series(frame["v"].astype(float).values, index=pd.to_datetime(frame["b"]), name=metric)

    def close(self) -> None:
        self.con.close()


@contextmanager
def _opened(source: Path | ScenarioData) -> Iterator[ScenarioData]:
    """Use a loaded scenario as is, or load one from a path and close it afterwards."""
    if isinstance(source, ScenarioData):
        yield source
        return
    data = ScenarioData(Path(source))
    try:
        yield data
    finally:
        data.close()


def _report(data: ScenarioData, causes: list[dict[str, Any]], *, name: str,
            segments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    for i, rc in enumerate(causes, start=1):
        rc["rank"] = i
    return {"incident_id": data.incident.get("id"), "metric": data.metric_name(), "baseline": name,
            "root_causes": causes, "segments": segments or []}


def _scope_segment(scope: Mapping[str, str | None]) -> list[dict[str, Any]]:
    dims = {k: v for k, v in scope.items() if v is not None}
    return [{"dimensions": dims}] if dims else []


# ---------------------------------------------------------------------------------------------------------
# baselines


def last_change(source: Path | ScenarioData) -> dict[str, Any] | None:
    """Changes at or before the window start (else detection time), latest first; None without changes."""
    with _opened(source) as data:
        if not data.changes:
            return None
        start, end = data.window()
        ref = start or end
        rows = [r for r in data.change_rows() if ref is None or r["time"] <= ref]
        rows.sort(key=lambda r: (r["time"], r["id"]), reverse=True)
        causes = [{"kind": "change", "id": r["id"], "title": r["description"],
                   "changed_at": r["time"].isoformat()} for r in rows]
        return _report(data, causes, name="last_change",
                       segments=_scope_segment(rows[0]["scope"]) if rows else [])


def biggest_jump(source: Path | ScenarioData, *, hours: int = JUMP_HOURS) -> dict[str, Any] | None:
    """Changes up to the window end (else detection), ranked by how much the metric worsened in their scope.

    The metric is compared over ``hours`` before and after each change, inside the change's scope and the
    incident's filters; a change with no data on either side ranks last. None without change sources.
    """
    with _opened(source) as data:
        if not data.changes:
            return None
        metric = data.metric_name()
        _, end = data.window()
        if metric is None:
            return _report(data, [], name="biggest_jump")
        worse_up = bool(data.metrics[metric].get("higher_is_worse", True))
        filters = {str(k): str(v) for k, v in (data.incident.get("filters") or {}).items()}
        span = timedelta(hours=hours)
        scored = []
        for r in data.change_rows():
            if end is not None and r["time"] > end:
                continue
            reach = {k: v for k, v in r["scope"].items() if v is not None}
            where: dict[str, str | None] = {**filters, **reach}
            before = data.metric_value(metric, r["time"] - span, r["time"], where)
            after = data.metric_value(metric, r["time"], r["time"] + span, where)
            sign = 1 if worse_up else -1
            jump = -math.inf if before is None or after is None else (after - before) * sign
            scored.append((jump, r))
        scored.sort(key=lambda x: (x[0], x[1]["time"], x[1]["id"]), reverse=True)
        causes = [{"kind": "change", "id": r["id"], "title": r["description"],
                   "jump": None if math.isinf(j) else j} for j, r in scored]
        return _report(data, causes, name="biggest_jump",
                       segments=_scope_segment(scored[0][1]["scope"]) if scored else [])


def _anomaly_mask(data: ScenarioData, index: pd.DatetimeIndex) -> pd.Series:
    start, end = data.window()
    if end is None:
        end = index.max()
    if start is None:
        start = end - NO_WINDOW_BUCKETS * GRAIN_DELTA.get(data.grain, timedelta(hours=1))
    return pd.Series((index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end)), index=index)


def _gcm_scores(series: pd.DataFrame, edges: list[tuple[str, str]], target: str,
                anomaly: pd.Series) -> list[tuple[str, float]]:
    """Upstream metrics ranked by DoWhy anomaly attribution: ``tools.upstream`` when present, else plain gcm."""
    try:
        from tools.upstream import attribute_upstream
    except ImportError:
        attribute_upstream = None
    if attribute_upstream is not None:
        result = attribute_upstream(series=series, graph=list(edges), target=target, anomaly=anomaly.to_numpy())
        scored = [(s.metric, float(s.score)) for s in result.scores if s.metric != target]
        return sorted(scored, key=lambda x: -x[1])  # stable: keeps the tool's tie-break order
    return _plain_gcm_scores(series, edges, target, anomaly)


def _plain_gcm_scores(series: pd.DataFrame, edges: list[tuple[str, str]], target: str,
                      anomaly: pd.Series) -> list[tuple[str, float]]:
    """Mean ``gcm.attribute_anomalies`` per upstream node on a minimal invertible SCM."""
    import networkx as nx
    import numpy as np
    from dowhy import gcm
    from dowhy.gcm.util.general import set_random_seed

    gcm.config.disable_progress_bars()
    gcm.config.set_default_n_jobs(1)  # joblib's default spawns worker processes: seconds of start-up per call
    set_random_seed(GCM_SEED)
    graph = nx.DiGraph(edges)
    complete = series.notna().all(axis=1).to_numpy()
    normal = series[~anomaly.to_numpy() & complete]
    abnormal = series[anomaly.to_numpy() & complete]
    if len(normal) < 10 or abnormal.empty:
        return []
    # The minimal invertible SCM of DoWhy's anomaly-attribution example: empirical roots, linear additive
    # noise elsewhere (auto-assignment is ~10x slower and no better on these series).
    scm = gcm.InvertibleStructuralCausalModel(graph)
    for node in graph.nodes:
        if graph.in_degree(node) == 0:
            scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        else:
            scm.set_causal_mechanism(node, gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor()))
    gcm.fit(scm, normal)
    attributions = gcm.attribute_anomalies(scm, target, anomaly_samples=abnormal,
                                           num_distribution_samples=GCM_SAMPLES)
    ranked = [(node, float(np.mean(vals))) for node, vals in attributions.items() if node != target]
    ranked.sort(key=lambda x: (-x[1], x[0]))
    return ranked


def gcm_only(source: Path | ScenarioData) -> dict[str, Any] | None:
    """DoWhy gcm anomaly attribution over the catalog graph; None when the target has no upstream metric."""
    with _opened(source) as data:
        target = data.metric_name()
        if target is None or not data.graph:
            return None
        parents: dict[str, list[str]] = {}
        for up, down in data.graph:
            parents.setdefault(down, []).append(up)
        nodes, frontier = {target}, [target]
        while frontier:
            for p in parents.get(frontier.pop(), []):
                if p not in nodes:
                    nodes.add(p)
                    frontier.append(p)
        if len(nodes) < 2:
            return None
        frame = pd.concat([data.series(m) for m in sorted(nodes)], axis=1).sort_index()
        edges = [(u, d) for u, d in data.graph if u in nodes and d in nodes]
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranked = _gcm_scores(frame, edges, target, _anomaly_mask(data, pd.DatetimeIndex(frame.index)))
        causes = [{"kind": "upstream", "id": m, "attribution": s} for m, s in ranked]
        return _report(data, causes, name="gcm_only")


BASELINES: dict[str, BaselineFn] = {
    "last_change": last_change,
    "biggest_jump": biggest_jump,
    "gcm_only": gcm_only,
}


class BaselineRun(BaseModel):
    """One baseline on one scenario: its report (None = not applicable or failed), time and error."""

    name: str
    report: dict[str, Any] | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def skipped(self) -> bool:
        return self.report is None and self.error is None


def run_baselines(path: Path, names: Iterable[str] = tuple(BASELINES)) -> list[BaselineRun]:
    """Run several baselines on one scenario, loading its data once; each time includes the load."""
    names = list(names)
    start = time.perf_counter()
    try:
        data = ScenarioData(Path(path))
    except Exception as err:  # noqa: BLE001 - a scenario the baselines cannot read fails them all
        secs = time.perf_counter() - start
        return [BaselineRun(name=n, seconds=secs, error=f"{type(err).__name__}: {err}") for n in names]
    load_s = time.perf_counter() - start
    out = []
    try:
        for name in names:
            t0 = time.perf_counter()
            try:
                out.append(BaselineRun(name=name, report=BASELINES[name](data),
                                       seconds=load_s + time.perf_counter() - t0))
            except Exception as err:  # noqa: BLE001 - recorded per baseline, scored wrong
                out.append(BaselineRun(name=name, seconds=load_s + time.perf_counter() - t0,
                                       error=f"{type(err).__name__}: {str(err)[:300]}"))
    finally:
        data.close()
    return out
