"""One documented score for every candidate cause, whatever its kind.

    score = explained^0.5 x significance x refutation x timing x design x anomaly x specificity x shared

* explained: the share of the observed change the candidate accounts for (effect x exposure / change),
  clipped to [0, 1]; a candidate moving the metric the other way explains nothing. When the series shows
  no clear anomaly (the change is within noise, e.g. an experiment's effect diluted by the untreated
  users) a ratio to that change means nothing: the share is then how clearly the candidate's own estimate
  moves the metric in the incident's direction (z of 1 -> 0, z of 4 -> 1).
* significance: 1 - p (p of the estimate), floored at 0.02.
* refutation: (passed + 1) / (run + 1): each failed refuter costs a share; none run = neutral-ish.
* timing: 1 when the cause lands at or before the onset (within ``max_lag`` buckets) or inside the onset's
  bucket (the onset is that bucket's start: the series cannot place it more precisely), decaying
  exponentially (4-bucket scale, floor 0.1) for causes long before it (an effect would have shown
  sooner), 0.7 / 0.5 within two / three buckets after the detected onset (onsets are uncertain), and 0.05
  for one that lands later (it cannot have started the anomaly). When the series
  shows no clear anomaly there is no onset to time against: any cause inside the analysed period fits.
  A change whose own scope was already moving before it landed (its pre-trend test failed) fits no better
  than ``PRE_TREND_TIMING`` (0.1), whatever the incident-level onset says: it cannot have started the shift;
  a failure near the test's threshold is weak evidence, so the fit rises back on a log scale from p at a tenth
  of the threshold to 1 at it (``lead_fit``). (On the four suites 168 candidates failed that test; one, at
  p = 0.047, was the root cause.)
* design: 1.0 for randomized and difference-in-differences evidence, 0.75 for an interrupted time series
  (no untreated comparison), graph attributions and segments are scored by their own evidence.
* anomaly: 1.0 when the detector found a real change, ``WITHIN_NOISE`` (0.6) when the "anomaly" is
  indistinguishable from noise: a null incident must not look confident (its candidates stay under 0.5).
  A clear comparison of its own needs no anomaly in the diluted aggregate: for an experiment the factor rises
  from ``WITHIN_NOISE`` at z <= 2 of its randomized estimate to 1 at z >= 4; for a change with a
  difference-in-differences estimate (untreated segments, not randomized, one of many candidates) from z 3 to
  z 5 (``agent.investigate.anomaly_factor``).
* shared: for a change the panel cannot tell from another (same scope, a bucket or two apart), the probability
  that it, not the other, started the shift, read from the rows between the two (``tools.twins``); where those
  rows cannot say, s / (s + s_twin) when the twin's score is within ``TWIN_RATIO`` of its own (the two hold the
  same evidence: such top-1 twins at 0.35-0.6 had been right 1 time in 5); 1.0 otherwise.
* specificity: ``CONFINED`` (0.5) for a change whose scope reaches beyond the population that moved while
  the rest of its scope shows no lift (``tools.confinement``): it is the cause only if its effect stayed
  inside that population, which nothing in its scope says; 1.0 otherwise.
Scores are probabilities of being the root cause only after calibration on the eval suite; the reliability
table in evals/results/latest.md shows how close they are.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pydantic import BaseModel

WITHIN_NOISE = 0.6      # the anomaly factor when the series shows no clear anomaly
PRE_TREND_TIMING = 0.1  # the timing fit of a change whose scope moved before it
CONFINED = 0.5          # the specificity of a change whose effect would have to stay inside part of its scope
TWIN_RATIO = 0.8        # indistinguishable changes scored this close share their evidence


class Features(BaseModel):
    explained: float = 0.0
    p_value: float | None = None
    refutations_passed: int = 0
    refutations_run: int = 0
    timing: float = 1.0
    design: float = 1.0
    anomaly: float = 1.0
    specificity: float = 1.0
    shared: float = 1.0

    def score(self) -> float:
        explained = min(max(self.explained, 0.0), 1.0)
        significance = 1.0 if self.p_value is None else max(1.0 - self.p_value, 0.02)
        refutation = (self.refutations_passed + 1) / (self.refutations_run + 1)
        score = float(explained ** 0.5 * significance * refutation * self.timing * self.design * self.anomaly
                      * self.specificity * self.shared)
        # A NaN feature (an estimate over cells with a zero denominator) is no evidence: it must not become a
        # NaN score, which is not JSON and sorts anywhere.
        return score if math.isfinite(score) else 0.0


def lead_fit(p_value: float | None, threshold: float | None) -> float:
    """Timing fit of a change whose pre-trend test failed: ``PRE_TREND_TIMING`` when the lead is clear (p at or
    below a tenth of the test's threshold, or a test without a p-value), rising on a log scale to 1 at the
    threshold. A p of 0.049 against 0.05 is a weak sign of a lead, and a true cause fails a 5% test one time in
    twenty by chance (two did on the suites and the stress sweep, at p 0.047 and 0.049)."""
    if p_value is None or threshold is None or p_value <= 0:
        return PRE_TREND_TIMING
    grade = min(1.0, max(0.0, math.log10(p_value / (threshold / 10))))
    return PRE_TREND_TIMING + (1.0 - PRE_TREND_TIMING) * grade


def timing_fit(cause_at: datetime, onset: datetime, step: timedelta, *, max_lag_buckets: int = 3,
               until: datetime | None = None) -> tuple[float, str]:
    """How well a cause's time fits the onset, and a sentence saying why.

    Tolerances are in buckets but never finer than minutes can resolve: at minute grain an onset is
    uncertain by several minutes, and a delay of a quarter of an hour is still "at the onset".
    `until`: the series showed no clear onset, so [onset, until) is only the analysed period; a cause
    landing inside it fits as well as one at its start (timing cannot tell them apart).
    """
    if until is not None and onset <= cause_at < until:
        return 1.0, "lands inside the analysed period (no clear onset in the series to time it against)"
    unit = max(step, timedelta(minutes=10))
    lag = (onset - cause_at) / unit      # > 0: cause before the onset, in tolerance units
    lag_text = _human(onset - cause_at)
    if lag < -3.0:
        return 0.05, f"lands {_human(cause_at - onset)} after the onset: it cannot have started the anomaly"
    if -1.0 < lag < 0:
        # The onset is the start of its bucket: a cause inside that bucket is at the onset as far as the series
        # can tell (the minute-level lead test checks whether the scope was already moving before it).
        return 1.0, f"lands in the onset's bucket, {_human(cause_at - onset)} after its start"
    if lag < 0:
        # The detected onset is uncertain by a bucket or two: lose credit gradually, not at once.
        fit = {1: 0.7, 2: 0.5}[int(abs(lag))]
        return fit, f"lands {_human(cause_at - onset)} after the detected onset (onsets are uncertain)"
    if lag <= max_lag_buckets:
        return 1.0, "lands at the onset" if lag < 1 else f"lands {lag_text} before the onset"
    decay = max(0.1, math.exp(-(lag - max_lag_buckets) / 4.0))
    return decay, f"lands {lag_text} before the onset (an effect would have shown sooner)"


def _human(delta: timedelta) -> str:
    minutes = abs(delta.total_seconds()) / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"
