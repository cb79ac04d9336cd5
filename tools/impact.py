"""How many units a root cause reached: a guarded count(distinct unit), never the unit ids themselves.

Spec: distinct ``unit`` values of the metric's table, in the anomaly window, inside the root cause's reach
(its scope, its treatment arm, or its segment), counting only units with a row meeting ``affected_when``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlglot import exp

from tools.catalog import ExperimentSource, MetricDef
from tools.metric_sql import col, equals_filters, literal, parse_sql_expr, time_between


def impact_query(*, metric: MetricDef, dialect: str, start: datetime, end: datetime,
                 reach: Mapping[str, object] | None = None, filters: Mapping[str, object] | None = None,
                 experiment: tuple[ExperimentSource, str, str] | None = None) -> exp.Select:
    """count(distinct unit) in the window, inside a dimension reach or an experiment's treatment arm.

    ``experiment`` is (source, experiment id, control arm): units assigned to any other arm count.
    """
    if not metric.unit:
        raise ValueError(f"metric {metric.name} has no unit: no impact sizing")
    conds: list[exp.Expr] = [*time_between(metric, start, end), *equals_filters(reach or {}),
                             *equals_filters(filters or {})]
    if metric.affected_when:
        conds.append(parse_sql_expr(metric.affected_when, dialect))
    if experiment is not None:
        source, exp_id, control = experiment
        arm_units = (exp.select(col(source.unit)).from_(exp.to_table(source.table, quoted=True))
                     .where(exp.and_(exp.EQ(this=col(source.id), expression=literal(exp_id)),
                                     exp.NEQ(this=col(source.arm), expression=literal(control)))))
        conds.append(exp.In(this=col(metric.unit), query=exp.Subquery(this=arm_units)))
    count = exp.Count(this=exp.Distinct(expressions=[col(metric.unit)]))
    return (exp.select(exp.alias_(count, "affected_units", quoted=True))
            .from_(exp.to_table(metric.table, quoted=True)).where(exp.and_(*conds)))
