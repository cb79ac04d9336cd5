"""DoWhy change estimates on synthetic (region x hour) panels with a known, scoped effect.

DoWhy's import is slow, so the refuted estimates are computed once per module.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tools.causal import (
    ChangeCandidate,
    ChangeEstimate,
    comparison_panel,
    estimate_change,
    exposure,
    scope_onset,
    treatment_column,
)

START = datetime(2026, 3, 1)
H = timedelta(hours=1)
HOURS = 96
AT = START + 58 * H                      # the real change lands on day 3, 10:00
END = START + HOURS * H
EFFECT = 0.05
REGION_LEVEL = {"EU": 0.0, "NA": 0.02, "APAC": -0.01}

REAL = ChangeCandidate(source="deployments", id="d-real", at=AT, scope={"region": "EU", "platform": None})
DECOY = ChangeCandidate(source="config", id="c-decoy", at=AT + timedelta(minutes=20), scope={"region": "NA"})
LATE = ChangeCandidate(source="deployments", id="d-late", at=AT + 12 * H, scope={"region": "EU"})


def panel(seed: int, *, effect: float = EFFECT, regions: tuple[str, ...] = ("EU", "NA", "APAC")) -> pd.DataFrame:
    """``bucket, region, value, n``: a rate with region levels, a daily cycle, noise, and +effect in EU after AT."""
    rng = np.random.default_rng(seed)
    buckets = pd.date_range(START, periods=HOURS, freq="h")
    frames = []
    for region in regions:
        value = (0.10 + REGION_LEVEL[region] + 0.02 * np.sin(2 * np.pi * buckets.hour.to_numpy() / 24)
                 + rng.normal(0, 0.01, HOURS))
        if region == "EU":
            value = value + effect * (buckets >= pd.Timestamp(AT))
        frames.append(pd.DataFrame({"bucket": buckets, "region": region, "value": value, "n": 500}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return panel(0)


@pytest.fixture(scope="module")
def real(data: pd.DataFrame) -> ChangeEstimate:
    return estimate_change(panel=data, dims=["region"], change=REAL, others=[DECOY], grain="hour",
                           window=(AT, END), refute=True)


def test_scoped_effect_is_recovered_within_its_ci(real: ChangeEstimate):
    assert real.design == "did"
    assert real.ci[0] <= EFFECT <= real.ci[1] and real.ci[0] < real.effect < real.ci[1]
    assert real.effect == pytest.approx(EFFECT, abs=0.01)
    assert real.p_value < 1e-6
    assert real.n_cells == 3 * HOURS and real.treated_cells == HOURS - 58
    assert real.exposure == pytest.approx(1 / 3)      # EU is one third of the window's rows
    assert real.adjusted_for == ["c-decoy"] and "c-decoy" in real.method


def test_refutations_are_present_and_pass_for_the_real_cause(real: ChangeEstimate):
    by_name = {r.name: r for r in real.refutations}
    assert set(by_name) == {"placebo_treatment", "random_common_cause", "data_subset", "placebo_time", "pre_trend"}
    assert all(r.passed for r in real.refutations), [r.model_dump() for r in real.refutations]
    assert abs(by_name["placebo_treatment"].new_effect) < 0.25 * real.effect
    assert by_name["random_common_cause"].new_effect == pytest.approx(real.effect, rel=0.1)


def test_refuters_use_their_own_seeded_generator_not_the_global_one(data: pd.DataFrame):
    # same outcomes run after run, and the process-wide numpy generator is neither reseeded nor consumed: other
    # threads (the similar-incident search runs beside the estimates) cannot shift the refuters' draws
    runs = []
    for state in (1, 2):
        np.random.seed(state)
        before = np.random.get_state()[1].copy()
        est = estimate_change(panel=data, dims=["region"], change=REAL, others=[DECOY], grain="hour",
                              window=(AT, END), refute=True, seed=7)
        assert np.array_equal(np.random.get_state()[1], before)
        runs.append([(r.name, r.new_effect, r.p_value) for r in est.refutations])
    assert runs[0] == runs[1]


def test_concurrent_decoy_with_another_scope_gets_no_effect(data: pd.DataFrame):
    decoy = estimate_change(panel=data, dims=["region"], change=DECOY, others=[REAL], grain="hour",
                            window=(AT, END), refute=False)
    assert decoy.ci[0] <= 0 <= decoy.ci[1]
    assert abs(decoy.effect) < 0.1 * EFFECT and decoy.p_value > 0.05
    assert decoy.adjusted_for == ["d-real"]
    assert [r.name for r in decoy.refutations] == ["pre_trend"]      # screening runs only the cheap lead test


def test_change_landing_after_its_scope_already_moved_fails_the_pre_trend_test(data: pd.DataFrame):
    late = REAL.model_copy(update={"id": "late", "at": AT + timedelta(hours=4)})
    est = estimate_change(panel=data, dims=["region"], change=late, others=[], grain="hour", window=(AT, END),
                          refute=False)
    lead = next(r for r in est.refutations if r.name == "pre_trend")
    assert not lead.passed, lead.detail


def test_scope_onset_finds_where_the_scope_moved_not_where_the_change_landed(data: pd.DataFrame):
    late = REAL.model_copy(update={"id": "late", "at": AT + timedelta(hours=8)})
    assert scope_onset(data, ["region"], late, "hour", direction=1.0) == AT
    assert scope_onset(data, ["region"], REAL, "hour", direction=1.0) == AT
    est = estimate_change(panel=data, dims=["region"], change=late, others=[], grain="hour", window=(AT, END),
                          refute=False)
    lead = next(r for r in est.refutations if r.name == "pre_trend")
    assert not lead.passed and "8 buckets" in lead.detail and "p <= 0.01" in lead.detail, lead.detail


def test_change_after_the_effect_onset_fails_the_placebo_time_check(data: pd.DataFrame):
    late = estimate_change(panel=data, dims=["region"], change=LATE, others=[], grain="hour", window=(AT, END),
                           refute=True)
    placebo = next(r for r in late.refutations if r.name == "placebo_time")
    assert not placebo.passed and placebo.new_effect > 0.2 * EFFECT   # the effect was already there before it
    assert late.effect < EFFECT


def test_no_effect_change_has_a_ci_around_zero():
    est = estimate_change(panel=panel(5, effect=0.0), dims=["region"], change=REAL, others=[], grain="hour",
                          window=(AT, END), refute=False)
    assert est.ci[0] <= 0 <= est.ci[1] and abs(est.effect) < 0.01


def test_change_reaching_everything_uses_an_interrupted_time_series():
    one = panel(2, regions=("EU",)).drop(columns="region")
    everywhere = ChangeCandidate(source="deployments", id="d-all", at=AT, scope={"region": None})
    est = estimate_change(panel=one, dims=[], change=everywhere, others=[], grain="hour", window=(AT, END),
                          refute=False)
    assert est.design == "its" and "interrupted time series" in est.method
    assert est.effect == pytest.approx(EFFECT, rel=0.2) and est.exposure == 1.0


def test_a_same_scope_change_a_bucket_later_is_not_adjusted_for_but_noted(data: pd.DataFrame):
    # adjusting for it would leave one bucket to tell them apart; a cause whose effect shows a bucket late
    # would then get none of its effect
    later = ChangeCandidate(source="deployments", id="d-next", at=AT + timedelta(minutes=70),
                            scope={"region": "EU", "platform": None})
    est = estimate_change(panel=data, dims=["region"], change=REAL, others=[later], grain="hour",
                          window=(AT, END), refute=False)
    assert est.adjusted_for == [] and any("d-next" in n and "70 min apart" in n for n in est.notes)
    assert est.twins == ["d-next"]                          # structured, for the ranking to split the evidence
    assert est.effect == pytest.approx(EFFECT, abs=0.01)
    far = later.model_copy(update={"at": AT + 3 * H})
    far_est = estimate_change(panel=data, dims=["region"], change=REAL, others=[far], grain="hour",
                              window=(AT, END), refute=False)
    assert far_est.adjusted_for == ["d-next"] and far_est.twins == []


def test_twin_change_with_the_same_scope_and_hour_is_noted_not_adjusted(data: pd.DataFrame):
    twin = ChangeCandidate(source="config", id="c-twin", at=AT + timedelta(minutes=5), scope={"region": "EU"})
    est = estimate_change(panel=data, dims=["region"], change=REAL, others=[twin], grain="hour", window=(AT, END),
                          refute=False)
    assert est.adjusted_for == [] and any("c-twin" in n for n in est.notes) and est.twins == ["c-twin"]


@pytest.mark.parametrize("change", [
    ChangeCandidate(source="x", id="future", at=END + 10 * H, scope={"region": "EU"}),
    ChangeCandidate(source="x", id="elsewhere", at=AT, scope={"region": "MARS"}),
])
def test_change_reaching_no_cell_is_an_error(data: pd.DataFrame, change: ChangeCandidate):
    with pytest.raises(ValueError, match=f"change {change.id} reaches no cell"):
        estimate_change(panel=data, dims=["region"], change=change, others=[], grain="hour", window=(AT, END),
                        refute=False)


def test_treatment_starts_in_the_bucket_the_change_lands_in_by_the_half_bucket_rule():
    p = pd.DataFrame({"bucket": pd.date_range(START, periods=3, freq="h"), "region": ["EU", "EU", "NA"], "n": 1})
    early = ChangeCandidate(source="x", id="a", at=START + timedelta(minutes=20), scope={"region": "EU"})
    late = ChangeCandidate(source="x", id="b", at=START + timedelta(minutes=40), scope={"region": "EU"})
    assert treatment_column(p, ["region"], early, "hour").tolist() == [1.0, 1.0, 0.0]
    assert treatment_column(p, ["region"], late, "hour").tolist() == [0.0, 1.0, 0.0]
    assert exposure(p, ["region"], late, "hour", START, START + 3 * H) == pytest.approx(1 / 3)


def test_candidate_scope_helpers():
    assert REAL.covers({"region": "EU"}) and not REAL.covers({"region": "NA"})
    assert REAL.touches({"region": "EU", "platform": "ios"}) and REAL.touches({"platform": "ios"})
    assert not REAL.touches({"region": "NA"})
    assert REAL.scope_text() == "region=EU"
    assert ChangeCandidate(source="x", id="y", at=AT, scope={"region": None}).scope_text() == "all"


def test_ci_matches_the_full_two_way_fixed_effects_regression(data: pd.DataFrame, real: ChangeEstimate):
    import statsmodels.formula.api as smf

    frame = data.assign(t=treatment_column(data, ["region"], REAL, "hour"),
                        o=treatment_column(data, ["region"], DECOY, "hour"), b=data["bucket"].astype(str))
    fit = smf.wls("value ~ t + o + C(region) + C(b)", data=frame, weights=frame["n"]).fit()
    lo, hi = fit.conf_int().loc["t"]
    assert real.effect == pytest.approx(fit.params["t"], rel=1e-6)   # same coefficient (FWL) ...
    assert (real.ci[1] - real.ci[0]) / (hi - lo) == pytest.approx(1.0, abs=0.05)   # ... and the same uncertainty


def test_the_minute_level_lead_catches_a_scope_moving_within_the_hour_before_its_change():
    """Hourly buckets cannot tell a deploy landing 50 minutes into a regional surge from its cause; the rows'
    own timestamps can: the hour before the change against the same clock hour on the days before."""
    from datetime import datetime

    from tools.causal import lead_in_minutes, lead_periods

    assert [p[0] for p in lead_periods(datetime(2026, 3, 27, 11, 24))][:5] == [
        "before_60", "before_30", "before_15", "after", "before_60_ref"]

    def cells(before: float, after: float, n: float = 1500.0, last: float | None = None) -> pd.DataFrame:
        """Rows spread evenly over the hour before; `last`: the rate of its last 15 minutes if different."""
        parts = {"before_60": (before, n / 2), "before_30": (before, n / 4),
                 "before_15": (before if last is None else last, n / 4), "after": (after, n)}
        rows = [(k, v, m) for k, (v, m) in parts.items()] + [(k + "_ref", 0.02, 3 * m) for k, (_, m) in parts.items()]
        return pd.DataFrame(rows, columns=["period", "value", "n"])

    surge = lead_in_minutes(cells(before=0.05, after=0.07), effect=0.05)
    assert not surge.passed and surge.name == "pre_trend_minutes"           # already up before it landed
    assert lead_in_minutes(cells(before=0.02, after=0.07), effect=0.05).passed          # the change's own shift
    assert lead_in_minutes(cells(before=0.026, after=0.07), effect=0.05).passed         # drift: < 1/3 of after
    assert lead_in_minutes(cells(before=0.05, after=0.07, n=40.0), effect=0.05).passed  # too few rows to tell
    # a surge 15 minutes old when the change lands: a quarter of the hour, all of the last quarter
    late = cells(before=0.02, after=0.07, n=2400.0, last=0.055)
    assert not lead_in_minutes(late, effect=0.05).passed
    assert "15 min" in lead_in_minutes(late, effect=0.05).detail
    pooled = late.assign(period=late["period"].str.replace("_30|_15", "_60", regex=True)).groupby("period").apply(
        lambda g: pd.Series({"value": (g["value"] * g["n"]).sum() / g["n"].sum(), "n": g["n"].sum()}),
        include_groups=False).reset_index()
    assert lead_in_minutes(pooled, effect=0.05).passed                  # the whole hour alone dilutes it below z 3
    # the hour is the most off window (z 8.5) but by under a third of the hour after; the last quarter is off
    # by more than that third (z 7.3): one failing window is enough
    creeping = lead_in_minutes(cells(before=0.03, after=0.08, n=12000.0, last=0.045), effect=0.05)
    assert not creeping.passed and "the 15 min before" in creeping.detail
    # 2 events in the last quarter hour's 10 rows where 0.2 were expected: a normal test reads z 3.5, the exact
    # count test (the window's share of all events, binomial) does not call that a surge
    assert lead_in_minutes(cells(before=0.02, after=0.3, n=40.0, last=0.2), effect=0.05).passed
    assert lead_in_minutes(cells(before=0.05, after=0.07).iloc[:3], effect=0.05).passed  # no hour-after reference


def test_lead_support_says_whether_the_hour_before_a_change_could_have_shown_an_earlier_start():
    """A clean hour before a change is evidence that the shift began with it only when its rows could have
    shown an earlier start: 23 rows at a 2% rate cannot tell an hour already at 7% (external_surge-07's LATAM
    hour had 0 events); 1,500 rows can."""
    from tools.causal import lead_support

    def cells(rate: float, n: float) -> pd.DataFrame:
        rows = [(f"before_{m}", rate, n / 3) for m in (60, 30, 15)] + [("after", 0.07, n)]
        rows += [(f"before_{m}_ref", 0.02, 3 * max(n, 30.0)) for m in (60, 30, 15)] + [("after_ref", 0.02, 90.0)]
        return pd.DataFrame(rows, columns=["period", "value", "n"])

    sparse = lead_support(cells(0.0, 23.0), effect=0.05)
    assert sparse is not None and sparse.rows == 23 and sparse.events == 0
    assert 0.7 < sparse.support < 0.85                  # P(0 | 23, 2%) = 0.63 vs P(0 | 23, 7%) = 0.19
    assert lead_support(cells(0.02, 1500.0), effect=0.05).support > 0.999
    assert lead_support(cells(0.07, 1500.0), effect=0.05).support < 1e-6       # already at the shifted level
    assert lead_support(cells(0.07, 1500.0), effect=-0.05).support > 0.999     # a drop: 7% is not "shifted down"
    assert lead_support(cells(0.0, 0.0), effect=0.05).support == 0.5           # no rows: the hour cannot say
    assert lead_support(cells(0.02, 30.0).iloc[:4], effect=0.05) is None       # no reference hours
    assert "0 events in 23 rows" in sparse.sentence() and "P=0.77" in sparse.sentence()


def test_a_change_scoped_to_the_filtered_population_is_compared_with_the_cells_outside_it():
    # The responder filtered to EU; something moved every region by +0.03 when the EU change landed. Inside the
    # filter alone (a before/after series) the change takes the shared shift; with the regions it never reached
    # as the comparison, it gets its own +0.05.
    data = panel(3)
    data["value"] += 0.03 * (pd.to_datetime(data["bucket"]) >= pd.Timestamp(AT))
    eu = {"region": "EU"}
    alone = estimate_change(panel=data[data["region"] == "EU"], dims=["region"], change=REAL, others=[],
                            grain="hour", window=(AT, END), refute=False, population=eu)
    assert alone.design == "its" and alone.effect == pytest.approx(EFFECT + 0.03, abs=0.01)
    compared = comparison_panel(data, ["region"], REAL, eu)
    assert len(compared) == len(data)                   # NA and APAC never got it: all of them is comparison
    est = estimate_change(panel=compared, dims=["region"], change=REAL, others=[], grain="hour", window=(AT, END),
                          refute=False, population=eu)
    assert est.design == "did" and est.effect == pytest.approx(EFFECT, abs=0.01)
    assert "outside the incident's filter (region=EU)" in est.method and "filter" not in alone.method
    assert est.exposure == pytest.approx(1.0)           # every row of the population was treated, not a third


def test_cells_outside_the_filter_that_the_change_reached_are_left_out():
    data = panel(4)
    everywhere = ChangeCandidate(source="deployments", id="d-all", at=AT, scope={"region": None})
    assert set(comparison_panel(data, ["region"], everywhere, {"region": "EU"})["region"]) == {"EU"}
    na = ChangeCandidate(source="deployments", id="d-na", at=AT, scope={"region": "NA"})
    assert set(comparison_panel(data, ["region"], na, {"region": "EU"})["region"]) == {"EU", "APAC"}
    assert comparison_panel(data, ["region"], na, {}) is data
