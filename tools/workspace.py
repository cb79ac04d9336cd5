"""A workspace = catalog + warehouse + SQL guard: the one door through which the engine reaches data."""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from tools.catalog import Catalog, check_against_schema, load_catalog
from tools.settings import Settings
from tools.sql_guard import GuardPolicy, guard_sql
from tools.warehouse import DuckDBWarehouse, QueryResult, SQLAlchemyWarehouse, Warehouse, WarehouseError


class GuardRejected(ValueError):
    """The guard refused a query; ``rule`` names the rule, the message says where."""

    def __init__(self, rule: str, message: str, *, sql: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.sql = sql


class Workspace:
    """Everything a step needs to query safely; built once per investigation."""

    def __init__(self, *, root: Path, catalog: Catalog, warehouse: Warehouse, settings: Settings) -> None:
        self.root = root
        self.catalog = catalog
        self.warehouse = warehouse
        self.settings = settings
        schema = warehouse.schema()
        known = {m.table for m in catalog.metrics.values()} | {c.table for c in catalog.changes.values()} | {
            e.table for e in catalog.experiments.values()}
        self.policy = GuardPolicy(
            read_dialect=catalog.dialect, write_dialect=warehouse.dialect,
            schema={t: cols for t, cols in schema.items() if t in known or warehouse.dialect == "duckdb"},
            pii={t: list(c) for t, c in catalog.pii.items()}, max_rows=settings.max_rows)

    @classmethod
    def open(cls, root: Path, *, settings: Settings | None = None) -> Workspace:
        """Load ``catalog.yaml`` and the warehouse (embedded DuckDB from ``data/`` unless a URL is set)."""
        settings = settings or Settings()
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"workspace folder not found: {root}")
        catalog = load_catalog(root / "catalog.yaml")
        warehouse: Warehouse
        if settings.warehouse_url:
            tables = {m.table for m in catalog.metrics.values()} | {c.table for c in catalog.changes.values()}
            warehouse = SQLAlchemyWarehouse(settings.warehouse_url, dialect=settings.warehouse_dialect,
                                            tables=tables | {e.table for e in catalog.experiments.values()})
        else:
            warehouse = DuckDBWarehouse.from_folder(root / "data", timestamp_columns=catalog.timestamp_columns())
        check_against_schema(catalog, warehouse.schema(), source=root / "catalog.yaml")
        return cls(root=root, catalog=catalog, warehouse=warehouse, settings=settings)

    def guard(self, query: str | exp.Expression, *, policy: GuardPolicy | None = None) -> str:
        """Validate a query and return it transpiled to the warehouse dialect, or raise GuardRejected."""
        result = guard_sql(query, policy=policy or self.policy)
        if not result.ok or result.sql is None:
            text = query if isinstance(query, str) else query.sql(dialect=self.catalog.dialect)
            raise GuardRejected(result.rule or "rejected", result.message or "rejected", sql=text)
        return result.sql

    def query(self, query: str | exp.Expression, *, max_rows: int | None = None) -> QueryResult:
        """Guard, then run; the result's ``sql`` is the query exactly as the warehouse received it."""
        sql = self.guard(query)
        return self.warehouse.run(sql, timeout_s=self.settings.query_timeout_s,
                                  max_rows=max_rows or self.settings.max_rows)

    def cells(self, query: str | exp.Expression, *, max_rows: int | None = None) -> QueryResult:
        """An engine-internal aggregate query under its own row cap (``engine_max_rows``), not the guard's.

        The guard forces ``LIMIT cap + 1`` so that a result cut at the cap is known: ``truncated`` is then true.
        Every other rule of the guard applies as for any query.
        """
        cap = max_rows or self.settings.engine_max_rows
        sql = self.guard(query, policy=self.policy.model_copy(update={"max_rows": cap + 1}))
        return self.warehouse.run(sql, timeout_s=self.settings.query_timeout_s, max_rows=cap)


__all__ = ["GuardRejected", "Workspace", "WarehouseError"]
