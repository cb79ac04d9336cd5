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
  z 5 (``anomaly_factor``).
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

from tools.anomaly import AnomalyWindow
from tools.segments import SegmentScore

CONFIDENT = 0.5         # a cause scored at least this is stated as the answer; below it, a lead (null incidents
#                         must keep every candidate under it, which WITHIN_NOISE ensures)
WITHIN_NOISE = 0.6      # the anomaly factor when the series shows no clear anomaly
PRE_TREND_TIMING = 0.1  # the timing fit of a change whose scope moved before it
CONFINED = 0.5          # the specificity of a change whose effect would have to stay inside part of its scope
TWIN_RATIO = 0.8        # indistinguishable changes scored this close share their evidence
LATE_FITS = (0.7, 0.5)  # a cause one / two buckets after the detected onset (onsets are uncertain by that much)
TOO_LATE = 0.05         # a cause more than three buckets after the onset cannot have started the anomaly
LATE_TOLERANCE = 3.0    # buckets after the onset beyond which a cause is too late


def late_fit(buckets_after: float) -> float:
    """Timing fit of a cause landing ``buckets_after`` (>= 1) buckets after the detected onset; defined for every
    lag: 0.7 in the second bucket, 0.5 up to the third inclusive, ``TOO_LATE`` beyond (a step, not a cliff at 3)."""
    if buckets_after > LATE_TOLERANCE:
        return TOO_LATE
    return LATE_FITS[min(int(buckets_after), len(LATE_FITS)) - 1]


ITS_DESIGN = 0.75       # the design factor of a before/after estimate with no untreated comparison
UPSTREAM_DISCOUNT = 0.6  # its further discount when an upstream metric's shift (score >= 0.5) explains the same
UPSTREAM_CLEAR = 0.5    # an upstream attribution at least this strong is an alternative explanation
TOP_MIN = 0.05          # a top candidate scored below this is no cause: impact is then not sized on its reach
CONFINE_MIN = 0.05      # changes scored below this are not worth a confinement query
MOVED_EXCESS = 0.2      # a segment moved beyond its share of the rows when share - population share exceeds this
CLEAR_SEGMENT = 0.8     # ... and its own shift is clear when its significance reaches this
EXPLAINED_SEGMENT = 0.5  # a segment whose movement a more specific part or a fitting change explains counts half
SEGMENT_FULL_EXCESS = 0.4  # a segment's strength as a cause grows with its excess up to this
SEGMENT_Z = (2.0, 5.0)  # a segment's own shift: no credit at z <= 2, full credit at z >= 5
FITTING_CHANGE_P = 1e-3  # a change explains a segment when its own estimate is at least this clear ...
FITTING_CHANGE_SHARE = 0.5  # ... and it explains at least this share of the change
RANDOMIZED_TIMING = 0.7  # the timing floor of an experiment that randomization shows carries most of the window
SURE_LEAD = 0.95        # below this, the hour before the top change could not tell when the shift began
LEAD_TESTS = ("pre_trend", "pre_trend_minutes")  # was the change's scope already moving before it landed?
EXPLAINED_Z = (1.0, 4.0)  # within noise, a candidate's share is the z of its own estimate: 0 at 1, 1 at 4
RANDOMIZED_Z = (2.0, 4.0)  # within noise, a randomized estimate lifts the anomaly factor from z 2 to z 4
COMPARED_Z = (3.0, 5.0)  # ... a difference-in-differences estimate from z 3 to z 5 (one of many candidates)


