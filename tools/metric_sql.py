"""Builds the engine's metric queries as sqlglot expressions (never string-formatted SQL with values in it).

All aggregation happens in the warehouse: Python only ever sees cells (segment x bucket or period),
never event rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
import sqlglot
from sqlglot import exp

from tools.catalog import MetricDef

GRAIN_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def ts_literal(value: datetime) -> exp.Expression:
    """A naive-UTC timestamp literal that every dialect understands."""
    return exp.cast(exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S")), exp.DataType.build("timestamp"))


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def aliased_table(name: str, alias: str) -> exp.Table:
    """``name AS alias`` as a real table node (``exp.alias_`` would wrap it in a column alias)."""
    return exp.Table(this=exp.to_identifier(name, quoted=True), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def parse_sql_expr(sql: str, dialect: str) -> exp.Expr:
    """Parse a catalog SQL fragment (a metric value or condition)."""
    return sqlglot.parse_one(sql, read=dialect)


def equals_filters(filters: Mapping[str, object], table: str | None = None) -> list[exp.Expression]:
    """``dim = value`` conditions; a None value means the dimension is unrestricted."""
    return [exp.EQ(this=col(d, table), expression=literal(v)) for d, v in sorted(filters.items()) if v is not None]


def time_between(metric: MetricDef, start: datetime | None, end: datetime | None) -> list[exp.Expression]:
    ts = col(metric.timestamp)
    conds: list[exp.Expression] = []
    if start is not None:
        conds.append(exp.GTE(this=ts.copy(), expression=ts_literal(start)))
    if end is not None:
        conds.append(exp.LT(this=ts.copy(), expression=ts_literal(end)))
    return conds


def bucket_expr(metric: MetricDef, grain: str) -> exp.Expression:
    return exp.TimestampTrunc(this=col(metric.timestamp), unit=exp.Var(this=grain.upper()))


def period_expr(metric: MetricDef, periods: Sequence[tuple[str, datetime, datetime]]) -> exp.Expression:
    """CASE WHEN ts in [start, end) THEN label ... END, first matching period wins."""
    case = exp.Case()
    for label, start, end in periods:
        case = case.when(exp.and_(*time_between(metric, start, end)), exp.Literal.string(label))
    return case


def metric_cells(metric: MetricDef, *, dialect: str, group_by: Sequence[str] = (), grain: str | None = None,
                 periods: Sequence[tuple[str, datetime, datetime]] | None = None,
                 start: datetime | None = None, end: datetime | None = None,
                 filters: Mapping[str, object] | None = None,
                 where: Sequence[exp.Expression] = ()) -> exp.Select:
    """SELECT [bucket] [period] dims..., <metric value> AS value, count(*) AS n ... GROUP BY the keys.

    ``periods`` also restricts rows to the union of the periods so nothing else is scanned.
    """
    keys: list[exp.Expr] = []
    if grain:
        keys.append(exp.alias_(bucket_expr(metric, grain), "bucket", quoted=True))
    if periods:
        keys.append(exp.alias_(period_expr(metric, periods), "period", quoted=True))
    keys.extend(exp.alias_(col(d), d, quoted=True) for d in group_by)
    value = parse_sql_expr(metric.value, dialect)
    select = exp.select(*keys, exp.alias_(value, "value", quoted=True),
                        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True)).from_(
        exp.to_table(metric.table, quoted=True))
    conds: list[exp.Expr] = [*time_between(metric, start, end), *equals_filters(filters or {}), *where]
    if periods:
        conds.append(exp.or_(*[exp.and_(*time_between(metric, s, e)) for _, s, e in periods]))
    if conds:
        select = select.where(exp.and_(*conds))
    if keys:
        # Group by the expressions themselves (not positions): every dialect and the guard's qualifier agree.
        exprs = [k.this.copy() for k in keys]
        select = select.group_by(*exprs)
        # Every key, not only the bucket: a parallel hash aggregate returns groups in any order, and the row
        # order reaches the refuters' random subsets (the same seed then drew other cells run to run).
        select = select.order_by(*[exp.column(k.alias, quoted=True) for k in keys])
    return select


def numeric_values(frame: pd.DataFrame, columns: Sequence[str] = ("value",)) -> pd.DataFrame:
    """Cells as numbers (in place; the frame's attrs, e.g. its evidence id, are kept): drivers return a metric's
    value as Decimal, text or None depending on the warehouse, and NaN is what the maths expects for None."""
    for c in columns:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


def is_additive(metric: MetricDef, dialect: str) -> bool:
    """True when the metric is a plain sum/count (it adds up across segments); otherwise treat it as a rate."""
    tree = parse_sql_expr(metric.value, dialect)
    return isinstance(tree, exp.Sum | exp.Count)
