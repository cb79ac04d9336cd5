"""tools.period_shift on synthetic daily graphs whose one node shifts for a whole period, and on bad input."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tools.period_shift import LONG_WINDOW_BUCKETS, attribute_period_shift, is_period_window, reference_start

GRAPH = [("a", "b"), ("b", "target"), ("c", "target")]
N, K = 273, 91  # half a year of reference days, then a quarter


def _graph(shift: str | None, seed: int = 0, size: float = 0.8) -> tuple[pd.DataFrame, np.ndarray]:
    """a -> b -> target <- c; ``shift`` moves one node's own mechanism by ``size`` for the last K rows."""
    rng = np.random.default_rng(seed)
    a = rng.normal(10, 1, N)
    c = rng.normal(5, 1.5, N)  # the decoy: noisier than a, never shifted
    if shift == "a":
        a[-K:] += size
    if shift == "c":
        c[-K:] += 2 * size
    b = 2 * a + rng.normal(0, 1, N)
    t = 1.5 * b + 0.5 * c + rng.normal(0, 1, N)
    mask = np.zeros(N, dtype=bool)
    mask[-K:] = True
    return pd.DataFrame({"a": a, "b": b, "c": c, "target": t}), mask


@pytest.mark.parametrize(("shift", "seed"), [("a", 0), ("a", 1), ("c", 2)])
def test_the_shifted_node_takes_the_credit(shift: str, seed: int) -> None:
    df, mask = _graph(shift, seed)
    res = attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, direction=1)
    top = res.scores[0]
    assert top.metric == shift and top.shifted and top.score > 0.5
    others = [s for s in res.scores if s.metric != shift]
    assert all(s.score < 0.2 for s in others)
    injected = 1.5 * 2 * 0.8 if shift == "a" else 0.5 * 2 * 0.8  # the shift's effect on the target's mean
    assert top.contribution == pytest.approx(injected, abs=0.6)


def test_two_shifted_nodes_share_the_credit_instead_of_all_or_nothing() -> None:
    df, mask = _graph("a", 3, size=0.8)
    df.loc[mask, "c"] += 3.2  # c's effect on the target (0.5 x 3.2) is as large as a's (3 x 0.8... via b)
    df.loc[mask, "target"] += 0.5 * 3.2
    res = attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, direction=1)
    by = {s.metric: s for s in res.scores}
    assert by["a"].shifted and by["c"].shifted
    assert 0.15 < by["a"].score < 0.85 and 0.15 < by["c"].score < 0.85
    assert by["a"].score + by["c"].score == pytest.approx(1.0, abs=0.1)


def test_no_shift_gives_no_confident_node() -> None:
    df, mask = _graph(None, 4)
    res = attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, direction=1)
    assert all(s.score <= 0.35 for s in res.scores), [(s.metric, s.score) for s in res.scores]


def test_against_the_direction_nothing_gets_credit() -> None:
    df, mask = _graph("a", 5)
    res = attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, direction=-1)
    assert all(s.score < 0.35 for s in res.scores)
    assert any("against the given direction" in n for n in res.notes)


def test_same_seed_same_scores() -> None:
    df, mask = _graph("a", 6)
    one = attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, seed=3)
    two = attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, seed=3)
    assert [s.model_dump() for s in one.scores] == [s.model_dump() for s in two.scores]


def test_malformed_input_is_a_value_error() -> None:
    df, mask = _graph("a", 0)
    with pytest.raises(ValueError, match="not a node"):
        attribute_period_shift(series=df, graph=GRAPH, target="nope", window=mask)
    with pytest.raises(ValueError, match="no anomalous row"):
        attribute_period_shift(series=df, graph=GRAPH, target="target", window=np.zeros(N, dtype=bool))
    with pytest.raises(ValueError, match="direction"):
        attribute_period_shift(series=df, graph=GRAPH, target="target", window=mask, direction=2)


def test_period_windows_and_their_reference() -> None:
    assert is_period_window(window_buckets=91, reference_buckets=182)
    assert not is_period_window(window_buckets=LONG_WINDOW_BUCKETS - 1, reference_buckets=500)
    assert not is_period_window(window_buckets=91, reference_buckets=10)
    day = timedelta(days=1)
    start, end, first = datetime(2026, 7, 1), datetime(2026, 9, 30), datetime(2026, 6, 17)
    assert reference_start(first=first, start=start, end=end, step=day) == start - 2 * (end - start)
    assert reference_start(first=first, start=start, end=start + 3 * day, step=day) == first
