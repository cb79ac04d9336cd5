"""The workspace: catalog + warehouse + guard; every query is guarded, bad catalogs fail before any analysis."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tools.catalog import CatalogError
from tools.settings import Settings
from tools.warehouse import DuckDBWarehouse, SQLAlchemyWarehouse, WarehouseError
from tools.workspace import GuardRejected, Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from tests.conftest import EXAMPLE, copy_scenario

    root = copy_scenario(EXAMPLE, tmp_path_factory.mktemp("ws") / "example")
    return Workspace.open(root, settings=Settings(max_rows=50, query_timeout_s=10))


def test_open_loads_catalog_and_typed_warehouse(ws: Workspace):
    assert isinstance(ws.warehouse, DuckDBWarehouse)
    assert list(ws.catalog.metrics) == ["age_gate_skip_rate"]
    schema = ws.warehouse.schema()
    assert schema["signups"]["signup_time"] == "TIMESTAMP" and schema["signups"]["age_gate_skipped"] == "BOOLEAN"
    assert schema["config_changes"]["changed_at"] == "TIMESTAMP" and schema["config_changes"]["region"] == "VARCHAR"


def test_query_is_guarded_then_run(ws: Workspace):
    res = ws.query("select region, count(*) as n from signups group by region order by region")
    assert res.columns == ["region", "n"]
    assert [r[0] for r in res.rows] == ["EU", "NA"] and sum(r[1] for r in res.rows) == 11481
    assert "LIMIT 50" in res.sql  # the settings' row cap is forced by the guard, and the SQL as run is kept


def test_query_row_cap(ws: Workspace):
    res = ws.query("select change_id from config_changes")
    assert len(res.rows) == 3 and not res.truncated
    capped = ws.query("select signup_time from signups order by signup_time", max_rows=5)
    assert len(capped.rows) == 5


def test_engine_cells_have_their_own_cap_and_say_when_cut(ws: Workspace):
    """The guard's cap (50 here) is for the responder's SQL; the engine's aggregates get theirs, and a cut is known."""
    q = "select signup_time, count(*) as n from signups group by signup_time order by signup_time"
    whole = ws.cells(q)
    assert len(whole.rows) > 50 and not whole.truncated
    cut = ws.cells(q, max_rows=60)
    assert len(cut.rows) == 60 and cut.truncated and "LIMIT 61" in cut.sql
    exact = ws.cells(q, max_rows=len(whole.rows))
    assert not exact.truncated and len(exact.rows) == len(whole.rows)


def test_pii_column_select_is_rejected_before_running(ws: Workspace):
    with pytest.raises(GuardRejected) as info:
        ws.query("select user_id, region from signups")
    assert info.value.rule == "pii_exposed" and "user_id" in str(info.value)
    assert info.value.sql == "select user_id, region from signups"
    # counting a PII column is allowed and returns no ids
    res = ws.query("select count(distinct user_id) as users from signups")
    assert res.rows[0][0] > 1000


@pytest.mark.parametrize("sql, rule", [
    ("delete from signups", "read_only"),
    ("select * from information_schema.tables", "table_not_allowed"),
    ("select nope from signups", "unknown_column"),
    ("select 1; select 2", "single_statement"),
])
def test_other_guard_rules(ws: Workspace, sql: str, rule: str):
    with pytest.raises(GuardRejected) as info:
        ws.query(sql)
    assert info.value.rule == rule


def test_catalog_naming_a_missing_column_fails_at_open(example_dir: Path):
    cat = example_dir / "catalog.yaml"
    cat.write_text(cat.read_text().replace("    - region\nchanges", "    - region\n    - country\nchanges"))
    with pytest.raises(CatalogError) as info:
        Workspace.open(example_dir)
    assert info.value.errors == [
        "metrics.age_gate_skip_rate.dimensions[2]: column 'country' not found in table 'signups'"]
    assert info.value.path == str(example_dir / "catalog.yaml")


def test_missing_folder_and_missing_catalog(tmp_path: Path, example_dir: Path):
    with pytest.raises(FileNotFoundError):
        Workspace.open(tmp_path / "nope")
    (example_dir / "catalog.yaml").unlink()
    with pytest.raises(CatalogError, match="file not found"):
        Workspace.open(example_dir)


def test_bad_timestamp_in_a_change_table_fails_at_open(example_dir: Path):
    path = example_dir / "data" / "config_changes.csv"
    path.write_text(path.read_text().replace("2026-05-05 16:00:00", "soon"))
    with pytest.raises(WarehouseError, match=r"config_changes.csv: column 'changed_at' must hold timestamps.*'soon'"):
        Workspace.open(example_dir)


def test_workspace_over_a_sqlalchemy_url(example_dir: Path, tmp_path: Path):
    """The same catalog against SQLite: schema checked, SQL transpiled from duckdb to sqlite, PII still guarded."""
    db = tmp_path / "wh.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("create table signups (signup_time text, user_id text, platform text, region text, "
                    "age_gate_skipped integer)")
        con.execute("create table config_changes (change_id text, changed_at text, platform text, region text, "
                    "summary text)")
        con.executemany("insert into signups values (?, ?, ?, ?, ?)",
                        [("2026-05-04 00:00:00", f"u{i}", "ios", "EU" if i % 3 else "NA", i % 2) for i in range(30)])
    ws = Workspace.open(example_dir, settings=Settings(warehouse_url=f"sqlite:///{db}"))
    assert isinstance(ws.warehouse, SQLAlchemyWarehouse) and ws.warehouse.dialect == "sqlite"
    res = ws.query("select region, count(*) as n from signups group by region order by region")
    assert res.rows == [("EU", 20), ("NA", 10)]
    with pytest.raises(GuardRejected, match="pii_exposed"):
        ws.query("select user_id from signups")


def test_sqlalchemy_workspace_with_a_missing_column_is_rejected(example_dir: Path, tmp_path: Path):
    db = tmp_path / "wh.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("create table signups (signup_time text, user_id text, platform text, age_gate_skipped integer)")
        con.execute("create table config_changes (change_id text, changed_at text, platform text, region text, "
                    "summary text)")
    with pytest.raises(CatalogError) as info:
        Workspace.open(example_dir, settings=Settings(warehouse_url=f"sqlite:///{db}"))
    assert any(e.startswith("metrics.age_gate_skip_rate.dimensions[1]:") and "'region'" in e
               for e in info.value.errors), info.value.errors
