"""Warehouses the engine queries: an embedded DuckDB over a scenario's ``data/`` folder, or any SQLAlchemy URL.

Every query runs with a wall-clock timeout and a row cap and returns a typed ``QueryResult`` holding the SQL
exactly as run, so evidence can quote it.
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

# SQLAlchemy dialect name -> sqlglot dialect name, for transpiling guarded SQL.
SQLALCHEMY_TO_SQLGLOT = {
    "postgresql": "postgres", "postgres": "postgres", "redshift": "redshift", "trino": "trino",
    "presto": "presto", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite", "snowflake": "snowflake",
    "bigquery": "bigquery", "databricks": "databricks", "hive": "hive", "spark": "spark",
    "mssql": "tsql", "oracle": "oracle", "duckdb": "duckdb", "clickhouse": "clickhouse",
}


class WarehouseError(RuntimeError):
    """The warehouse is unreachable, a query failed or it ran past its timeout; the message says which."""

    def __init__(self, message: str, *, sql: str | None = None) -> None:
        super().__init__(message)
        self.sql = sql


class QueryResult(BaseModel):
    """Rows of one query plus what is needed to cite it: the SQL as run and how long it took."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    elapsed_ms: float
    truncated: bool = False

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.rows, columns=self.columns)


class Warehouse(Protocol):
    """What the engine needs from a warehouse, whatever it is."""

    dialect: str

    def schema(self) -> dict[str, dict[str, str]]: ...

    def run(self, sql: str, *, timeout_s: float = 30.0, max_rows: int = 10_000) -> QueryResult: ...


_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")


def _first_line(err: BaseException) -> str:
    """First line of a driver error with quoted values redacted: they may be raw PII (e.g. a failed cast of an IP)."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return _QUOTED.sub("'<redacted>'", line)


class DuckDBWarehouse:
    """In-process DuckDB; built from CSV/Parquet files (table = file stem) with conservative typing."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._lock = threading.Lock()
        self._schema: dict[str, dict[str, str]] | None = None

    @classmethod
    def from_folder(cls, data_dir: Path, *, timestamp_columns: dict[str, set[str]] | None = None,
                    threads: int | None = None) -> DuckDBWarehouse:
        """Load every ``*.csv`` / ``*.parquet`` in ``data_dir``; catalog time columns become UTC timestamps."""
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise WarehouseError(f"data folder not found: {data_dir}")
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone='UTC'")
        if threads:
            con.execute(f"SET threads={int(threads)}")
        files = sorted(p for p in data_dir.iterdir() if p.suffix.lower() in {".csv", ".parquet"})
        if not files:
            raise WarehouseError(f"no .csv or .parquet files in {data_dir}")
        ts = {t.lower(): {c.lower() for c in cols} for t, cols in (timestamp_columns or {}).items()}
        for path in files:
            _load_table(con, path, ts.get(path.stem.lower(), set()))
        return cls(con)

    def schema(self) -> dict[str, dict[str, str]]:
        if self._schema is None:
            rows = self._con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
            schema: dict[str, dict[str, str]] = {}
            for table, col, dtype in rows:
                schema.setdefault(table, {})[col] = dtype
            self._schema = schema
        return self._schema

    def run(self, sql: str, *, timeout_s: float = 30.0, max_rows: int = 10_000) -> QueryResult:
        """Run one query; DuckDB is interrupted (not abandoned) when the timeout passes."""
        start = time.perf_counter()
        with self._lock:
            cur = self._con.cursor()
            timer = threading.Timer(timeout_s, cur.interrupt)
            timer.start()
            try:
                cur.execute(sql)
                columns = [d[0] for d in cur.description or []]
                rows = cur.fetchmany(max_rows + 1)
            except duckdb.InterruptException:
                raise WarehouseError(f"query timed out after {timeout_s:g}s", sql=sql) from None
            except duckdb.Error as err:
                raise WarehouseError(f"query failed: {_first_line(err)}", sql=sql) from None
            finally:
                timer.cancel()
                cur.close()
        truncated = len(rows) > max_rows
        return QueryResult(columns=columns, rows=[tuple(r) for r in rows[:max_rows]], sql=sql,
                           elapsed_ms=(time.perf_counter() - start) * 1000, truncated=truncated)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_table(con: duckdb.DuckDBPyConnection, path: Path, ts_cols: set[str]) -> None:
    """CSV: read every field as text, then type a column only when all its values parse (numbers, booleans).

    Reading as text first is what keeps a version such as ``31.1.4`` from turning into a date.
    """
    table = _quote(path.stem)
    lit = str(path).replace("'", "''")
    try:
        if path.suffix.lower() == ".parquet":
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{lit}')")
            cols = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
            for name, dtype in cols:
                zoned = "TIME ZONE" in dtype.upper() or dtype.upper().startswith("TIMESTAMPTZ")
                if name.lower() in ts_cols and ("TIMESTAMP" not in dtype.upper() or zoned):
                    _retype(con, table, name, "timestamp", path)
            return
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{lit}', all_varchar=true, header=true)")
    except duckdb.Error as err:
        raise WarehouseError(f"cannot load {path.name}: {_first_line(err)}") from None
    names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    probes = []
    for n in names:
        q = _quote(n)
        probes.append(f"count({q})")
        # Integers by pattern: DuckDB's TRY_CAST('0.4' AS BIGINT) rounds instead of failing.
        probes.append(f"count(CASE WHEN regexp_full_match(trim({q}), '[+-]?[0-9]+') THEN 1 END)")
        for kind in ("DOUBLE", "BOOLEAN"):
            probes.append(f"count(try_cast({q} AS {kind}))")
    counts = con.execute(f"SELECT {', '.join(probes)} FROM {table}").fetchone() or ()
    for i, n in enumerate(names):
        if n.lower() in ts_cols:
            _retype(con, table, n, "timestamp", path)
            continue
        nonnull, as_int, as_float, as_bool = counts[i * 4:(i + 1) * 4]
        if nonnull == 0:
            continue
        if as_int == nonnull:
            target = "BIGINT"
        elif as_float == nonnull:
            target = "DOUBLE"
        elif as_bool == nonnull:
            target = "BOOLEAN"
        else:
            continue
        con.execute(f"ALTER TABLE {table} ALTER {_quote(n)} TYPE {target} USING CAST({_quote(n)} AS {target})")


