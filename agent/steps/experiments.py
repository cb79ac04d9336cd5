"""Step: treatment vs control among assigned units after assignment, for experiments running in the window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlglot import exp

from agent.report import ExperimentEstimateData
from agent.state import Candidate, Investigation, StepTrail, failed_candidate
from agent.steps.levels import Levels
from tools.anomaly import GRAIN_DELTA, AnomalyWindow
from tools.catalog import ExperimentSource
from tools.experiments import ArmStats, arm_query, estimate_experiment, started_query
from tools.metric_sql import aliased_table, col, ts_literal
from tools.ranking import (
    WITHIN_NOISE,
    Features,
    anomaly_factor,
    explained_share,
    incident_sign,
    randomized_timing,
    timing_fit,
    timing_until,
)

STEP = "experiments"


@dataclass
class ExperimentsOut:
    candidates: list[Candidate]
    trail: StepTrail


def step_experiments(inv: Investigation, anomaly: AnomalyWindow, levels: Levels) -> ExperimentsOut:
    """Treatment vs control among assigned units after assignment, for experiments running in the window."""
    mark = inv.mark()
    m = inv.metric
    out: list[Candidate] = []
    if inv.catalog.experiments and not m.unit:
        inv.limitations.append(f"metric {m.name} has no unit: experiments cannot be joined to it")
    if not inv.catalog.experiments or not m.unit:
        return ExperimentsOut(candidates=out, trail=inv.trail(mark))
    buckets = pd.to_datetime(anomaly.series["bucket"])
    total_rows = float(anomaly.series.loc[(buckets >= pd.Timestamp(levels.onset)) &
                                          (buckets < pd.Timestamp(anomaly.end)), "n"].sum())
    for name, src in inv.catalog.experiments.items():
        starts = inv.sql(started_query(source=src, experiment_ids=[]), f"experiments in {name}")
        for _, row in starts.iterrows():
            exp_id = str(row["experiment_id"])
            started = pd.Timestamp(row["started"]).to_pydatetime()
            if started >= anomaly.end:
                continue
            try:
                out.append(_experiment(inv, src, exp_id, started, anomaly, levels, total_rows))
            except Exception as err:  # one candidate's failure is recorded, not fatal
                out.append(failed_candidate(inv, step=STEP, kind="experiment", id=exp_id,
                                            title=f"experiment {exp_id}", err=err))
    return ExperimentsOut(candidates=out, trail=inv.trail(mark))


def _experiment(inv: Investigation, src: ExperimentSource, exp_id: str, started: datetime, anomaly: AnomalyWindow,
                levels: Levels, total_rows: float) -> Candidate:
    """One experiment as a ranked candidate: its arms after assignment, its exposure, its features."""
    m = inv.metric
    arms_f = inv.sql(arm_query(metric=m, source=src, experiment_id=exp_id, dialect=inv.dialect, end=anomaly.end,
                               filters=inv.incident.filters), f"{m.name} per arm of {exp_id} after assignment")
    arms = [ArmStats(arm=str(r["arm"]), units=int(r["units"]), mean=float(r["mean"]), var=float(r["var"] or 0.0))
            for _, r in arms_f.iterrows() if r["mean"] is not None]
    try:
        est = estimate_experiment(experiment_id=exp_id, control=src.control, arms=arms,
                                  direction=incident_sign(levels.delta, anomaly), started=started)
    except ValueError as err:
        return Candidate(kind="experiment", id=exp_id, title=f"experiment {exp_id}", features=Features(),
                         reasons=[f"not estimable: {err}"])
    exposure = _exposure(inv, src, exp_id, est.control, levels.onset, anomaly.end, total_rows)
    explained = explained_share(est.effect, exposure, est.p_value, delta=levels.delta, anomaly=anomaly)
    tfit, ttext = timing_fit(started, levels.onset, GRAIN_DELTA[inv.grain], until=timing_until(anomaly))
    tfit, ttext = randomized_timing(tfit, ttext, started, levels.onset, anomaly.end, explained, est.p_value)
    f = Features(explained=explained, p_value=est.p_value, timing=tfit, design=1.0,
                 anomaly=anomaly_factor(anomaly, randomized_p=est.p_value if explained > 0 else None))
    eid = inv.evidence.add(f"Effect of experiment {exp_id} on {m.name}", ExperimentEstimateData(
                           experiment_id=exp_id, arm=est.arm, control=est.control,
                           effect=est.effect, ci=list(est.ci), p_value=est.p_value,
                           arms=[a.model_dump() for a in est.arms], exposure=exposure,
                           explained_share=explained, started=started.isoformat(),
                           randomized=True, sql_evidence=arms_f.attrs["evidence"]), method=est.method)
    reasons = [f"{ttext} (first assignment {started.isoformat()})",
               f"randomized: arm {est.arm} differs from control by {est.effect:.4g} per unit; explains "
               f"{explained:.0%} of the observed change ({exposure:.0%} of the window's rows are treated)"]
    if not anomaly.found and f.anomaly > WITHIN_NOISE:
        reasons.append(f"the series shows no clear anomaly, but randomization does not need one: the arm "
                       f"moved clearly (p={est.p_value:.2g}), so confidence is kept at {f.anomaly:.0%}")
    return Candidate(kind="experiment", id=exp_id, title=f"experiment {exp_id} (arm {est.arm} vs {est.control})",
                     features=f, effect=est.effect, ci=est.ci, p_value=est.p_value, timing=ttext, reasons=reasons,
                     evidence=[eid, arms_f.attrs["evidence"]], experiment=(src, exp_id, est.control))


def _exposure(inv: Investigation, src: ExperimentSource, exp_id: str, control: str, start: datetime,
              end: datetime, total_rows: float) -> float:
    """Share of the window's metric rows that come from treated units after their assignment."""
    m = inv.metric
    assert m.unit is not None  # experiments are only analysed for a metric with a unit
    q = (exp.select(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True))
         .from_(aliased_table(m.table, "m"))
         .join(aliased_table(src.table, "e"), on=exp.EQ(this=col(m.unit, "m"), expression=col(src.unit, "e")))
         .where(exp.and_(exp.EQ(this=col(src.id, "e"), expression=exp.Literal.string(exp_id)),
                         exp.NEQ(this=col(src.arm, "e"), expression=exp.Literal.string(control)),
                         exp.GTE(this=col(m.timestamp, "m"), expression=col(src.started, "e")),
                         exp.GTE(this=col(m.timestamp, "m"), expression=ts_literal(start)),
                         exp.LT(this=col(m.timestamp, "m"), expression=ts_literal(end)),
                         *[exp.EQ(this=col(d, "m"), expression=exp.Literal.string(str(v)))
                           for d, v in sorted(inv.incident.filters.items())])))
    rows = inv.sql(q, f"rows of treated units of {exp_id} in the window")
    n = float(rows["rows"].iloc[0] or 0) if not rows.empty else 0.0
    return n / total_rows if total_rows else 0.0
