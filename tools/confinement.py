"""Did the rest of a change's scope move too? A change credited with a movement confined to part of its reach.

A global config change landing while one region's reports surge is "explained" by a before/after estimate in
that region (or in a responder's filter on it): nothing inside the moving population is untreated. Outside it
the change reached everyone else as well, and they are the comparison a data scientist reaches for: if the
rest of the scope shows no lift while the moving part shows a clear one, the change can be the cause only if
its effect stayed inside that part, which nothing in its scope says. The test compares relative lifts (the
anomaly period against the baseline period, on a log scale) so that parts with different base rates are
comparable.
"""

from __future__ import annotations

import math

import pandas as pd
from pydantic import BaseModel

from tools.causal import in_population

CONFINED_Z = 3.0       # the moving part's lift must exceed the rest's by this many standard errors
CONFINED_SHARE = 0.25  # and the rest must show at most this share of the moving part's (log) lift


class Lift(BaseModel):
    """Log ratio of a rate in the anomaly period to the baseline period, with its standard error."""

    baseline: float
    observed: float
    log_lift: float
    se: float

    @property
    def lift(self) -> float:
        """Relative change (observed / baseline - 1), as reported."""
        return float(math.expm1(self.log_lift))


def rate_lift(frame: pd.DataFrame) -> Lift | None:
    """Pooled baseline and anomaly rate of a ``period, value, n`` frame (values in [0, 1]) and its log lift.

    Logs because a surge is a ratio (+250% in one region, +16% elsewhere) and the error of a ratio of small
    rates is lopsided; half an event is added to each count so that a period without events has a log.
    """
    out = {}
    for period in ("baseline", "anomaly"):
        part = frame[frame["period"] == period]
        n = float(part["n"].sum())
        if n <= 0:
            return None
        rate = float((part["value"] * part["n"]).sum() / n)
        if not 0.0 <= rate <= 1.0:
            return None
        out[period] = (rate, n)
    (pb, nb), (pa, na) = out["baseline"], out["anomaly"]
    qb, qa = (pb * nb + 0.5) / (nb + 1.0), (pa * na + 0.5) / (na + 1.0)
    se = math.sqrt((1.0 - qa) / (qa * (na + 1.0)) + (1.0 - qb) / (qb * (nb + 1.0)))
    return Lift(baseline=pb, observed=pa, log_lift=math.log(qa / qb), se=se)


class Confinement(BaseModel):
    """The moving part of a change's scope against the rest of it."""

    confined: bool
    inside: Lift
    rest: Lift
    z: float
    detail: str


def confinement(cells: pd.DataFrame, inside: dict[str, str], sign: float) -> Confinement | None:
    """Compare the part of a change's scope that moved (`inside`) with the rest of the scope.

    `cells`: ``period, <inside's dims>..., value, n`` over the change's scope, periods ``baseline`` and
    ``anomaly``; `sign`: +1 when the incident is the metric going up. None when either part has no rows or
    the metric is not a rate in [0, 1] (no binomial error to test against).
    """
    if cells.empty or any(d not in cells.columns for d in inside):
        return None
    mask = in_population(cells, inside)
    a, b = rate_lift(cells[mask]), rate_lift(cells[~mask])
    if a is None or b is None:
        return None
    li, lr = sign * a.log_lift, sign * b.log_lift
    z = (li - lr) / math.sqrt(a.se ** 2 + b.se ** 2) if a.se or b.se else 0.0
    confined = li > 0 and z >= CONFINED_Z and lr <= CONFINED_SHARE * li
    where = ",".join(f"{d}={v}" for d, v in sorted(inside.items()))
    detail = (f"{where}: {a.baseline:.4g} -> {a.observed:.4g} ({a.lift:+.0%}); the rest of the scope: "
              f"{b.baseline:.4g} -> {b.observed:.4g} ({b.lift:+.0%}); difference z={z:.1f}")
    return Confinement(confined=confined, inside=a, rest=b, z=z, detail=detail)
