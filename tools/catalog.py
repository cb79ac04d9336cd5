"""The semantic layer (``catalog.yaml``): typed models, loading, and checks against the warehouse schema.

Errors name the file, the key path (``metrics.ip_logging_rate.timestamp``) and what was expected, and are
collected so a responder fixes a catalog in one pass instead of one error at a time.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

import sqlglot
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlglot import exp

Grain = Literal["minute", "hour", "day"]
_StrictModel = ConfigDict(extra="allow", frozen=True)


class MetricDef(BaseModel):
    """One metric: an SQL aggregate over a table, bucketed by its timestamp column."""

    model_config = _StrictModel
    name: str = ""
    description: str = ""
    table: str
    timestamp: str
    value: str
    unit: str | None = None
    affected_when: str | None = None
    dimensions: list[str] = Field(default_factory=list)
    higher_is_worse: bool = True


class ChangeSource(BaseModel):
    """A table of change events (deploys, config changes, flag flips) that may cause an incident."""

    model_config = _StrictModel
    name: str = ""
    table: str
    id: str
    timestamp: str
    description: str | None = None
    scope: list[str] = Field(default_factory=list)


class ExperimentSource(BaseModel):
    """A table of randomized experiment assignments (one row per unit and experiment)."""

    model_config = _StrictModel
    name: str = ""
    table: str
    id: str
    unit: str
    arm: str
    control: str
    started: str


class Catalog(BaseModel):
    """The whole catalog; graph edges are (upstream, downstream) metric names."""

    model_config = ConfigDict(extra="allow", frozen=True)
    dialect: str = "duckdb"
    grain: Grain = "hour"
    metrics: dict[str, MetricDef]
    changes: dict[str, ChangeSource] = Field(default_factory=dict)
    experiments: dict[str, ExperimentSource] = Field(default_factory=dict)
    graph: list[tuple[str, str]] = Field(default_factory=list)
    pii: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        try:
            sqlglot.Dialect.get_or_raise(value)
        except ValueError as err:
            raise ValueError(f"expected a sqlglot dialect name, got {value!r}") from err
        return value

    @field_validator("changes", "experiments", "pii", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("graph", mode="before")
    @classmethod
    def _graph_none(cls, value: object) -> object:
        return [] if value is None else value

    @model_validator(mode="after")
    def _names_and_graph(self) -> Catalog:
        for group in (self.metrics, self.changes, self.experiments):
            for key, item in group.items():
                object.__setattr__(item, "name", key)
        missing = sorted({m for edge in self.graph for m in edge if m not in self.metrics})
        if missing:
            raise ValueError(f"graph names metrics not defined under metrics: {', '.join(missing)}")
        return self

    def timestamp_columns(self) -> dict[str, set[str]]:
        """Columns the catalog declares as event times, per table (they are loaded as timestamps)."""
        cols: dict[str, set[str]] = {}
        for m in self.metrics.values():
            cols.setdefault(m.table, set()).add(m.timestamp)
        for c in self.changes.values():
            cols.setdefault(c.table, set()).add(c.timestamp)
        for e in self.experiments.values():
            cols.setdefault(e.table, set()).add(e.started)
        return cols

    def ancestors(self, metric: str) -> list[str]:
        """Metrics upstream of ``metric`` in the graph, nearest first."""
        parents: dict[str, list[str]] = {}
        for up, down in self.graph:
            parents.setdefault(down, []).append(up)
        seen: list[str] = []
        frontier = list(parents.get(metric, []))
        while frontier:
            node = frontier.pop(0)
            if node not in seen and node != metric:
                seen.append(node)
                frontier.extend(parents.get(node, []))
        return seen


class CatalogError(ValueError):
    """A catalog that cannot be used; ``errors`` lists every problem found, one line each."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = str(path)
        self.errors = errors
        super().__init__("; ".join(f"{self.path}: {e}" for e in errors))


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_catalog(raw: object, *, source: Path | str = "catalog.yaml") -> Catalog:
    """Validate an already-parsed YAML document into a Catalog, reporting every error with its key path."""
    if not isinstance(raw, dict):
        raise CatalogError(source, ["(top level): expected a mapping with at least `metrics`"])
    try:
        return Catalog.model_validate(raw)
    except ValidationError as err:
        errors = []
        for e in err.errors():
            msg = e["msg"].removeprefix("Value error, ")
            got = e.get("input")
            detail = f" (got {got!r})" if e["type"] in {"string_type", "literal_error", "bool_parsing"} else ""
            errors.append(f"{_loc(e['loc'])}: {msg}{detail}")
        raise CatalogError(source, errors) from None


