"""Step: every change from every change log that landed in the lookback before the onset and before the window end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlglot import exp

from agent.state import Investigation, StepTrail
from tools.anomaly import AnomalyWindow
from tools.causal import ChangeCandidate
from tools.metric_sql import col, ts_literal


@dataclass
class ChangeCandidatesOut:
    changes: list[ChangeCandidate]
    trail: StepTrail


def step_change_candidates(inv: Investigation, anomaly: AnomalyWindow) -> ChangeCandidatesOut:
    """Every change from every source that landed in the lookback before the onset and before the window end."""
    mark = inv.mark()
    out: list[ChangeCandidate] = []
    onset = min(anomaly.onset, anomaly.start)
    lookback = timedelta(hours=inv.ws.settings.lookback_hours)
    for name, src in inv.catalog.changes.items():
        cols = [src.id, src.timestamp] + ([src.description] if src.description else []) + list(src.scope)
        ts = col(src.timestamp)
        q = (_select_cols(cols).from_(exp.to_table(src.table, quoted=True))
             .where(exp.and_(exp.GTE(this=ts.copy(), expression=ts_literal(onset - lookback)),
                             exp.LT(this=ts.copy(), expression=ts_literal(anomaly.end))))
             .order_by(ts.copy()))
        frame = inv.sql(q, f"candidate changes from {name}")
        for _, r in frame.iterrows():
            description = (str(r[src.description]) if src.description and r[src.description] is not None
                           else None)
            out.append(ChangeCandidate(source=name, id=str(r[src.id]), at=pd.Timestamp(r[src.timestamp])
                                       .to_pydatetime(), description=description,
                                       scope={d: _scope_value(r[d]) for d in src.scope}))
    return ChangeCandidatesOut(changes=out, trail=inv.trail(mark))


def _scope_value(v: object) -> str | None:
    """A scope cell: empty, NULL or ``*`` means every value of the dimension."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    text = str(v).strip()
    return None if text in {"", "*"} else text


def _select_cols(cols: list[str]) -> exp.Select:
    seen: list[str] = []
    for c in cols:
        if c not in seen:
            seen.append(c)
    return exp.select(*[exp.alias_(col(c), c, quoted=True) for c in seen])
