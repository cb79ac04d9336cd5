"""Finds the anomalous window of a metric series: seasonality-aware, volume-weighted, direction-aware.

Method: remove a robust seasonal profile (hour-of-day, then weekend vs weekday once the history holds a
weekend, or day-of-week with three weeks of it) from the series, standardize residuals by a robust scale
(weighted by sqrt(rows) for rates, whose noise shrinks with volume), then take the contiguous run of buckets
with the largest CUSUM-style excess sum(z - k) in the worsening direction. With a window given by the
responder, the same search runs around it to report the real onset, which is often hours before the alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

GRAIN_DELTA = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
DRIFT_K = 0.75          # per-bucket allowance: buckets must be > 0.75 sigma off to grow the run
ANCHOR_BUCKETS = {"minute": 24 * 60, "hour": 24, "day": 7}  # the period before detection analysed without a clear run
MIN_SCORE = 6.0          # excess below this is indistinguishable from noise (about 1 in 100 on pure noise)


@dataclass
class AnomalyWindow:
    """The anomalous period and how sure the detector is of it."""

    start: datetime
    end: datetime
    onset: datetime
    direction: str                 # "up" or "down": the way the metric moved
    score: float                   # CUSUM excess of the run (>= MIN_SCORE: a real change)
    peak_z: float
    found: bool                    # False when nothing stands out from noise
    source: str                    # "incident" or "detected"
    stated: bool = False           # the direction was the responder's, not chosen between the two runs
    series: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # bucket, value, n, expected, z


def regularize(series: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Full bucket range; buckets without rows get n=0 and a NaN value."""
    s = series.copy()
    s["bucket"] = pd.to_datetime(s["bucket"])
    s = s.groupby("bucket", as_index=True).agg(value=("value", "mean"), n=("n", "sum"))
    full = pd.date_range(s.index.min(), s.index.max(), freq=GRAIN_DELTA[grain])
    s = s.reindex(full)
    s["n"] = s["n"].fillna(0)
    s.index.name = "bucket"
    return s.reset_index()


def seasonal_expected(s: pd.DataFrame, grain: str, fit: np.ndarray | None = None) -> np.ndarray:
    """Robust expected value per bucket: overall median plus hour-of-day and weekly medians.

    `fit` marks the buckets the profile is learned from (those before the incident): with a few days of data
    an hour-of-day median that includes the anomalous day can equal it, hiding the shift it should expose.
    A fit bucket's hour-of-day effect comes from the other fit days (leave one day out), so its residual is
    out of sample like the incident's and one noise scale fits both. In sample, the median of k days equals
    one of them: a k-th of the residuals are exactly 0, the robust scale collapses, and 10-40% of three to
    five days of pure noise looked anomalous (about 1% now: tests/tools/test_anomaly.py). A profile whose
    hours differ no more than days do is not applied.
    Weekly: once the fit holds a weekend (weekend vs weekday) or three weeks (day of week), a weekly phase is
    removed the same way if whole days show it (`_weekly_shift`); with three fit days of every phase each
    phase gets its own hours, as a weekend lift scales the daily cycle rather than adding to it.
    """
    y = s["value"].to_numpy(dtype=float)
    fit = np.isfinite(y) if fit is None else (np.asarray(fit, dtype=bool) & np.isfinite(y))
    level = np.nanmedian(y[fit]) if fit.any() else np.nanmedian(y)
    expected = np.full(len(y), level)
    span_days = (s["bucket"].iloc[-1] - s["bucket"].iloc[0]).total_seconds() / 86400 if len(s) else 0
    day = s["bucket"].dt.normalize().to_numpy()
    hours = s["bucket"].dt.hour.to_numpy()
    if grain in {"minute", "hour"} and span_days >= 2:
        expected = _remove_phase(y, expected, hours, day, fit)
    weekly = _weekly_key(s["bucket"], day, fit) if grain in {"hour", "day"} else None
    if weekly is not None and _weekly_shift(y - expected, weekly, day, fit):
        key = weekly
        if grain == "hour" and _fewest_days(weekly, day, fit) >= 3:
            key = weekly * 24 + hours  # a weekly lift scales the daily cycle: learn each phase's own hours
        expected = _remove_phase(y, expected, key, day, fit)
    return expected


def _remove_phase(y: np.ndarray, expected: np.ndarray, key: np.ndarray, day: np.ndarray, fit: np.ndarray
                  ) -> np.ndarray:
    """`expected` plus the phase medians of the residuals; each fit day's own from the other days."""
    resid = y - expected
    effect = phase_effect(resid, key, fit, centred=False)
    days = np.unique(day[fit])
    if len(days) >= 2:
        if _rhythm_variance(resid, key, day, fit) <= 0:
            return expected  # the phases differ no more than days do: no rhythm to remove, only noise to add
        for d in days:
            own = (day == d) & fit
            effect[own] = phase_effect(resid, key, fit & (day != d), centred=False)[own]
    return expected + np.nan_to_num(effect)


