"""Effect of a randomized experiment's treatment arm on a metric, among assigned units after assignment.

Units are randomized, so the difference of per-unit means between arms is an unbiased effect; the
warehouse aggregates rows to one value per unit (never returning unit ids) and then to per-arm moments,
and a Welch t-test gives the p-value and confidence interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
from pydantic import BaseModel
from scipy import stats
from sqlglot import exp

from tools.catalog import ExperimentSource, MetricDef
from tools.metric_sql import aliased_table, col, literal, parse_sql_expr, ts_literal


class ArmStats(BaseModel):
    arm: str
    units: int
    mean: float
    var: float


class ExperimentEstimate(BaseModel):
    experiment_id: str
    arm: str
    control: str
    effect: float
    ci: tuple[float, float]
    p_value: float
    arms: list[ArmStats]
    started: datetime | None
    method: str = ("randomized assignment: difference of per-unit means, treatment arm vs control, among "
                   "assigned units after their assignment (Welch t-test)")


def _qualify(expr: exp.Expr, alias: str) -> exp.Expr:
    """Point the catalog's bare column names at the metric table's alias (the join adds a second table)."""
    expr = expr.copy()
    for c in expr.find_all(exp.Column):
        if not c.table:
            c.set("table", exp.to_identifier(alias))
    return expr


def arm_query(*, metric: MetricDef, source: ExperimentSource, experiment_id: str, dialect: str,
              end: datetime, filters: Mapping[str, object] | None = None) -> exp.Select:
    """Per-arm unit counts, means and variances of the per-unit metric value after assignment."""
    m, e = "m", "e"
    value = _qualify(parse_sql_expr(metric.value, dialect), m)
    conds = [exp.EQ(this=col(source.id, e), expression=literal(experiment_id)),
             exp.GTE(this=col(metric.timestamp, m), expression=col(source.started, e)),
             exp.LT(this=col(metric.timestamp, m), expression=ts_literal(end))]
    conds += [exp.EQ(this=col(d, m), expression=literal(v)) for d, v in sorted((filters or {}).items())]
    inner = (exp.select(exp.alias_(col(source.arm, e), "arm", quoted=True), exp.alias_(value, "v", quoted=True))
             .from_(aliased_table(metric.table, m))
             .join(aliased_table(source.table, e),
                   on=exp.EQ(this=col(metric.unit or "", m), expression=col(source.unit, e)))
             .where(exp.and_(*conds))
             .group_by(col(source.arm, e), col(metric.unit or "", m)))
    return (exp.select(col("arm"), exp.alias_(exp.Count(this=exp.Star()), "units", quoted=True),
                       exp.alias_(exp.Avg(this=col("v")), "mean", quoted=True),
                       exp.alias_(exp.VariancePop(this=col("v")), "var", quoted=True))
            .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("u"))))
            .group_by(col("arm")).order_by(col("arm")))


def started_query(*, source: ExperimentSource, experiment_ids: list[str]) -> exp.Select:
    """When each experiment began (first assignment) and how many units it has."""
    return (exp.select(exp.alias_(col(source.id), "experiment_id", quoted=True),
                       exp.alias_(exp.Min(this=col(source.started)), "started", quoted=True),
                       exp.alias_(exp.Count(this=exp.Star()), "assignments", quoted=True))
            .from_(exp.to_table(source.table, quoted=True))
            .where(exp.In(this=col(source.id), expressions=[literal(i) for i in experiment_ids]) if experiment_ids
                   else exp.true())
            .group_by(col(source.id)))


def estimate_experiment(*, experiment_id: str, control: str, arms: list[ArmStats], direction: float,
                        started: datetime | None) -> ExperimentEstimate:
    """Pick the treatment arm that moved most in the anomaly's direction and test it against control."""
    ctrl = next((a for a in arms if a.arm == control), None)
    if ctrl is None:
        raise ValueError(f"experiment {experiment_id}: no units in the control arm {control!r} after assignment")
    best: ExperimentEstimate | None = None
    for arm in arms:
        if arm.arm == control or arm.units < 2 or ctrl.units < 2:
            continue
        diff = arm.mean - ctrl.mean
        se = float(np.sqrt(arm.var / arm.units + ctrl.var / ctrl.units))
        if se <= 0:
            se = 1e-12
        num = (arm.var / arm.units + ctrl.var / ctrl.units) ** 2
        den = ((arm.var / arm.units) ** 2 / max(arm.units - 1, 1)) + ((ctrl.var / ctrl.units) ** 2 /
                                                                     max(ctrl.units - 1, 1))
        dof = num / den if den > 0 else max(arm.units + ctrl.units - 2, 1)
        tval = diff / se
        p = float(2 * stats.t.sf(abs(tval), dof))
        q = float(stats.t.ppf(0.975, dof))
        cand = ExperimentEstimate(experiment_id=experiment_id, arm=arm.arm, control=control, effect=diff,
                                  ci=(diff - q * se, diff + q * se), p_value=p, arms=arms, started=started)
        if best is None or direction * cand.effect / se > direction * best.effect / max(
                (best.ci[1] - best.ci[0]) / (2 * q), 1e-12):
            best = cand
    if best is None:
        raise ValueError(f"experiment {experiment_id}: needs at least two units in a treatment and the control arm")
    return best
