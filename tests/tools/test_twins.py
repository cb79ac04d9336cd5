"""Which of two same-scope changes started the shift, read from the rows between them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from tools.twins import SPAN, twin_order, twin_periods


def cells(before: tuple[float, int], between: tuple[float, int], after: tuple[float, int]) -> pd.DataFrame:
    return pd.DataFrame([{"period": p, "value": v, "n": n}
                         for p, (v, n) in zip(("before", "between", "after"), (before, between, after), strict=True)])


def test_periods_are_disjoint_and_span_the_pair():
    a, b = datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 11, 30)
    assert twin_periods(a, b) == [("before", a - SPAN, a), ("between", a, b), ("after", b, b + SPAN)]


def test_rows_between_that_already_moved_name_the_earlier_change():
    order = twin_order(cells((0.95, 200), (0.80, 60), (0.81, 200)), earlier="a", later="b", sign=-1.0)
    assert order is not None and order.p_earlier > 0.99
    assert "in favour of a" in order.detail and order.rows_between == 60


def test_rows_between_that_had_not_moved_yet_name_the_later_change():
    order = twin_order(cells((0.95, 200), (0.94, 60), (0.81, 200)), earlier="a", later="b", sign=-1.0)
    assert order is not None and order.p_earlier < 0.05 and "in favour of b" in order.detail


def test_few_rows_between_leave_the_odds_near_even():
    order = twin_order(cells((0.95, 200), (0.875, 8), (0.81, 200)), earlier="a", later="b", sign=-1.0)
    assert order is not None and 0.2 < order.p_earlier < 0.8


@pytest.mark.parametrize("frame", [
    cells((0.95, 200), (0.80, 60), (0.96, 200)),           # no shift in the incident's direction across the pair
    cells((0.95, 200), (0.80, 0), (0.81, 200)),            # nothing between them
    cells((12.0, 200), (15.0, 60), (16.0, 200)),           # not a rate
])
def test_nothing_to_read_the_order_from(frame: pd.DataFrame):
    assert twin_order(frame, earlier="a", later="b", sign=-1.0) is None


def test_the_incident_direction_decides_which_shift_counts():
    frame = cells((0.02, 500), (0.06, 100), (0.06, 500))
    assert twin_order(frame, earlier="a", later="b", sign=1.0).p_earlier > 0.9
    assert twin_order(frame, earlier="a", later="b", sign=-1.0) is None
    assert timedelta(hours=2) == SPAN
