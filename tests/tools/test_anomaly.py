"""The anomaly detector on synthetic hourly series: level shifts, responder windows, noise and seasonality."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tools.anomaly import find_anomaly, regularize, seasonal_expected

START = datetime(2026, 3, 1)
HOUR = timedelta(hours=1)
SHIFT_AT = 200                       # bucket index of the level shift (10 days of data = 240 buckets)
ONSET = START + SHIFT_AT * HOUR


def series(seed: int, *, hours: int = 240, shift: float = 0.0, season: float = 0.0, noise: float = 0.01,
           n: int = 400, base: float = 0.10) -> pd.DataFrame:
    """``bucket, value, n`` like the warehouse returns: a rate with noise, daily cycle and optional shift."""
    rng = np.random.default_rng(seed)
    buckets = pd.date_range(START, periods=hours, freq="h")
    value = base + season * np.sin(2 * np.pi * buckets.hour.to_numpy() / 24) + rng.normal(0, noise, hours)
    value[SHIFT_AT:] += shift
    return pd.DataFrame({"bucket": buckets, "value": value, "n": n})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_level_shift_is_found_with_its_onset(seed: int):
    s = series(seed, shift=0.05, season=0.03)
    a = find_anomaly(s, grain="hour", higher_is_worse=True, detected_at=ONSET + 6 * HOUR)
    assert a.found and a.source == "detected" and a.direction == "up"
    assert abs(a.onset - ONSET) <= HOUR and abs(a.start - ONSET) <= HOUR
    assert a.end > ONSET + 6 * HOUR            # the run covers the buckets up to detection at least
    assert a.peak_z > 3 and a.score >= 6
    assert {"bucket", "value", "n", "expected", "z"} <= set(a.series.columns)


def test_drop_on_a_lower_is_worse_metric_is_found_going_down():
    s = series(3, shift=-0.05, season=0.03)
    a = find_anomaly(s, grain="hour", higher_is_worse=False, detected_at=ONSET + 6 * HOUR)
    assert a.found and a.direction == "down" and abs(a.onset - ONSET) <= HOUR


@pytest.mark.parametrize("seed", [0, 4])
def test_responder_window_is_kept_and_the_earlier_onset_reported(seed: int):
    window = (ONSET + 5 * HOUR, ONSET + 12 * HOUR)   # the alert fired five hours after the real start
    a = find_anomaly(series(seed, shift=0.05, season=0.03), grain="hour", higher_is_worse=True,
                     detected_at=ONSET + 10 * HOUR, window=window)
    assert a.found and a.source == "incident"
    assert (a.start, a.end) == window
    assert a.onset < window[0] and abs(a.onset - ONSET) <= HOUR


def test_window_on_a_quiet_series_reports_no_anomaly_and_no_earlier_onset():
    window = (ONSET + 5 * HOUR, ONSET + 12 * HOUR)
    a = find_anomaly(series(5), grain="hour", higher_is_worse=True, detected_at=ONSET + 10 * HOUR, window=window)
    assert not a.found and a.onset == window[0] and (a.start, a.end) == window


@pytest.mark.parametrize("seed", range(6))
def test_pure_noise_is_not_an_anomaly(seed: int):
    a = find_anomaly(series(seed), grain="hour", higher_is_worse=True, detected_at=START + 230 * HOUR)
    assert not a.found and a.score < 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_daily_seasonality_alone_is_not_an_anomaly(seed: int):
    # the daily cycle swings +-5 noise sigmas: a detector without a seasonal baseline would fire every evening
    a = find_anomaly(series(seed, season=0.05), grain="hour", higher_is_worse=True, detected_at=START + 230 * HOUR)
    assert not a.found
    # ... and the same cycle with a real shift on top is still found
    b = find_anomaly(series(seed, season=0.05, shift=0.05), grain="hour", higher_is_worse=True,
                     detected_at=ONSET + 6 * HOUR)
    assert b.found and abs(b.onset - ONSET) <= HOUR


def test_a_spike_on_almost_no_traffic_is_not_an_anomaly_but_on_full_traffic_it_is():
    low = series(1)
    low.loc[SHIFT_AT, ["value", "n"]] = [0.2, 4]      # 10 sigmas, from 4 rows
    a = find_anomaly(low, grain="hour", higher_is_worse=True, detected_at=ONSET + 2 * HOUR)
    assert not a.found
    full = series(1)
    full.loc[SHIFT_AT, "value"] = 0.2                 # the same jump from 400 rows
    b = find_anomaly(full, grain="hour", higher_is_worse=True, detected_at=ONSET + 2 * HOUR)
    assert b.found and b.start == ONSET


def test_missing_buckets_are_filled_not_skipped():
    s = series(0).drop(index=[10, 11, 12])
    full = regularize(s, "hour")
    assert len(full) == 240 and full["n"].iloc[10:13].tolist() == [0, 0, 0]
    assert full["value"].iloc[10:13].isna().all()


def test_empty_series_is_an_error():
    with pytest.raises(ValueError, match="no data"):
        find_anomaly(pd.DataFrame(columns=["bucket", "value", "n"]), grain="hour", higher_is_worse=True,
                     detected_at=START)


@pytest.mark.parametrize("seed", range(3))
def test_without_a_clear_run_the_day_before_detection_is_analysed_in_the_worsening_direction(seed: int):
    detected = START + 230 * HOUR
    for worse_up in (True, False):
        a = find_anomaly(series(seed), grain="hour", higher_is_worse=worse_up, detected_at=detected)
        assert not a.found
        assert (a.start, a.end) == (detected - 24 * HOUR, detected)   # not a noise-chosen hour somewhere
        assert a.onset == a.start and a.direction == ("up" if worse_up else "down")


def test_a_responder_window_whose_mean_leans_the_other_way_keeps_the_stronger_worsening_run():
    # 8 hours of a drop (-0.16 in all), then 4 hours of a bounce (+0.176): the window averages slightly up,
    # but the drop is the stronger run and the worsening one for this metric (a mean-sign rule reported "up" here)
    s = series(2)
    window = (ONSET, ONSET + 12 * HOUR)
    b = s["bucket"]
    s.loc[(b >= window[0]) & (b < window[0] + 8 * HOUR), "value"] -= 0.02
    s.loc[(b >= window[0] + 8 * HOUR) & (b < window[1]), "value"] += 0.044
    a = find_anomaly(s, grain="hour", higher_is_worse=False, detected_at=window[1], window=window)
    assert a.series["z"].to_numpy()[SHIFT_AT:SHIFT_AT + 12].mean() > 0
    assert a.found and a.direction == "down"


@pytest.mark.parametrize("window", [True, False])
def test_the_direction_the_responder_stated_is_the_one_explained_even_under_a_larger_opposite_run(window: bool):
    """A drop the responder reported (-0.03 for 12 h) sits under a larger rise right after it (+0.06 for 12 h).
    Read from the series alone, the rise wins even against the worsening preference; the responder asked
    about the drop, so with the direction stated only the drop is searched."""
    s = series(6)
    b = s["bucket"]
    s.loc[(b >= ONSET - 14 * HOUR) & (b < ONSET - 2 * HOUR), "value"] -= 0.03
    s.loc[(b >= ONSET - 2 * HOUR) & (b < ONSET + 10 * HOUR), "value"] += 0.06
    kw = {"grain": "hour", "higher_is_worse": False, "detected_at": ONSET + 10 * HOUR,
          "window": (ONSET - 14 * HOUR, ONSET + 10 * HOUR) if window else None}
    assert find_anomaly(s, **kw).direction == "up" and not find_anomaly(s, **kw).stated
    down = find_anomaly(s, **kw, stated="down")
    assert down.found and down.direction == "down" and down.stated
    assert abs(down.onset - (ONSET - 14 * HOUR)) <= HOUR
    assert find_anomaly(s, **kw, stated="up").direction == "up"


def test_a_run_merged_with_days_of_mild_drift_takes_its_onset_at_the_sharp_shift():
    # two days of a mild lift (just above the run's drift allowance) lead into a real jump: the excess run
    # starts with the drift, the onset is the jump (responders file hours after an onset, not days)
    s = series(0, noise=0.004)
    b = s["bucket"]
    s.loc[(b >= ONSET - 48 * HOUR) & (b < ONSET), "value"] += 0.009
    s.loc[b >= ONSET, "value"] += 0.05
    window = (ONSET + 4 * HOUR, ONSET + 12 * HOUR)
    a = find_anomaly(s, grain="hour", higher_is_worse=True, detected_at=window[1], window=window)
    assert a.found and abs(a.onset - ONSET) <= HOUR
    d = find_anomaly(s, grain="hour", higher_is_worse=True, detected_at=ONSET + 12 * HOUR)
    assert d.found and abs(d.onset - ONSET) <= HOUR and abs(d.start - ONSET) <= HOUR


def test_a_responder_window_with_nothing_clear_is_read_in_the_worsening_direction():
    s = series(5)
    window = (ONSET + 5 * HOUR, ONSET + 12 * HOUR)
    b = s["bucket"]
    s.loc[(b >= window[0]) & (b < window[0] + 3 * HOUR), "value"] += 0.015   # a small bump the wrong way
    for worse_up, direction in ((False, "down"), (True, "up")):
        a = find_anomaly(s, grain="hour", higher_is_worse=worse_up, detected_at=window[1], window=window)
        assert not a.found and a.direction == direction


@pytest.mark.parametrize("days", [3, 4, 5])
def test_a_few_days_of_pure_noise_rarely_look_anomalous(days: int):
    """A profile learned in sample (the median of k days is one of them) zeroes a k-th of the residuals and
    collapses the noise scale: 10-40% of these series were called anomalies before leave-one-day-out."""
    found = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        hours = days * 24
        buckets = pd.date_range(START, periods=hours, freq="h")
        n = rng.poisson(200, hours)
        value = rng.binomial(n, 0.03 + 0.01 * np.sin(2 * np.pi * buckets.hour.to_numpy() / 24)) / n
        a = find_anomaly(pd.DataFrame({"bucket": buckets, "value": value, "n": n}), grain="hour",
                         higher_is_worse=True, detected_at=START + (hours - 1) * HOUR)
        found += a.found
    assert found <= 2, f"{found} of 60 noise series called anomalous"


def test_the_daily_profile_is_learned_only_from_the_buckets_before_the_incident():
    """Whatever the incident buckets hold, the expected values (of every bucket) come from the fit buckets."""
    rng = np.random.default_rng(0)
    buckets = pd.date_range(START, periods=96, freq="h")
    value = 0.10 + 0.03 * np.sin(2 * np.pi * buckets.hour.to_numpy() / 24) + rng.normal(0, 0.01, 96)
    fit = np.arange(96) < 66
    calm = regularize(pd.DataFrame({"bucket": buckets, "value": value, "n": 400}), "hour")
    wild = calm.assign(value=np.where(fit, value, value + 0.5))
    assert np.allclose(seasonal_expected(calm, "hour", fit), seasonal_expected(wild, "hour", fit))
    assert not np.allclose(seasonal_expected(calm, "hour"), seasonal_expected(wild, "hour"))



def _weekly(seed: int, *, days: int, weekend: float, start: datetime = START, shift_at: int | None = None,
            shift: float = 0.0, drift: float = 0.0) -> pd.DataFrame:
    """A rate with a daily cycle, a weekend lift, day-to-day drift and an optional shift."""
    rng = np.random.default_rng(seed)
    buckets = pd.date_range(start, periods=days * 24, freq="h")
    weekend_day = np.asarray(buckets.dayofweek) >= 5
    rate = 0.03 * (1 + 0.5 * np.sin(2 * np.pi * np.asarray(buckets.hour) / 24)) * np.where(weekend_day, 1 + weekend, 1)
    rate = rate + np.repeat(rng.normal(0, drift, days), 24)
    if shift_at is not None:
        rate[shift_at:] += shift
    n = rng.poisson(3000, len(buckets))
    return pd.DataFrame({"bucket": buckets, "value": rng.binomial(n, np.clip(rate, 0, 1)) / n, "n": n})


@pytest.mark.parametrize("seed", [0, 1])
def test_a_weekend_lift_is_learned_once_the_history_holds_a_weekend(seed: int):
    """Two weeks of a rate 40% higher at weekends (START is a Sunday): a quiet Saturday is not an incident,
    and a Monday shift is found at its own onset, not at the weekend before it."""
    quiet = _weekly(seed, days=14, weekend=0.4)
    a = find_anomaly(quiet, grain="hour", higher_is_worse=True, detected_at=START + (13 * 24 + 20) * HOUR)
    assert not a.found
    shift_at = 15 * 24 + 11                                              # Monday 11:00
    moved = _weekly(seed, days=16, weekend=0.4, shift_at=shift_at, shift=0.006)
    b = find_anomaly(moved, grain="hour", higher_is_worse=True, detected_at=START + (16 * 24 - 1) * HOUR)
    assert b.found and abs(b.onset - (START + shift_at * HOUR)) <= HOUR


def test_a_weekly_phase_is_judged_on_whole_days_not_hours():
    """Saturday to Tuesday whose levels only drift day to day: the hours share their day's drift, so counted
    as hours the weekend "differs"; counted as days (two of each) it does not, and nothing weekly is removed."""
    from tools.anomaly import _weekly_key, _weekly_shift

    saturday = START - timedelta(days=1)
    false_weekly = 0
    for seed in range(20):
        s = regularize(_weekly(seed, days=5, weekend=0.0, drift=0.004, start=saturday), "hour")
        day = s["bucket"].dt.normalize().to_numpy()
        fit = (s["bucket"] < saturday + timedelta(days=4)).to_numpy()
        key = _weekly_key(s["bucket"], day, fit)
        assert key is not None                                           # the fit does hold a weekend
        resid = s["value"].to_numpy() - s["value"].median()
        false_weekly += _weekly_shift(resid, key, day, fit)
    assert false_weekly <= 1
    lifted = regularize(_weekly(0, days=15, weekend=0.4, drift=0.001), "hour")
    day = lifted["bucket"].dt.normalize().to_numpy()
    fit = np.ones(len(lifted), dtype=bool)
    key = _weekly_key(lifted["bucket"], day, fit)
    assert _weekly_shift(lifted["value"].to_numpy() - lifted["value"].median(), key, day, fit)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_ramp_takes_its_onset_where_it_starts_not_mid_ramp(seed: int):
    """A queue filling: 5 and 10 noise-sd above normal for two hours, then a plateau at 20. The two-phase split
    lands at the plateau; the clearly-off hours before it are the incident's first hours."""
    s = series(seed, noise=0.01)
    s.loc[SHIFT_AT, "value"] += 0.05
    s.loc[SHIFT_AT + 1, "value"] += 0.10
    s.loc[SHIFT_AT + 2:, "value"] += 0.20
    a = find_anomaly(s, grain="hour", higher_is_worse=True, detected_at=ONSET + 10 * HOUR)
    assert a.found and a.onset == ONSET, a.onset
    with_window = find_anomaly(s, grain="hour", higher_is_worse=True, detected_at=ONSET + 10 * HOUR,
                               window=(ONSET + 4 * HOUR, ONSET + 10 * HOUR))
    assert with_window.onset == ONSET and with_window.start == ONSET + 4 * HOUR
