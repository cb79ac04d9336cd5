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
import numpy as np
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


# ---------------------------------------------------------------------------------------------------------
# segment baselines (the answer is a segment: the RS benchmark)

ADTRIBUTOR_TEEP = 0.1   # Adtributor's element threshold: an element explaining less is left out of a set
ADTRIBUTOR_TEP = 0.67   # its set threshold: a set is complete once it explains this much of the change
ADTRIBUTOR_SETS = 3     # it returns the three most surprising dimensions' sets
HOTSPOT_PT = 0.67       # HotSpot's potential-score threshold: the shallowest layer reaching it wins
HOTSPOT_LAYERS = 3


def _ratio_parts(value: str) -> tuple[str, str] | None:
    """(numerator, denominator) SQL of a rate: ``sum(a) / sum(b)`` or ``avg(x)``; None for a plain sum/count."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(value, read="duckdb")
    while isinstance(tree, exp.Paren):
        tree = tree.this
    if isinstance(tree, exp.Div):
        return tree.this.sql("duckdb"), tree.expression.sql("duckdb")
    if isinstance(tree, exp.Avg):
        return f"sum({tree.this.sql('duckdb')})", "count(*)"
    return None


def leaf_frame(data: ScenarioData) -> tuple[pd.DataFrame, list[str], int] | None:
    """Per leaf (every dimension): numerator and denominator in the baseline (every bucket before the anomaly,
    per bucket) and in the anomaly (the incident window, else the detection bucket), and the baseline's length.

    None when the metric is not a rate or has no dimensions (the segment baselines do not apply)."""
    name = data.metric_name()
    if name is None:
        return None
    m = data.metrics[name]
    dims = [str(d) for d in m.get("dimensions") or []]
    table, ts, value, _cols = data.metric_sql(name)
    parts = _ratio_parts(value)
    if not dims or parts is None:
        return None
    start, end = data.window()
    step = GRAIN_DELTA.get(data.grain, timedelta(hours=1))
    if end is None:
        return None
    if start is None:
        start = datetime.fromtimestamp(end.replace(tzinfo=UTC).timestamp() // step.total_seconds()
                                       * step.total_seconds(), tz=UTC).replace(tzinfo=None)
        end = start + step
    t, keys = _quote(ts), ", ".join(_quote(d) for d in dims)
    sql = (f"SELECT CASE WHEN {t} >= ? THEN 'anomaly' ELSE 'baseline' END AS period, {keys}, "
           f"{parts[0]} AS num, {parts[1]} AS den FROM {_quote(table)} WHERE {t} < ? GROUP BY ALL")
    frame = data.con.execute(sql, [start, end]).df()
    n_base = data.con.execute(f"SELECT count(DISTINCT date_trunc('{data.grain}', {t})) FROM {_quote(table)} "
                              f"WHERE {t} < ?", [start]).fetchone()
    buckets = int(n_base[0]) if n_base and n_base[0] else 0
    if frame.empty or buckets == 0:
        return None
    for d in dims:
        frame[d] = frame[d].astype(str)
    wide = frame.pivot_table(index=dims, columns="period", values=["num", "den"], aggfunc="sum", fill_value=0.0)
    wide.columns = [f"{v}_{p}" for v, p in wide.columns]
    for col in ("num_anomaly", "den_anomaly", "num_baseline", "den_baseline"):
        if col not in wide:
            wide[col] = 0.0
    wide[["num_baseline", "den_baseline"]] = wide[["num_baseline", "den_baseline"]] / buckets
    return wide.reset_index(), dims, buckets


def _segment_report(data: ScenarioData, ranked: list[tuple[dict[str, str], float]], claimed: int,
                    name: str) -> dict[str, Any]:
    """Root causes of kind segment, best first; the first ``claimed`` are the returned set (score 1)."""
    causes = [{"kind": "segment", "id": ",".join(f"{d}={v}" for d, v in sorted(seg.items())),
               "score": 1.0 if i < claimed else 0.0, "strength": round(float(s), 6)}
              for i, (seg, s) in enumerate(ranked)]
    return _report(data, causes, name=name, segments=[{"dimensions": seg} for seg, _ in ranked[:5]])


def _js_pair(p: float, q: float) -> float:
    m = (p + q) / 2
    return sum(0.5 * x * math.log(x / m) for x in (p, q) if x > 0 and m > 0)


def adtributor(source: Path | ScenarioData) -> dict[str, Any] | None:
    """Adtributor (Bhagwan et al., NSDI 2014) for a derived measure A/B, single dimensions.

    Per element: explanatory power EP = (dA*B - dB*A) / (dA_total*B - dB_total*A) (forecast = the baseline's
    mean bucket, so the EPs of a dimension sum to 1) and surprise = JS(A shares) + JS(B shares). Per dimension,
    elements by surprise are added while each has EP > 0.1, until the set explains 0.67; the three most
    surprising complete sets are returned (their elements, set by set)."""
    with _opened(source) as data:
        got = leaf_frame(data)
        if got is None:
            return None
        leaves, dims, _ = got
        fa, fb = leaves["num_baseline"].sum(), leaves["den_baseline"].sum()
        aa, ab = leaves["num_anomaly"].sum(), leaves["den_anomaly"].sum()
        total = (aa - fa) * fb - (ab - fb) * fa
        sets = []
        for d in dims:
            g = leaves.groupby(d)[["num_baseline", "den_baseline", "num_anomaly", "den_anomaly"]].sum()
            rows = []
            for val, r in g.iterrows():
                ep = ((r.num_anomaly - r.num_baseline) * fb - (r.den_anomaly - r.den_baseline) * fa) / total \
                    if total else 0.0
                sur = (_js_pair(r.num_baseline / fa if fa else 0, r.num_anomaly / aa if aa else 0)
                       + _js_pair(r.den_baseline / fb if fb else 0, r.den_anomaly / ab if ab else 0))
                rows.append((str(val), float(ep), float(sur)))
            rows.sort(key=lambda x: x[2], reverse=True)
            chosen, explained = [], 0.0
            for val, ep, sur in rows:
                if ep > ADTRIBUTOR_TEEP:
                    chosen.append((val, ep, sur))
                    explained += ep
                if explained > ADTRIBUTOR_TEP:
                    break
            if chosen and explained > ADTRIBUTOR_TEP:
                sets.append((sum(c[2] for c in chosen), d, chosen))
        sets.sort(key=lambda x: x[0], reverse=True)
        ranked = [({d: val}, sur) for _, d, chosen in sets[:ADTRIBUTOR_SETS] for val, _, sur in chosen]
        return _segment_report(data, ranked, len(ranked), "adtributor")


def _potential(v: np.ndarray, f: np.ndarray, members: list[np.ndarray]) -> float:
    """HotSpot's potential score of a set of elements: how much of the leaves' deviation from forecast the
    set's ripple effect (each element's change spread over its leaves in proportion to their forecast)
    reproduces: max(0, 1 - |v - a| / |v - f|)."""
    a = f.copy()
    for mask in members:
        fs = f[mask].sum()
        a[mask] = f[mask] * (v[mask].sum() / fs) if fs > 0 else v[mask]
    base = float(np.linalg.norm(v - f))
    return max(0.0, 1.0 - float(np.linalg.norm(v - a)) / base) if base > 0 else 0.0


def hotspot(source: Path | ScenarioData) -> dict[str, Any] | None:
    """HotSpot-style search (Sun et al., 2018) on the rate's numerator: forecast per leaf = its baseline rate
    (else the overall one) times its anomaly denominator. Per cuboid (layers 1..3) elements are added greedily
    by potential score while it rises (HotSpot uses MCTS; greedy is its one-step version); the shallowest layer
    whose best set reaches 0.67 wins, else the best set overall. Returns that set."""
    from itertools import combinations

    with _opened(source) as data:
        got = leaf_frame(data)
        if got is None:
            return None
        leaves, dims, _ = got
        overall = leaves["num_baseline"].sum() / max(leaves["den_baseline"].sum(), 1e-12)
        rate_b = np.where(leaves["den_baseline"] > 0,
                          leaves["num_baseline"] / leaves["den_baseline"].where(leaves["den_baseline"] > 0, 1),
                          overall)
        f = rate_b * leaves["den_anomaly"].to_numpy(dtype=float)
        v = leaves["num_anomaly"].to_numpy(dtype=float)
        best: tuple[float, list[dict[str, str]]] = (0.0, [])
        for layer in range(1, min(HOTSPOT_LAYERS, len(dims)) + 1):
            layer_best: tuple[float, list[dict[str, str]]] = (0.0, [])
            for cuboid in combinations(dims, layer):
                keys = leaves[list(cuboid)].astype(str).agg("\x1f".join, axis=1)
                elems = {k: (keys == k).to_numpy() for k in keys.unique()}
                single = sorted(((_potential(v, f, [m]), k) for k, m in elems.items()), reverse=True)
                chosen, score = [], 0.0
                for _ps, k in single:
                    trial = _potential(v, f, [elems[c] for c in [*chosen, k]])
                    if trial <= score:
                        break
                    chosen, score = [*chosen, k], trial
                if score > layer_best[0]:
                    layer_best = (score, [dict(zip(cuboid, k.split("\x1f"), strict=True)) for k in chosen])
            if layer_best[0] > best[0]:
                best = layer_best
            if best[0] >= HOTSPOT_PT:
                break
        return _segment_report(data, [(seg, best[0]) for seg in best[1]], len(best[1]), "hotspot")


def top_value_change(source: Path | ScenarioData) -> dict[str, Any] | None:
    """The single dimension value whose rate rose the most (anomaly vs baseline); the top one is claimed."""
    with _opened(source) as data:
        got = leaf_frame(data)
        if got is None:
            return None
        leaves, dims, _ = got
        ranked = []
        for d in dims:
            g = leaves.groupby(d)[["num_baseline", "den_baseline", "num_anomaly", "den_anomaly"]].sum()
            for val, r in g.iterrows():
                if r.den_anomaly > 0 and r.den_baseline > 0:
                    ranked.append(({d: str(val)}, r.num_anomaly / r.den_anomaly - r.num_baseline / r.den_baseline))
        ranked.sort(key=lambda x: x[1], reverse=True)
        return _segment_report(data, ranked[:3], 1, "top_value_change")


BASELINES: dict[str, BaselineFn] = {
    "last_change": last_change,
    "biggest_jump": biggest_jump,
    "gcm_only": gcm_only,
    "adtributor": adtributor,
    "hotspot": hotspot,
    "top_value_change": top_value_change,
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