def p_to_z(p_value: float) -> float:
    """The two-sided z of a p-value (p floored at 1e-300 so that z stays finite)."""
    from scipy.stats import norm

    return float(norm.isf(max(p_value, 1e-300) / 2))


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at or below ``lo``, 1 at or above ``hi``, linear between: every graded rule of the ranking is one."""
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


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
        """The product of the factors (module docstring); explained^0.5 so a partial cause is not crushed."""
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
    if lag < -LATE_TOLERANCE:
        return TOO_LATE, f"lands {_human(cause_at - onset)} after the onset: it cannot have started the anomaly"
    if -1.0 < lag < 0:
        # The onset is the start of its bucket: a cause inside that bucket is at the onset as far as the series
        # can tell (the minute-level lead test checks whether the scope was already moving before it).
        return 1.0, f"lands in the onset's bucket, {_human(cause_at - onset)} after its start"
    if lag < 0:
        # The detected onset is uncertain by a bucket or two: lose credit gradually, not at once.
        fit = late_fit(-lag)
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


def incident_sign(delta: float, anomaly: AnomalyWindow) -> float:
    """+1 if the incident is the metric going up: the measured change when it is clear, else the direction
    the detector worked in (the worsening one), since a within-noise change can have either sign."""
    if anomaly.found:
        return 1.0 if delta >= 0 else -1.0
    return 1.0 if anomaly.direction == "up" else -1.0


def explained_share(effect: float, exposure: float, p_value: float | None, *, delta: float,
                    anomaly: AnomalyWindow) -> float:
    """Share of the observed change a candidate accounts for (effect x exposure / change).

    When the series shows no clear anomaly the observed change is noise and a ratio to it means nothing
    (it can even have the wrong sign while a diluted cause is real). Then the share is how clearly the
    candidate itself moved the metric in the incident's direction: z of its own estimate, 1 -> 0, 4 -> 1.
    """
    if anomaly.found:
        return effect * exposure / delta if delta else 0.0
    if p_value is None or effect * incident_sign(delta, anomaly) <= 0:
        return 0.0
    return ramp(p_to_z(p_value), *EXPLAINED_Z)


def anomaly_factor(anomaly: AnomalyWindow, randomized_p: float | None = None,
                   compared_p: float | None = None) -> float:
    """The ranking's anomaly factor: full credit for a real change, WITHIN_NOISE when the series shows none.

    `randomized_p`: the p-value of a randomized estimate that moves the metric in the incident's direction.
    Randomization needs no anomaly in the diluted aggregate: a treatment arm that differs from control at
    z >= 4 shows the metric really moved there, so the doubt rises back from WITHIN_NOISE (z <= 2) to none.
    `compared_p`: the same for a difference-in-differences estimate (an untreated comparison, not randomized,
    and one of many candidates): the doubt lifts from z 3 to 5. Such within-noise top-1 changes at p < 0.001
    were right 21 times in 23 on the four suites, all of them capped at WITHIN_NOISE before.
    """
    if anomaly.found:
        return 1.0
    p, band = (randomized_p, RANDOMIZED_Z) if randomized_p is not None else (compared_p, COMPARED_Z)
    if p is None:
        return WITHIN_NOISE
    return WITHIN_NOISE + (1.0 - WITHIN_NOISE) * ramp(p_to_z(p), *band)


def timing_until(anomaly: AnomalyWindow) -> datetime | None:
    """End of the analysed period when the series gave no clear onset (timing then cannot discriminate)."""
    return None if anomaly.found else anomaly.end


def randomized_timing(tfit: float, ttext: str, started: datetime, onset: datetime, end: datetime, explained: float,
                      p_value: float | None) -> tuple[float, str]:
    """Soften "lands after the onset" for an experiment whose arms show it carries most of the window's change.

    The onset is read off the aggregate, which day-to-day drift can open hours early; an arm-vs-control
    difference cannot come from drift. An experiment that started inside the run (after the onset, before its
    end) and explains at least half of its change (p <= 0.001) is the window's cause even if something else
    began the run. One that started long before the onset keeps its penalty: an effect would have shown sooner.
    """
    if (tfit >= RANDOMIZED_TIMING or not onset < started < end or explained < 0.5 or p_value is None
            or p_value > 1e-3):
        return tfit, ttext
    return RANDOMIZED_TIMING, (f"{ttext.split(':')[0]}, but its randomized arms carry {explained:.0%} of the "
                               "window's change: the earlier part of the run has another cause (drift?)")


def scope_moved_before(outcomes: dict[str, bool]) -> bool:
    """A lead test failed: the scope moved before the change, so the change cannot have started the shift."""
    return any(outcomes.get(name) is False for name in LEAD_TESTS)


def segment_significance(s: SegmentScore) -> float:
    """How far the segment's own shift is beyond noise: two-proportion z for rates in [0, 1], mapped to [0, 1].

    A segment explaining most of a small wobble is still a wobble: full credit needs z >= 5 (``SEGMENT_Z``).
    """
    pb, pa, nb, na = s.baseline, s.observed, s.rows_baseline, s.rows_anomaly
    if pb is None or pa is None or nb < 1 or na < 1 or not (0 <= pb <= 1 and 0 <= pa <= 1):
        return 1.0
    var = pb * (1 - pb) / nb + pa * (1 - pa) / na
    if var <= 0:
        return 1.0
    return float(ramp(abs(pa - pb) / var ** 0.5, *SEGMENT_Z))


def carries_movement(s: SegmentScore) -> bool:
    """The segment holds the movement clearly enough to look there (its onset, a change's lead): it moved
    well beyond its share of the rows (excess > MOVED_EXCESS) and its own shift is clear (CLEAR_SEGMENT)."""
    return s.excess > MOVED_EXCESS and segment_significance(s) >= CLEAR_SEGMENT


def segment_strength(s: SegmentScore) -> float:
    """A segment as a cause of its own: the share of the change it holds times how far beyond its rows' share."""
    return min(max(s.share_of_change, 0.0), 1.0) * ramp(s.excess, 0.0, SEGMENT_FULL_EXCESS)