def _fit_frame(resid: np.ndarray, key: np.ndarray, day: np.ndarray, fit: np.ndarray) -> pd.DataFrame:
    """The fit buckets' residual (r), phase (k) and day (d)."""
    return pd.DataFrame({"r": resid[fit], "k": key[fit], "d": day[fit]}).dropna()


def _day_phases(key: np.ndarray, day: np.ndarray, fit: np.ndarray) -> pd.Series:
    """The phase of each fit day, for a key that is constant within a day."""
    return pd.Series(key[fit]).groupby(day[fit]).first()


def _fewest_days(key: np.ndarray, day: np.ndarray, fit: np.ndarray) -> int:
    """Fit days of the rarest phase of a daily-constant key."""
    return int(_day_phases(key, day, fit).value_counts().min())


WEEKLY_ALPHA = 0.01  # a weekly phase is removed only when whole days show it this clearly


def _weekly_shift(resid: np.ndarray, key: np.ndarray, day: np.ndarray, fit: np.ndarray) -> bool:
    """Do whole fit days of one weekly phase differ from the others beyond day-to-day drift?

    Hours of a day share that day's drift, so they are not independent evidence: the test (Welch's t, or
    one-way ANOVA for day-of-week) takes each fit day's mean residual as one observation.
    """
    from scipy.stats import f_oneway, ttest_ind

    per_day = _fit_frame(resid, key, day, fit).groupby("d").agg(r=("r", "mean"), k=("k", "first"))
    groups = [g.to_numpy() for _, g in per_day.groupby("k")["r"]]
    if len(groups) < 2 or min(len(g) for g in groups) < 2:
        return False
    if len(groups) == 2:
        p = float(ttest_ind(groups[0], groups[1], equal_var=False).pvalue)
    else:
        p = float(f_oneway(*groups).pvalue)
    return bool(np.isfinite(p) and p < WEEKLY_ALPHA)


def _weekly_key(buckets: pd.Series, day: np.ndarray, fit: np.ndarray) -> np.ndarray | None:
    """The weekly phase the fit days can support: day of week with three of each, else weekend vs weekday.

    Leave-one-day-out needs two days of a phase to learn it; a weekend/weekday split needs one weekend
    (two days), a day-of-week profile three weeks. None when the fit has neither.
    """
    dow = buckets.dt.dayofweek.to_numpy()
    fit_days = _day_phases(dow, day, fit)
    if fit_days.value_counts().reindex(range(7), fill_value=0).min() >= 3:
        return dow
    weekend = (fit_days >= 5).sum()
    if weekend >= 2 and len(fit_days) - weekend >= 2:
        return (dow >= 5).astype(int)
    return None


def _rhythm_variance(resid: np.ndarray, key: np.ndarray, day: np.ndarray, fit: np.ndarray) -> float:
    """Variance of the true per-key effects: the spread of the key means beyond what day-to-day noise gives.

    A daily rhythm learned from a day or two of a rare event is noise (a rate of 0 this hour yesterday);
    removing it would only add that noise.
    """
    grouped = _fit_frame(resid, key, day, fit).groupby("k")["r"]
    within = grouped.var(ddof=1).dropna()
    if within.empty:
        return 0.0
    return float(grouped.mean().var(ddof=1)) - float(within.mean()) * float((1.0 / grouped.count()).mean())


FIT_GAP = timedelta(hours=24)   # the profile is learned on data ending this long before the incident


def _fit_mask(s: pd.DataFrame, cutoff: datetime) -> np.ndarray | None:
    """Buckets before `cutoff`, when they still span two days (else None: learn from everything)."""
    b = s["bucket"]
    fit = (b < pd.Timestamp(cutoff)).to_numpy()
    if not fit.any() or (b[fit].iloc[-1] - b.iloc[0]) < timedelta(days=2):
        return None
    return fit


def phase_effect(values: np.ndarray, phases: np.ndarray, fit: np.ndarray, min_rows: int = 1,
                 centred: bool = True) -> np.ndarray:
    """Per-row seasonal effect: the median of the `fit` rows of each phase (e.g. hour of day), minus the median
    of all `fit` rows when `centred`; 0 for a phase with fewer than `min_rows` fit rows. Subtract it to
    deseasonalize."""
    ref = pd.Series(np.asarray(values, dtype=float)[fit])
    grouped = ref.groupby(np.asarray(phases)[fit])
    profile = grouped.median().where(grouped.size() >= min_rows)
    if centred:
        profile = profile - float(ref.median())
    return profile.reindex(np.asarray(phases)).fillna(0.0).to_numpy()


