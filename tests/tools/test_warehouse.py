"""Warehouses: conservative CSV typing, UTC timestamps, parquet, timeouts and row caps, SQLAlchemy over SQLite."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tools.warehouse import DuckDBWarehouse, QueryResult, SQLAlchemyWarehouse, WarehouseError

EVENTS_CSV = """\
ts,user_id,app_version,n,big,flag,note,empty
2026-03-14T09:00:00Z,u1,31.1.4,1,1e3,true,hello,
2026-03-14 10:00:00+02:00,u2,31.1.5,2,-7,false,2026-01-01,
2026-03-14 11:30:00,u3,3.2,3,,TRUE,x,
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "events.csv").write_text(EVENTS_CSV)
    (d / "notes.txt").write_text("not a table")
    return d


@pytest.fixture
def wh(data_dir: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse.from_folder(data_dir, timestamp_columns={"events": {"ts"}})


def test_csv_types_are_conservative(wh: DuckDBWarehouse):
    schema = wh.schema()
    assert set(schema) == {"events"}  # .txt is not a table
    assert schema["events"] == {"ts": "TIMESTAMP", "user_id": "VARCHAR", "app_version": "VARCHAR", "n": "BIGINT",
                                "big": "DOUBLE", "flag": "BOOLEAN", "note": "VARCHAR", "empty": "VARCHAR"}


def test_versions_and_date_like_text_stay_text(wh: DuckDBWarehouse):
    rows = wh.run("select app_version, note from events order by user_id").rows
    assert rows == [("31.1.4", "hello"), ("31.1.5", "2026-01-01"), ("3.2", "x")]


def test_timestamps_are_utc_with_zones_converted(wh: DuckDBWarehouse):
    rows = dict(wh.run("select user_id, ts from events").rows)
    assert rows == {"u1": datetime(2026, 3, 14, 9, 0), "u2": datetime(2026, 3, 14, 8, 0),
                    "u3": datetime(2026, 3, 14, 11, 30)}
    assert all(v.tzinfo is None for v in rows.values())


def test_numbers_booleans_and_nulls_keep_their_values(wh: DuckDBWarehouse):
    rows = wh.run("select n, big, flag, empty from events order by user_id").rows
    assert rows == [(1, 1000, True, None), (2, -7, False, None), (3, None, True, None)]


def test_timestamp_columns_are_matched_case_insensitively(data_dir: Path):
    wh = DuckDBWarehouse.from_folder(data_dir, timestamp_columns={"EVENTS": {"TS"}})
    assert wh.schema()["events"]["ts"] == "TIMESTAMP"
    # without the catalog naming it, a time column is left as text (it is not guessed)
    assert DuckDBWarehouse.from_folder(data_dir).schema()["events"]["ts"] == "VARCHAR"


def test_decimals_are_not_rounded_to_integers(tmp_path: Path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "m.csv").write_text("x,share,mixed\n1,0.4,1\n2,0.25,2\n3,1.5,1.5\n")
    wh = DuckDBWarehouse.from_folder(d)
    assert wh.schema()["m"]["share"] == "DOUBLE" and wh.schema()["m"]["mixed"] == "DOUBLE"
    assert wh.run("select share, mixed from m order by x").rows == [(0.4, 1.0), (0.25, 2.0), (1.5, 1.5)]


def test_unparseable_timestamp_names_file_column_and_value(tmp_path: Path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "deployments.csv").write_text("deploy_id,deployed_at\nd1,2026-03-14 09:00:00\nd2,last tuesday\n")
    with pytest.raises(WarehouseError) as info:
        DuckDBWarehouse.from_folder(d, timestamp_columns={"deployments": {"deployed_at"}})
    message = str(info.value)
    assert "deployments.csv" in message and "'deployed_at'" in message and "'last tuesday'" in message


def test_missing_or_empty_folder(tmp_path: Path):
    with pytest.raises(WarehouseError, match="data folder not found"):
        DuckDBWarehouse.from_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WarehouseError, match="no .csv or .parquet files"):
        DuckDBWarehouse.from_folder(tmp_path / "empty")


def test_parquet_tables_and_text_timestamps(tmp_path: Path):
    d = tmp_path / "data"
    d.mkdir()
    pd.DataFrame({"logged_at": ["2026-03-14T09:00:00Z", "2026-03-14 10:00:00+02:00"], "app_version": ["31.1.4", "1.2"],
                  "n": [1, 2], "naive": pd.to_datetime(["2026-03-14 09:00", "2026-03-14 10:00"])}
                 ).to_parquet(d / "logs.parquet")
    (d / "other.csv").write_text("a\n1\n")
    wh = DuckDBWarehouse.from_folder(d, timestamp_columns={"logs": {"logged_at", "naive"}})
    schema = wh.schema()
    assert set(schema) == {"logs", "other"}
    assert schema["logs"]["logged_at"] == "TIMESTAMP" and schema["logs"]["app_version"] == "VARCHAR"
    assert schema["logs"]["n"] == "BIGINT"
    assert wh.run("select logged_at, naive from logs order by n").rows == [
        (datetime(2026, 3, 14, 9), datetime(2026, 3, 14, 9)), (datetime(2026, 3, 14, 8), datetime(2026, 3, 14, 10))]