def _retype(con: duckdb.DuckDBPyConnection, table: str, column: str, kind: str, path: Path) -> None:
    """Turn a text time column into a UTC TIMESTAMP, naming the first value that does not parse."""
    q = _quote(column)
    expr = f"CAST(TRY_CAST({q} AS TIMESTAMPTZ) AS TIMESTAMP)"
    bad = con.execute(f"SELECT {q} FROM {table} WHERE {q} IS NOT NULL AND {expr} IS NULL LIMIT 1").fetchone()
    if bad is not None:
        raise WarehouseError(f"{path.name}: column {column!r} must hold timestamps, found {bad[0]!r}")
    con.execute(f"ALTER TABLE {table} ALTER {q} TYPE TIMESTAMP USING {expr}")


class SQLAlchemyWarehouse:
    """Any SQLAlchemy URL (Postgres, Trino, Spark SQL, ...); the sqlglot dialect follows the driver."""

    def __init__(self, url: str, *, dialect: str | None = None, tables: Iterable[str] | None = None) -> None:
        import sqlalchemy as sa

        try:
            self._engine = sa.create_engine(url, pool_pre_ping=True)
        except Exception as err:  # noqa: BLE001 - bad URLs raise many kinds
            raise WarehouseError(f"invalid warehouse URL: {_first_line(err)}") from None
        self.dialect = dialect or SQLALCHEMY_TO_SQLGLOT.get(self._engine.dialect.name, self._engine.dialect.name)
        self._tables = set(tables) if tables else None
        self._schema: dict[str, dict[str, str]] | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="warehouse")

    def schema(self) -> dict[str, dict[str, str]]:
        import sqlalchemy as sa

        if self._schema is None:
            try:
                insp = sa.inspect(self._engine)
                names = [t for t in insp.get_table_names() + insp.get_view_names()
                         if self._tables is None or t in self._tables]
                self._schema = {t: {c["name"]: str(c["type"]) for c in insp.get_columns(t)} for t in names}
            except Exception as err:  # noqa: BLE001
                raise WarehouseError(f"warehouse unreachable: {_first_line(err)}") from None
        return self._schema

    def run(self, sql: str, *, timeout_s: float = 30.0, max_rows: int = 10_000) -> QueryResult:
        import sqlalchemy as sa

        def work() -> tuple[list[str], list[tuple[Any, ...]]]:
            with self._engine.connect() as conn:
                res = conn.execute(sa.text(sql))
                return list(res.keys()), [tuple(r) for r in res.fetchmany(max_rows + 1)]

        start = time.perf_counter()
        future = self._pool.submit(work)
        try:
            columns, rows = future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise WarehouseError(f"query timed out after {timeout_s:g}s", sql=sql) from None
        except Exception as err:  # noqa: BLE001
            raise WarehouseError(f"query failed: {_first_line(err)}", sql=sql) from None
        return QueryResult(columns=columns, rows=rows[:max_rows], sql=sql, truncated=len(rows) > max_rows,
                           elapsed_ms=(time.perf_counter() - start) * 1000)