def _zscores(s: pd.DataFrame, expected: np.ndarray, rate: bool) -> np.ndarray:
    r = s["value"].to_numpy(dtype=float) - expected
    n = s["n"].to_numpy(dtype=float)
    w = np.sqrt(np.clip(n / max(np.median(n[n > 0]) if (n > 0).any() else 1.0, 1e-9), 0.05, 4.0)) if rate \
        else np.ones_like(r)
    rw = r * w
    finite = np.isfinite(rw)
    if finite.sum() < 3:
        return np.zeros_like(r)
    med = np.median(rw[finite])
    sigma = 1.4826 * np.median(np.abs(rw[finite] - med))
    if not np.isfinite(sigma) or sigma <= 1e-12:
        sigma = np.std(rw[finite]) or 1e-12
    z = (rw - med) / sigma
    return np.where(np.isfinite(z), z, 0.0)


def _best_run(z: np.ndarray, lo: int, hi: int, must_overlap: tuple[int, int] | None) -> tuple[float, int, int]:
    """Max-sum contiguous run of (z - k) with start in [lo, hi]; optionally overlapping a bucket range."""
    best = (-np.inf, lo, lo)
    x = z - DRIFT_K
    n = len(x)
    for a in range(lo, min(hi, n - 1) + 1):
        total = 0.0
        for b in range(a, n):
            total += x[b]
            if must_overlap and (b < must_overlap[0] or a > must_overlap[1]):
                continue
            if total > best[0]:
                best = (total, a, b)
    return best


def _fast_best_run(z: np.ndarray, last_start: int, first_end: int = 0) -> tuple[float, int, int]:
    """Kadane's algorithm on (z - k): best run starting by ``last_start`` and ending at or after ``first_end``.

    An incident is filed while (or soon after) its anomaly happens, so runs that ended long before the
    detection time are old news, however strong.
    """
    x = z - DRIFT_K
    best, best_a, best_b = -np.inf, 0, 0
    cur, cur_a = -np.inf, 0
    for i, v in enumerate(x):
        if cur <= 0 and i <= last_start:
            cur, cur_a = 0.0, i
        cur += v
        if i >= first_end and cur > best:
            best, best_a, best_b = cur, cur_a, i
    return best, best_a, best_b


def refine_onset(z: np.ndarray, a: int, b: int, reach: int = 24, ahead: int | None = None) -> int:
    """Sharpen a run's start with the classic single change-point estimate (two-phase mean shift).

    The excess run starts at the first bucket above the small drift allowance, which noise moves hours
    early on a diluted series; the onset is the split of [a - reach, b] that maximizes the standardized
    difference of means between before and after.
    """
    if b <= a:
        return a
    lo = max(0, a - reach)
    seg = z[lo:b + 1]
    n = len(seg)
    if n < 4:
        return a
    csum = np.cumsum(seg)
    total = csum[-1]
    best, best_tau = -np.inf, a
    last = n - 1 if ahead is None else min(n - 1, a - lo + ahead + 1)
    for k in range(max(2, a - lo - reach), last):            # k buckets before the split
        before = csum[k - 1] / k
        after = (total - csum[k - 1]) / (n - k)
        stat = (after - before) * np.sqrt(k * (n - k) / n)
        if stat > best:
            best, best_tau = stat, lo + k
    return int(best_tau)


ONSET_Z = 3.0  # a bucket this far off is part of the incident, not of its baseline


def extend_onset(z: np.ndarray, a: int, reach: int) -> int:
    """Move the onset back over the buckets right before it that are each clearly off (z >= ONSET_Z).

    The two-phase split puts a ramp's onset mid-ramp (a queue filling for hours before responses come late):
    buckets at z 5 and 10 before a plateau at z 20 are the incident's first hours, not its baseline.
    """
    lo = max(0, a - reach)
    while a > lo and z[a - 1] >= ONSET_Z:
        a -= 1
    return a


def onset_on(series: pd.DataFrame, *, grain: str, start: datetime, end: datetime, rate: bool,
             sign: float, reach: int = 24, ahead: int = 8) -> datetime | None:
    """Onset of a shift on a (segment's) series, searched around [start, end): sharper than the total's."""
    if series.empty:
        return None
    s = regularize(series, grain)
    z = sign * _zscores(s, seasonal_expected(s, grain, _fit_mask(s, start - FIT_GAP)), rate)
    b_arr = s["bucket"].to_numpy()
    a = int(np.clip(np.searchsorted(b_arr, np.datetime64(start)), 0, len(s) - 1))
    b = int(np.clip(np.searchsorted(b_arr, np.datetime64(end)) - 1, 0, len(s) - 1))
    if b - a < 1:
        return None
    return pd.Timestamp(s["bucket"].iloc[refine_onset(z, a, b, reach=reach, ahead=ahead)]).to_pydatetime()