def test_parquet_zoned_timestamps_become_naive_utc(tmp_path: Path):
    d = tmp_path / "data"
    d.mkdir()
    at = pd.to_datetime(["2026-03-14 09:00+02:00", "2026-03-14 10:00+02:00"], utc=True).tz_convert("Europe/Berlin")
    pd.DataFrame({"logged_at": at, "n": [1, 2]}).to_parquet(d / "logs.parquet")
    wh = DuckDBWarehouse.from_folder(d, timestamp_columns={"logs": {"logged_at"}})
    assert wh.schema()["logs"]["logged_at"] == "TIMESTAMP"
    assert [r[0] for r in wh.run("select logged_at from logs order by n").rows] == [datetime(2026, 3, 14, 7),
                                                                             datetime(2026, 3, 14, 8)]


def test_run_returns_the_sql_as_run_and_caps_rows(wh: DuckDBWarehouse):
    res = wh.run("select * from range(25) t(i)", max_rows=10)
    assert isinstance(res, QueryResult) and res.columns == ["i"]
    assert res.truncated is True and [r[0] for r in res.rows] == list(range(10))
    assert res.sql == "select * from range(25) t(i)" and res.elapsed_ms >= 0
    exact = wh.run("select * from range(10) t(i)", max_rows=10)
    assert exact.truncated is False and len(exact.rows) == 10
    assert list(exact.to_frame()["i"]) == list(range(10))


def test_slow_query_is_interrupted_with_a_timeout_error(wh: DuckDBWarehouse):
    slow = "select count(*) from range(100000000) a, range(100000000) b where a.range + b.range = 3"
    with pytest.raises(WarehouseError, match="timed out after 0.3s") as info:
        wh.run(slow, timeout_s=0.3)
    assert info.value.sql == slow
    # the connection is still usable afterwards
    assert wh.run("select 42").rows == [(42,)]


def test_failed_query_is_one_line_warehouse_error(wh: DuckDBWarehouse):
    with pytest.raises(WarehouseError) as info:
        wh.run("select no_such_column from events")
    assert str(info.value).startswith("query failed:") and "not found" in str(info.value)
    assert "\n" not in str(info.value) and info.value.sql == "select no_such_column from events"


def test_failed_query_does_not_echo_data_values(wh: DuckDBWarehouse):
    """A failed cast quotes the offending value in DuckDB's message; it may be PII, so it is redacted."""
    with pytest.raises(WarehouseError) as info:
        wh.run("select cast(user_id as integer) from events")
    assert str(info.value).startswith("query failed:")
    assert not any(u in str(info.value) for u in ("u1", "u2", "u3"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "wh.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("create table deployments (deploy_id text, deployed_at text, region text)")
        con.execute("create table other (x integer)")
        con.executemany("insert into deployments values (?, ?, ?)",
                        [(f"d{i}", f"2026-03-{10 + i} 09:00:00", "EU" if i % 2 else "NA") for i in range(8)])
    return f"sqlite:///{path}"


def test_sqlalchemy_sqlite_schema_and_run(sqlite_url: str):
    wh = SQLAlchemyWarehouse(sqlite_url)
    assert wh.dialect == "sqlite"
    schema = wh.schema()
    assert set(schema) == {"deployments", "other"}
    assert list(schema["deployments"]) == ["deploy_id", "deployed_at", "region"]
    res = wh.run("select region, count(*) as n from deployments group by region order by region")
    assert res.columns == ["region", "n"] and res.rows == [("EU", 4), ("NA", 4)] and not res.truncated
    capped = wh.run("select deploy_id from deployments order by deploy_id", max_rows=3)
    assert capped.truncated and [r[0] for r in capped.rows] == ["d0", "d1", "d2"]


def test_sqlalchemy_table_filter_and_dialect_override(sqlite_url: str):
    wh = SQLAlchemyWarehouse(sqlite_url, dialect="duckdb", tables=["deployments"])
    assert wh.dialect == "duckdb" and set(wh.schema()) == {"deployments"}


def test_sqlalchemy_failed_query(sqlite_url: str):
    with pytest.raises(WarehouseError, match="query failed") as info:
        SQLAlchemyWarehouse(sqlite_url).run("select nope from deployments")
    assert info.value.sql == "select nope from deployments"


@pytest.mark.parametrize("url", ["not a url", "nosuchdriver://user@host/db", "postgresql+nosuchdbapi://h/db"])
def test_sqlalchemy_bad_url(url: str):
    with pytest.raises(WarehouseError, match="invalid warehouse URL"):
        SQLAlchemyWarehouse(url)


def test_sqlalchemy_unreachable_database(tmp_path: Path):
    wh = SQLAlchemyWarehouse(f"sqlite:///{tmp_path}/no/such/dir/wh.sqlite")
    with pytest.raises(WarehouseError, match="warehouse unreachable"):
        wh.schema()
    with pytest.raises(WarehouseError, match="query failed"):
        wh.run("select 1", timeout_s=5)