def load_catalog(path: Path) -> Catalog:
    """Read and validate ``catalog.yaml`` (file level only; see ``check_against_schema`` for the warehouse)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(path, ["file not found"])
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CatalogError(path, [f"not valid YAML: {err}".replace("\n", " ")]) from None
    return parse_catalog(raw, source=path)


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _sql_columns(sql: str, dialect: str) -> set[str] | str:
    """Column names an SQL expression reads, or an error message when it does not parse."""
    tree: exp.Expr
    try:
        tree = sqlglot.parse_one(sql, read=dialect, into=exp.Condition)
    except Exception:
        try:
            tree = sqlglot.parse_one(f"SELECT {sql}", read=dialect)
        except Exception as err:  # noqa: BLE001 - sqlglot raises several types
            return f"expected an SQL expression, got {sql!r} ({str(err).splitlines()[0]})"
    return {c.name for c in tree.find_all(exp.Column)}


def check_against_schema(catalog: Catalog, schema: dict[str, dict[str, str]], *,
                         source: Path | str = "catalog.yaml") -> None:
    """Raise CatalogError naming every table or column the catalog uses that the warehouse lacks."""
    errors: list[str] = []
    lower = {t.lower(): t for t in schema}

    def table_cols(key: str, table: str) -> dict[str, str] | None:
        real = lower.get(table.lower())
        if real is None:
            errors.append(f"{key}.table: table {table!r} not found in the warehouse{_suggest(table, list(schema))}")
            return None
        return {c.lower(): c for c in schema[real]}

    def need(key: str, table: str, cols: dict[str, str], column: str | None) -> None:
        if column is not None and column.lower() not in cols:
            errors.append(f"{key}: column {column!r} not found in table {table!r}"
                          f"{_suggest(column, list(cols.values()))}")

    for name, m in catalog.metrics.items():
        cols = table_cols(f"metrics.{name}", m.table)
        if cols is None:
            continue
        for field in ("timestamp", "unit"):
            need(f"metrics.{name}.{field}", m.table, cols, getattr(m, field))
        for i, d in enumerate(m.dimensions):
            need(f"metrics.{name}.dimensions[{i}]", m.table, cols, d)
        for field in ("value", "affected_when"):
            sql = getattr(m, field)
            if sql is None:
                continue
            used = _sql_columns(sql, catalog.dialect)
            if isinstance(used, str):
                errors.append(f"metrics.{name}.{field}: {used}")
                continue
            for col in sorted(used):
                need(f"metrics.{name}.{field}", m.table, cols, col)
    for name, c in catalog.changes.items():
        cols = table_cols(f"changes.{name}", c.table)
        if cols is None:
            continue
        for field in ("id", "timestamp", "description"):
            need(f"changes.{name}.{field}", c.table, cols, getattr(c, field))
        for i, s in enumerate(c.scope):
            need(f"changes.{name}.scope[{i}]", c.table, cols, s)
    for name, e in catalog.experiments.items():
        cols = table_cols(f"experiments.{name}", e.table)
        if cols is None:
            continue
        for field in ("id", "unit", "arm", "started"):
            need(f"experiments.{name}.{field}", e.table, cols, getattr(e, field))
    for table, pii_cols in catalog.pii.items():
        cols = table_cols(f"pii.{table}", table)
        if cols is None:
            continue
        for i, col in enumerate(pii_cols):
            need(f"pii.{table}[{i}]", table, cols, col)
    if errors:
        raise CatalogError(source, errors)
