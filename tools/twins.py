"""Which of two changes to the same scope started the shift: the rows that landed between them.

The (segment x bucket) panel cannot tell two changes to the same cells a bucket or two apart; their timestamps
can. If the later change started the shift, the scope between the two still looks like it did before the
earlier one; if the earlier one did, it already looks like it does after the later one. The two hypotheses
are compared by the likelihood of the rows between the changes (binomial, for a rate), with the levels
before the earlier change and after the later one as the two candidate rates.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
from pydantic import BaseModel

from tools.causal import period_rates

SPAN = timedelta(hours=2)   # the reference periods: this long before the earlier change and after the later one
CAP = 20.0                  # log-likelihood ratio cap (|LR| beyond e^20 says nothing more)


class TwinOrder(BaseModel):
    """P(the earlier change started the shift), with the rates and rows it was read from."""

    earlier: str
    later: str
    p_earlier: float
    before: float
    between: float
    after: float
    rows_between: int
    detail: str


def twin_periods(earlier_at: datetime, later_at: datetime) -> list[tuple[str, datetime, datetime]]:
    """Labelled, disjoint periods for `twin_order`: before the earlier change, between the two, after the later."""
    return [("before", earlier_at - SPAN, earlier_at), ("between", earlier_at, later_at),
            ("after", later_at, later_at + SPAN)]


def _loglik(events: float, rows: float, rate: float) -> float:
    rate = min(max(rate, 1e-6), 1 - 1e-6)
    return events * math.log(rate) + (rows - events) * math.log(1 - rate)


def twin_order(cells: pd.DataFrame, *, earlier: str, later: str, sign: float) -> TwinOrder | None:
    """`cells`: the scope's rate per period of `twin_periods` (``period, value, n``); `sign`: +1 if the incident
    is the rate going up. None when there is nothing to read the order from: not a rate in [0, 1], a period
    without rows, or no shift in the incident's direction from before the pair to after it (a shift that is
    only noise leaves the two likelihoods close: about even odds)."""
    by = period_rates(cells)
    if set(by) != {"before", "between", "after"} or not all(0.0 <= v <= 1.0 for v, _ in by.values()):
        return None
    (pb, _), (pm, nm), (pa, _) = by["before"], by["between"], by["after"]
    if sign * (pa - pb) <= 0:
        return None
    events = pm * nm
    llr = _loglik(events, nm, pa) - _loglik(events, nm, pb)   # > 0: the rows between already look like "after"
    llr = max(-CAP, min(CAP, llr))
    p = 1.0 / (1.0 + math.exp(-llr))
    return TwinOrder(earlier=earlier, later=later, p_earlier=p, before=pb, between=pm, after=pa, rows_between=int(nm),
                     detail=f"rate before {earlier}: {pb:.4g}; between the two ({int(nm)} rows): {pm:.4g}; after "
                            f"{later}: {pa:.4g}; log-likelihood ratio {llr:+.2f} in favour of "
                            f"{earlier if llr >= 0 else later}")
