"""tools.ranking: the timing fit and the one score."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tools.ranking import Features, timing_fit

ONSET = datetime(2026, 3, 1, 12)
H = timedelta(hours=1)


@pytest.mark.parametrize(("lag", "fit"), [(0, 1.0), (2, 1.0), (-0.5, 1.0), (-1.5, 0.7), (-2.5, 0.5), (-5, 0.05)])
def test_timing_fit_around_the_onset(lag: float, fit: float):
    assert timing_fit(ONSET - lag * H, ONSET, H)[0] == pytest.approx(fit)


@pytest.mark.parametrize("minutes", range(-48 * 60, 48 * 60 + 1, 15))
def test_timing_fit_is_defined_for_every_lag(minutes: int):
    """A cause exactly three buckets after the onset raised KeyError and killed the whole investigation."""
    for step in (timedelta(minutes=1), H, timedelta(days=1)):
        fit, text = timing_fit(ONSET + timedelta(minutes=minutes), ONSET, step)
        assert 0.0 < fit <= 1.0 and text


def test_three_buckets_after_the_onset_is_the_last_tolerated_lag():
    assert timing_fit(ONSET + 3 * H, ONSET, H)[0] == pytest.approx(0.5)
    assert timing_fit(ONSET + 3 * H + timedelta(minutes=1), ONSET, H)[0] == pytest.approx(0.05)


def test_a_cause_long_before_the_onset_decays_but_keeps_a_floor():
    near, _ = timing_fit(ONSET - 5 * H, ONSET, H)
    far, text = timing_fit(ONSET - 100 * H, ONSET, H)
    assert 0.1 < near < 1.0 and far == pytest.approx(0.1) and "would have shown sooner" in text


def test_without_a_clear_onset_any_cause_inside_the_analysed_period_fits():
    late = ONSET + 10 * H
    assert timing_fit(late, ONSET, H)[0] == pytest.approx(0.05)            # a known onset rules it out
    fit, text = timing_fit(late, ONSET, H, until=ONSET + 24 * H)
    assert fit == 1.0 and "no clear onset" in text
    assert timing_fit(ONSET + 30 * H, ONSET, H, until=ONSET + 24 * H)[0] == pytest.approx(0.05)  # after it
    assert timing_fit(ONSET - 10 * H, ONSET, H, until=ONSET + 24 * H)[0] < 1.0                   # long before


def test_score_multiplies_its_factors():
    f = Features(explained=0.64, p_value=0.01, refutations_passed=4, refutations_run=5, timing=0.5, design=0.75)
    assert f.score() == pytest.approx(0.8 * 0.99 * (5 / 6) * 0.5 * 0.75)
    assert Features(explained=-0.3, p_value=0.0).score() == 0.0
    assert Features(explained=1.0, p_value=1.0).score() == pytest.approx(0.02)


def test_a_nan_feature_scores_zero_not_nan():
    """An estimate over cells with a zero denominator (inf/NaN in the warehouse) is no evidence; NaN is not JSON."""
    assert Features(explained=float("nan"), p_value=0.01).score() == 0.0
    assert Features(explained=0.5, p_value=float("nan")).score() == 0.0


def test_a_pre_trend_failure_near_its_threshold_costs_little_and_a_clear_one_all():
    from tools.ranking import PRE_TREND_TIMING, lead_fit

    assert lead_fit(1e-6, 0.05) == PRE_TREND_TIMING               # a clear lead: the change came too late
    assert lead_fit(0.005, 0.05) == PRE_TREND_TIMING              # a tenth of the threshold
    assert lead_fit(0.049, 0.05) > 0.95                           # one time in twenty for a true cause
    assert PRE_TREND_TIMING < lead_fit(0.01, 0.05) < lead_fit(0.02, 0.05) < lead_fit(0.049, 0.05)
    assert lead_fit(0.009, 0.01) > 0.9 > lead_fit(0.009, 0.05)    # the data-chosen lead's stricter threshold
    assert lead_fit(None, None) == PRE_TREND_TIMING               # a test without a p-value (minute-level lead)