def _prefer(runs: list[tuple[float, int, int, float]], preferred: float, *, only: bool = False
            ) -> list[tuple[float, float, int, int]]:
    """(score, sign, start, end) runs, best first: the worsening direction unless the other is clearly stronger;
    `only`: the preferred direction was stated by the responder, the other is not what they asked about."""
    out = [(score, sign, a, b) for score, a, b, sign in runs if not only or sign == preferred]
    return sorted(out, key=lambda r: r[0] * (1.0 if r[1] == preferred else 0.7), reverse=True)


LONG_RUN = timedelta(hours=24)


def _ahead(a: int, b: int, step: timedelta) -> int:
    """How far into the excess run the onset may move: 6 buckets, or anywhere in a run longer than a day.

    Incidents are filed hours after their onset, not days; a run stretching over days is a mild drift (or a
    baseline inflated by rare events) that merged with the incident, and its sharpest shift is the onset.
    """
    return b - a if (b - a) * step > LONG_RUN else 6


def _run_onset(z: np.ndarray, a: int, b: int, step: timedelta) -> int:
    """The onset of the excess run [a, b]: the two-phase split near its start, moved back over a ramp's first
    clearly-off buckets."""
    return extend_onset(z, refine_onset(z, a, b, reach=6, ahead=_ahead(a, b, step)), reach=6)


def find_anomaly(series: pd.DataFrame, *, grain: str, higher_is_worse: bool, detected_at: datetime,
                 window: tuple[datetime, datetime] | None = None, rate: bool = True,
                 stated: str | None = None) -> AnomalyWindow:
    """Locate (or confirm) the anomaly and its onset on a ``bucket, value, n`` series.

    `stated`: the direction the responder said the metric moved ("up" / "down"); only that one is searched.
    Otherwise the worsening direction is preferred unless the other run is clearly stronger.
    """
    if series.empty:
        raise ValueError("the metric has no data in the analysed range")
    s = regularize(series, grain)
    anchor = window[0] if window is not None else detected_at
    expected = seasonal_expected(s, grain, _fit_mask(s, anchor - FIT_GAP))
    z_raw = _zscores(s, expected, rate)
    step = GRAIN_DELTA[grain]
    buckets = list(s["bucket"])

    def index_of(t: datetime) -> int:
        return int(np.clip(np.searchsorted(s["bucket"].to_numpy(), np.datetime64(t), side="right") - 1,
                           0, len(s) - 1))

    only = stated in ("up", "down")
    preferred = 1.0 if (stated == "up" if only else higher_is_worse) else -1.0
    if window is None:
        last_start = index_of(detected_at)
        first_end = index_of(detected_at - timedelta(hours=24)) if detected_at - timedelta(hours=24) > \
            buckets[0] else 0
        score, sign, a, b = _prefer([(*_fast_best_run(sign * z_raw, last_start, first_end), sign)
                                     for sign in (1.0, -1.0)], preferred, only=only)[0]
        found = score >= MIN_SCORE
        if not found:
            # No run stands out, so no onset can be read off the series: analyse the day before the alert
            # (it was firing at detection), in the worsening direction; causes are then timed against
            # that whole period, not against a noise-chosen start.
            sign, b = preferred, index_of(detected_at - step)
            a = max(0, b + 1 - ANCHOR_BUCKETS.get(grain, 24))
            score = float(np.sum(sign * z_raw[a:b + 1] - DRIFT_K))
        else:
            a = _run_onset(sign * z_raw, a, b, step)
        start, end = buckets[a], buckets[b] + step
        onset = start
        source = "detected"
    else:
        w_start, w_end = window
        wa, wb = index_of(w_start), index_of(w_end - step)
        lo = max(0, wa - int(timedelta(hours=48) / step))
        # A window marked on a diluted shift can average the wrong way by chance: compare both runs.
        runs = _prefer([(*(_best_run(sign * z_raw, lo, wb, (wa, wb)) if wb - lo < 400 else
                           _fast_best_run(sign * z_raw, wb, wa)), sign) for sign in (1.0, -1.0)], preferred,
                       only=only)
        score, sign, a, b = runs[0]
        found = score >= MIN_SCORE
        if not found:  # neither direction stands out: the responder filed it as a worsening
            score, sign, a, b = next(r for r in runs if r[1] == preferred)
        a = _run_onset(sign * z_raw, a, b, step)
        start, end = w_start, w_end
        onset = buckets[a] if found and buckets[a] < w_start else w_start
        source = "incident"
    out = s.assign(expected=expected, z=z_raw)
    peak = float(np.max(sign * z_raw[a:b + 1])) if b >= a else 0.0
    return AnomalyWindow(start=start, end=end, onset=onset, direction="up" if sign > 0 else "down",
                         score=float(score), peak_z=peak, found=bool(found), source=source, stated=only,
                         series=out)
