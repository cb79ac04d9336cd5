"""A generated scenario in memory (``Bundle``) and how it is written to a folder in the spec's format.

``affected_units`` is not computed in Python: it is counted with DuckDB over the files just written, loaded
the way the engine loads them (CSV read as text, then typed conservatively), so it matches what an engine
following spec section 5 counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from evals.generator.common import Coded, ColumnTable, iso, to_frame


@dataclass
class Reach:
    """Where ``affected_units`` is counted: metric rows in ``[start, end)`` inside a segment or treatment arm."""

    metric: str
    start: int
    end: int
    segment: dict[str, str] = field(default_factory=dict)
    experiment: str | None = None


@dataclass
class Bundle:
    """Everything a scenario folder holds; time columns are epoch seconds until written."""

    catalog: dict[str, object]
    tables: dict[str, ColumnTable | pd.DataFrame]
    incident: dict[str, object]
    history: list[dict[str, object]]
    truth: dict[str, object]
    reach: Reach | None = None


def timestamp_columns(catalog: dict[str, object]) -> dict[str, set[str]]:
    """Table -> its time columns, as named by the catalog (metrics, changes, experiments)."""
    out: dict[str, set[str]] = {}
    for m in dict(catalog.get("metrics", {})).values():  # type: ignore[call-overload]
        out.setdefault(m["table"], set()).add(m["timestamp"])
    for c in dict(catalog.get("changes", {})).values():  # type: ignore[call-overload]
        out.setdefault(c["table"], set()).add(c["timestamp"])
    for e in dict(catalog.get("experiments", {})).values():  # type: ignore[call-overload]
        out.setdefault(e["table"], set()).add(e["started"])
    return out


def _to_datetime(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype("datetime64[s]")


def _write_csv(table: ColumnTable | pd.DataFrame, path: Path, ts_cols: set[str]) -> None:
    out = to_frame(table).copy()
    for c in ts_cols & set(out.columns):
        out[c] = np.char.replace(np.datetime_as_string(_to_datetime(out[c].to_numpy()), unit="s"), "T", " ")
    out.to_csv(path, index=False, lineterminator="\n")


def _arrow_column(values: object, is_ts: bool) -> pa.Array:
    if isinstance(values, Coded):
        return pa.DictionaryArray.from_arrays(pa.array(values.codes.astype(np.int32)),
                                              pa.array(np.asarray(values.values, dtype=str), type=pa.string()))
    arr = np.asarray(values)
    if is_ts:
        return pa.array(_to_datetime(arr).astype("datetime64[us]"), type=pa.timestamp("us"))
    if arr.dtype == object:  # change tables: text with NULLs
        return pa.array([None if v is None else str(v) for v in arr], type=pa.string())
    return pa.array(arr)


def _write_parquet(table: ColumnTable | pd.DataFrame, path: Path, ts_cols: set[str]) -> None:
    columns = {c: table[c].to_numpy() for c in table.columns} if isinstance(table, pd.DataFrame) else table
    arrays = [_arrow_column(v, c in ts_cols) for c, v in columns.items()]
    pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), path, compression="zstd")


def write_bundle(bundle: Bundle, out: Path, *, fmt: str = "csv") -> Path:
    """Write the scenario folder, then count ``affected_units`` over the written data and write truth.json."""
    out = Path(out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for old in sorted(data.iterdir()):
        if old.suffix in {".csv", ".parquet"}:
            old.unlink()
    ts = timestamp_columns(bundle.catalog)
    for name, df in bundle.tables.items():
        if fmt == "parquet":
            _write_parquet(df, data / f"{name}.parquet", ts.get(name, set()))
        else:
            _write_csv(df, data / f"{name}.csv", ts.get(name, set()))
    (out / "catalog.yaml").write_text(yaml.safe_dump(bundle.catalog, sort_keys=False, allow_unicode=True))
    (out / "incident.json").write_text(json.dumps(bundle.incident, indent=2) + "\n")
    (out / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in bundle.history))
    truth = dict(bundle.truth)
    if bundle.reach is not None:
        truth["affected_units"] = count_affected_units(out, bundle.catalog, bundle.reach)
        truth["window"] = {"start": iso(bundle.reach.start), "end": iso(bundle.reach.end)}
    (out / "truth.json").write_text(json.dumps(_ordered_truth(truth), indent=2) + "\n")
    return out


def _ordered_truth(truth: dict[str, object]) -> dict[str, object]:
    order = ["root_cause", "segment", "affected_units", "window", "onset", "cause_at", "effect",
             "similar_incidents",
             "family", "params"]
    return {k: truth[k] for k in order if k in truth} | {k: v for k, v in truth.items() if k not in order}


# ---------------------------------------------------------------------------------------------------------
# truth counting


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_table(con: duckdb.DuckDBPyConnection, path: Path, ts_cols: set[str]) -> None:
    """Load one data file as the engine does: CSV as text, then BIGINT/DOUBLE/BOOLEAN when every value fits,
    catalog time columns as TIMESTAMP."""
    table, lit = _q(path.stem), str(path).replace("'", "''")
    if path.suffix == ".parquet":  # typed already; a view avoids copying millions of rows
        con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{lit}')")
        return
    raw = _q(f"raw_{path.stem}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM read_csv('{lit}', all_varchar=true, header=true)")
    names = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    kinds = ("BIGINT", "DOUBLE", "BOOLEAN")
    probes = [f"count({_q(n)}), " + ", ".join(f"count(try_cast({_q(n)} AS {k}))" for k in kinds) for n in names]
    counts = con.execute(f"SELECT {', '.join(probes)} FROM {raw}").fetchone() or ()
    select = []
    for i, n in enumerate(names):
        nonnull, *fits = counts[4 * i: 4 * i + 4]
        kind = "TIMESTAMP" if n in ts_cols else next(
            (k for k, c in zip(kinds, fits, strict=True) if nonnull and c == nonnull), None)
        select.append(f"CAST({_q(n)} AS {kind}) AS {_q(n)}" if kind else _q(n))
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(select)} FROM {raw}")
    con.execute(f"DROP TABLE {raw}")


def connect(folder: Path, catalog: dict[str, object], tables: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the scenario's data files (or only ``tables``) loaded."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone='UTC'")
    files = sorted(p for p in (Path(folder) / "data").iterdir() if p.suffix in {".csv", ".parquet"})
    if all(p.suffix == ".csv" for p in files):
        con.execute("SET threads=1")  # small CSV scenarios: threads cost more than they save
    ts = timestamp_columns(catalog)
    for path in files:
        if tables is None or path.stem in tables:
            load_table(con, path, ts.get(path.stem, set()))
    return con


def _naive(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None)


def count_affected_units(folder: Path, catalog: dict[str, object], reach: Reach) -> int:
    """Spec section 5: distinct units of the metric's table in the window, in the reach, meeting affected_when."""
    metric = catalog["metrics"][reach.metric]  # type: ignore[index]
    tables = [metric["table"]]
    exp = None
    if reach.experiment is not None:
        exp = next(iter(catalog["experiments"].values()))  # type: ignore[attr-defined]
        tables.append(exp["table"])
    con = connect(folder, catalog, tables)
    where = [f"{_q(metric['timestamp'])} >= ?", f"{_q(metric['timestamp'])} < ?"]
    params: list[object] = [_naive(reach.start), _naive(reach.end)]
    for dim in sorted(reach.segment):
        where.append(f"{_q(dim)} = ?")
        params.append(reach.segment[dim])
    if metric.get("affected_when"):
        where.append(f"({metric['affected_when']})")
    if exp is not None:
        where.append(f"{_q(metric['unit'])} IN (SELECT {_q(exp['unit'])} FROM {_q(exp['table'])} "
                     f"WHERE {_q(exp['id'])} = ? AND {_q(exp['arm'])} <> ?)")
        params += [reach.experiment, exp["control"]]
    sql = (f"SELECT count(DISTINCT {_q(metric['unit'])}) FROM {_q(metric['table'])} "
           f"WHERE {' AND '.join(where)}")
    (count,) = con.execute(sql, params).fetchone() or (0,)
    con.close()
    return int(count)
