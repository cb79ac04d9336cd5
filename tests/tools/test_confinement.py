"""The moving part of a change's scope against the rest of it: confined only when the contrast is clear."""

from __future__ import annotations

import math

import pandas as pd

from tools.confinement import CONFINED_Z, confinement, rate_lift


def _cells(parts: dict[str, tuple[float, int, float, int]]) -> pd.DataFrame:
    """``region -> (baseline rate, baseline rows, anomaly rate, anomaly rows)`` as a ``period, region`` frame."""
    rows = []
    for region, (pb, nb, pa, na) in parts.items():
        rows.append({"period": "baseline", "region": region, "value": pb, "n": nb})
        rows.append({"period": "anomaly", "region": region, "value": pa, "n": na})
    return pd.DataFrame(rows)


def test_a_surge_in_one_region_of_a_global_scope_is_confined():
    cells = _cells({"LATAM": (0.02, 1500, 0.08, 400), "EU": (0.02, 2000, 0.021, 500),
                    "NA": (0.018, 2500, 0.017, 600)})
    found = confinement(cells, {"region": "LATAM"}, sign=1.0)
    assert found is not None and found.confined
    assert found.z >= CONFINED_Z and found.inside.lift > 2.5 and abs(found.rest.lift) < 0.1
    assert "region=LATAM" in found.detail and "the rest of the scope" in found.detail


def test_a_lift_shared_by_the_rest_of_the_scope_is_not_confined():
    """Every region up by the same ratio: a global change acting everywhere, whatever its base rates."""
    cells = _cells({"LATAM": (0.02, 1500, 0.06, 400), "EU": (0.01, 2000, 0.03, 500), "NA": (0.03, 2500, 0.09, 600)})
    found = confinement(cells, {"region": "LATAM"}, sign=1.0)
    assert found is not None and not found.confined and abs(found.z) < 2


def test_a_rest_that_moved_by_more_than_a_quarter_of_the_lift_is_not_confined():
    """Clearly different lifts (z well above 3) but the rest moved too: the change may act unevenly."""
    cells = _cells({"LATAM": (0.02, 20000, 0.08, 8000), "EU": (0.02, 40000, 0.04, 16000)})
    found = confinement(cells, {"region": "LATAM"}, sign=1.0)
    assert found is not None and found.z > 2 * CONFINED_Z and not found.confined


def test_too_few_rows_to_tell_is_not_confined():
    """Four reports in 50 sessions against one in 60: the lift is large but its error is larger."""
    cells = _cells({"LATAM": (1 / 60, 60, 4 / 50, 50), "EU": (0.02, 2000, 0.02, 500)})
    found = confinement(cells, {"region": "LATAM"}, sign=1.0)
    assert found is not None and not found.confined and found.z < CONFINED_Z


def test_a_drop_is_read_in_its_own_direction():
    cells = _cells({"web": (0.30, 3000, 0.12, 900), "ios": (0.30, 3000, 0.30, 900), "android": (0.31, 3000, 0.30, 900)})
    cells = cells.rename(columns={"region": "platform"})
    assert confinement(cells, {"region": "web"}, sign=-1.0) is None        # no such column
    down = confinement(cells, {"platform": "web"}, sign=-1.0)
    assert down is not None and down.confined
    up = confinement(cells, {"platform": "web"}, sign=1.0)                 # the incident went up: not this
    assert up is not None and not up.confined


def test_an_empty_period_gives_a_finite_log_and_a_non_rate_gives_none():
    lift = rate_lift(pd.DataFrame([{"period": "baseline", "value": 0.0, "n": 200},
                                   {"period": "anomaly", "value": 0.05, "n": 100}]))
    assert lift is not None and math.isfinite(lift.log_lift) and lift.log_lift > 0 and lift.se > 0
    assert rate_lift(pd.DataFrame([{"period": "baseline", "value": 12.5, "n": 200},
                                   {"period": "anomaly", "value": 14.0, "n": 100}])) is None
    assert rate_lift(pd.DataFrame([{"period": "baseline", "value": 0.1, "n": 200}])) is None
