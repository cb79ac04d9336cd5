"""Step: a DoWhy estimate per candidate change on a (segment x bucket) panel, refuters on the strongest ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from agent.report import CausalEstimateData
from agent.state import Candidate, Investigation, StepTrail, failed_candidate
from agent.steps.levels import Levels
from tools.anomaly import GRAIN_DELTA, AnomalyWindow
from tools.causal import (
    ChangeCandidate,
    ChangeEstimate,
    LeadSupport,
    Refutation,
    comparison_panel,
    estimate_change,
    lead_in_minutes,
    lead_periods,
    lead_support,
)
from tools.metric_sql import metric_cells, numeric_values
from tools.ranking import (
    ITS_DESIGN,
    LEAD_TESTS,
    PRE_TREND_TIMING,
    WITHIN_NOISE,
    Features,
    anomaly_factor,
    carries_movement,
    explained_share,
    lead_fit,
    timing_fit,
    timing_until,
)
from tools.segments import SegmentScore

REFUTE_TOP = 3                # full DoWhy refutation for the strongest candidates only (cost control)
PANEL_SPAN = timedelta(days=7)  # the panel reaches a week before the onset at most
STEP = "change_estimates"
Estimate = ChangeEstimate | str | Exception  # an estimate, why it is not estimable, or what went wrong


@dataclass
class ChangeEstimatesOut:
    candidates: list[Candidate]
    trail: StepTrail


class Panels:
    """The (segment x bucket) panels the estimates need, one query per set of dimensions."""

    def __init__(self, inv: Investigation, anomaly: AnomalyWindow, levels: Levels, included: list[ChangeCandidate],
                 filters: dict[str, str]) -> None:
        self.inv, self.anomaly, self.levels, self.included, self.filters = inv, anomaly, levels, included, filters
        self.step = GRAIN_DELTA[inv.grain]
        self._frames: dict[tuple[str, ...], pd.DataFrame] = {}

    def dims(self, change: ChangeCandidate) -> tuple[str, ...]:
        """The filter's dimensions (the cells outside it are the comparison) and every dimension the change or
        its concurrent changes are scoped on, so all treatments are exact."""
        dims: list[str] = list(self.filters)
        for c in [change, *concurrent(change, self.included, self.step)]:
            for d, v in c.scope.items():
                if v is not None and d in self.inv.metric.dimensions and d not in dims:
                    dims.append(d)
        return tuple(dims)

    def frame(self, dims: tuple[str, ...]) -> pd.DataFrame:
        if dims not in self._frames:
            inv, m = self.inv, self.inv.metric
            first = max(pd.Timestamp(self.anomaly.series["bucket"].iloc[0]).to_pydatetime(),
                        self.levels.onset - PANEL_SPAN)
            # Up to detection, not just the window's end: a change acts until it is rolled back, so an anomaly
            # that recovered before the alert was looked at (a blip) is not explained by a change still in place.
            # Not narrowed to the filter: `comparison_panel` keeps what lies outside it only where untreated.
            q = metric_cells(m, dialect=inv.dialect, grain=inv.grain, group_by=list(dims), start=first,
                             end=max(self.anomaly.end, inv.incident.detected_at))
            p = inv.sql(q, f"{m.name} panel by {', '.join(dims) or 'time'} x {inv.grain}")
            numeric_values(p)
            self._frames[dims] = p.dropna(subset=["value"])
        return self._frames[dims]

    def estimate(self, change: ChangeCandidate, *, refute: bool) -> ChangeEstimate:
        dims = self.dims(change)
        return estimate_change(panel=comparison_panel(self.frame(dims), list(dims), change, self.filters),
                               dims=list(dims), change=change, others=concurrent(change, self.included, self.step),
                               grain=self.inv.grain, window=self.levels.analysis_period, refute=refute,
                               seed=_seed(change.id), population=self.filters)


def step_change_estimates(inv: Investigation, anomaly: AnomalyWindow, levels: Levels, changes: list[ChangeCandidate],
                          top_segment: SegmentScore | None) -> ChangeEstimatesOut:
    """DoWhy estimate per change on a (segment x bucket) panel, refuters on the strongest ones."""
    mark = inv.mark()
    filters = {k: str(v) for k, v in inv.incident.filters.items()}
    excluded = [c for c in changes if any(c.scope.get(d) not in (None, v) for d, v in filters.items())]
    included = [c for c in changes if c not in excluded]
    panels = Panels(inv, anomaly, levels, included, filters)
    panel_eids = {c.id: panels.frame(panels.dims(c)).attrs.get("evidence") for c in included}
    estimates = _screen(inv, panels, included, levels, anomaly)
    moving = top_segment if top_segment is not None and carries_movement(top_segment) else None
    _refute_strongest(inv, panels, included, estimates, levels, anomaly, moving)
    out: list[Candidate] = [
        Candidate(kind="change", id=c.id, title=c.description or c.id, features=Features(explained=0.0),
                  reasons=[f"its scope ({c.scope_text()}) lies outside the incident's population "
                           f"({', '.join(f'{d}={v}' for d, v in sorted(filters.items()))})"]) for c in excluded]
    for change in included:
        out.append(_candidate(inv, change, estimates[change.id], panel_eids[change.id], levels, anomaly,
                              top_segment))
    return ChangeEstimatesOut(candidates=out, trail=inv.trail(mark))


def _screen(inv: Investigation, panels: Panels, included: list[ChangeCandidate], levels: Levels,
            anomaly: AnomalyWindow) -> dict[str, Estimate]:
    """First pass: screening effects without refuters (a ValueError means not estimable, anything else failed)."""
    estimates: dict[str, Estimate] = {}
    for change in included:
        try:
            estimates[change.id] = panels.estimate(change, refute=False)
        except ValueError as err:
            estimates[change.id] = str(err)
        except Exception as err:  # one candidate's failure is recorded, not fatal
            estimates[change.id] = err
    return estimates


def _refute_strongest(inv: Investigation, panels: Panels, included: list[ChangeCandidate],
                      estimates: dict[str, Estimate], levels: Levels, anomaly: AnomalyWindow,
                      moving: SegmentScore | None) -> None:
    """Second pass: DoWhy with refuters (and the minute-level lead test at hour grain) on the strongest few."""
    prelim = []
    for change in included:
        est = estimates[change.id]
        if isinstance(est, ChangeEstimate):
            try:
                f, _ = change_features(est, levels, anomaly, change, panels.step)
            except Exception as err:  # one candidate's failure is recorded, not fatal
                estimates[change.id] = err
                continue
            prelim.append((f.score(), change.id))
    prelim.sort(reverse=True)
    for _, cid in prelim[:REFUTE_TOP]:
        inv.progress(f"refuting {cid}")
        change = next(c for c in included if c.id == cid)
        try:
            est = panels.estimate(change, refute=True)
            if inv.grain == "hour" and not levels.additive:
                lead, est.lead_support = lead_test(inv, change, est.effect, moving)
                est.refutations.append(lead)
            estimates[cid] = est
        except Exception as err:  # one candidate's failure is recorded, not fatal
            estimates[cid] = err


def _candidate(inv: Investigation, change: ChangeCandidate, est: Estimate, panel_eid: str | None, levels: Levels,
               anomaly: AnomalyWindow, top_segment: SegmentScore | None) -> Candidate:
    """One change as a ranked candidate, with its estimate recorded as evidence."""
    m = inv.metric
    outside = [f"{d}={v}" for d, v in change.scope.items() if v is not None and d not in m.dimensions]
    notes = [f"scope on {', '.join(outside)} is not a dimension of {m.name}: treated as all"] if outside else []
    title = change.description or change.id
    if isinstance(est, str):
        return Candidate(kind="change", id=change.id, title=title, features=Features(explained=0.0),
                         reasons=[f"not estimable: {est}"] + notes)
    if isinstance(est, Exception):
        return failed_candidate(inv, step=STEP, kind="change", id=change.id, title=title, err=est)
    try:
        f, ttext = change_features(est, levels, anomaly, change, GRAIN_DELTA[inv.grain])
    except Exception as err:  # one candidate's failure is recorded, not fatal
        return failed_candidate(inv, step=STEP, kind="change", id=change.id, title=title, err=err)
    reasons = [f"{ttext} ({change.at.isoformat()} vs onset {levels.onset.isoformat()})",
               f"explains {f.explained:.0%} of the observed change (effect {est.effect:.4g} in scope x "
               f"{est.exposure:.0%} of the window's rows)"]
    if not anomaly.found and f.anomaly > WITHIN_NOISE:
        reasons.append(f"the series shows no clear anomaly, but the comparison with untreated segments does: "
                       f"the scope moved clearly against them (p={est.p_value:.2g}), so confidence is kept at "
                       f"{f.anomaly:.0%}")
    if top_segment is not None and not change.touches(top_segment.dimensions):
        reasons.append(f"its scope ({change.scope_text()}) does not reach the moving segment {top_segment.key}")
    reasons += est.notes + notes
    eid = inv.evidence.add(f"Effect of {change.id} on {m.name}", CausalEstimateData(
        change=change.model_dump(mode="json"), effect=est.effect, ci=list(est.ci), p_value=est.p_value,
        design=est.design, cells=est.n_cells, treated_cells=est.treated_cells, exposure=est.exposure,
        adjusted_for=est.adjusted_for, refutations=[r.model_dump() for r in est.refutations],
        explained_share=f.explained, timing_fit=f.timing, panel_sql=panel_eid,
        lead_support=est.lead_support.model_dump() if est.lead_support is not None else None), method=est.method)
    return Candidate(kind="change", id=change.id, title=title, features=f, effect=est.effect, ci=est.ci,
                     p_value=est.p_value, refutations={r.name: r.passed for r in est.refutations},
                     timing=ttext, reasons=reasons, evidence=[eid] + ([panel_eid] if panel_eid else []),
                     reach={d: v for d, v in change.scope.items() if v is not None and d in m.dimensions},
                     at=change.at, twins=list(est.twins), lead_support=est.lead_support)


def lead_test(inv: Investigation, change: ChangeCandidate, effect: float,
              moving: SegmentScore | None = None) -> tuple[Refutation, LeadSupport | None]:
    """The change's scope right before and after it (`lead_periods`), against the same clock windows on earlier days:
    was it already moving (the test), and could its rows have shown that (the support, reported with the top cause)?

    `moving`: the segment that carries the movement. Where the change reaches it, the test looks there: a
    global deploy credited with a regional surge must not find that region already moving before it landed,
    and across everyone the region's first minutes are diluted by the rest.
    """
    m = inv.metric
    scope = {d: v for d, v in change.scope.items() if v is not None and d in m.dimensions}
    where = f"the scope of {change.id}"
    if moving is not None and change.touches(moving.dimensions) and set(moving.dimensions) - set(scope):
        scope = {**scope, **moving.dimensions}
        where = f"{moving.key}, where {change.id}'s effect would be"
    frame = inv.sql(metric_cells(m, dialect=inv.dialect, periods=lead_periods(change.at),
                                 filters={**inv.incident.filters, **scope}),
                    f"{m.name} in {where}, the hour around it (in parts) vs the same clock windows before")
    numeric_values(frame)
    frame = frame.dropna(subset=["value"])
    return lead_in_minutes(frame, effect), lead_support(frame, effect)


def change_features(est: ChangeEstimate, levels: Levels, anomaly: AnomalyWindow, change: ChangeCandidate,
                    step: timedelta) -> tuple[Features, str]:
    """The change's ranking features and the sentence saying how its timing fits."""
    explained = explained_share(est.effect, est.exposure, est.p_value, delta=levels.delta, anomaly=anomaly)
    tfit, ttext = timing_fit(change.at, levels.onset, step, until=timing_until(anomaly))
    fits = [(lead_fit(r.p_value, r.threshold), r) for r in est.refutations if r.name in LEAD_TESTS and not r.passed]
    fit, lead = min(fits, key=lambda x: x[0], default=(1.0, None))
    if lead is not None and fit < tfit:
        tfit, ttext = fit, ("its scope was already moving before it landed (pre-trend test): it cannot have "
                            "started the shift" if fit <= PRE_TREND_TIMING else
                            f"its scope may have been moving before it landed (pre-trend test p={lead.p_value:.2g}, "
                            f"just under its {lead.threshold:g} threshold): a weak sign it did not start the shift")
    compared = est.p_value if est.design == "did" and explained > 0 else None
    return Features(explained=explained, p_value=est.p_value,
                    refutations_passed=sum(r.passed for r in est.refutations), refutations_run=len(est.refutations),
                    timing=tfit, design=1.0 if est.design == "did" else ITS_DESIGN,
                    anomaly=anomaly_factor(anomaly, compared_p=compared)), ttext


def concurrent(change: ChangeCandidate, all_changes: list[ChangeCandidate], step: timedelta) -> list[ChangeCandidate]:
    """Changes to adjust for: those in the 24 h before it (pre-treatment confounders) and those in the same
    two buckets after it (indistinguishable in time otherwise); later ones are post-treatment and left out."""
    return [o for o in all_changes
            if o.id != change.id and -timedelta(hours=24) <= o.at - change.at <= 2 * step]


def _seed(text: str) -> int:
    return sum((i + 1) * ord(ch) for i, ch in enumerate(text)) % (2**31)
