"""Segment scoring: which dimension values explain the change, ranked by excess explanatory power."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from tools.segments import SegmentScore, dimension_sets, rank_segments, score_segments

DIMS = {"platform": ("android", "ios", "web"), "region": ("EU", "NA")}

Rate = Callable[[str, str, str], float]


def cells(rate: Rate, *, n: Callable[[str, str, str], int] = lambda *_: 1000) -> pd.DataFrame:
    """``period, platform, region, value, n`` at the finest grain, like the warehouse's segment query."""
    rows = [{"period": period, "platform": p, "region": r, "value": rate(period, p, r), "n": n(period, p, r)}
            for period in ("baseline", "anomaly") for p in DIMS["platform"] for r in DIMS["region"]]
    return pd.DataFrame(rows)


def score_all(frame: pd.DataFrame, *, pairs: bool = True) -> list[SegmentScore]:
    """Roll the fine cells up to every dimension set (rates: row-weighted), then score, as the engine does."""
    def level(period: str) -> float:
        f = frame[frame["period"] == period]
        return float((f["value"] * f["n"]).sum() / f["n"].sum())

    scored: list[SegmentScore] = []
    for ds in dimension_sets(list(DIMS), pairs=pairs):
        rolled = frame.groupby(["period", *ds]).apply(
            lambda g: pd.Series({"value": (g["value"] * g["n"]).sum() / g["n"].sum(), "n": g["n"].sum()}),
            include_groups=False).reset_index()
        scored += score_segments(rolled, tuple(ds), baseline=level("baseline"), observed=level("anomaly"),
                                 additive=False)
    return scored


def test_the_segment_with_the_rate_shift_ranks_first():
    frame = cells(lambda period, p, r: 0.40 if period == "anomaly" and p == "android" else 0.10)
    ranked = rank_segments(score_all(frame, pairs=False))
    top = ranked[0]
    assert top.dimensions == {"platform": "android"} and top.key == "platform=android"
    assert top.share_of_change == pytest.approx(1.0) and top.population_share == pytest.approx(1 / 3)
    assert (top.baseline, top.observed) == (pytest.approx(0.10), pytest.approx(0.40))
    assert top.rows_baseline == 2000 and top.rows_anomaly == 2000
    # segments that did not move are not offered as explanations at all
    assert {s.key for s in ranked} == {"platform=android", "region=EU", "region=NA"}
    assert all(s.excess < top.excess for s in ranked[1:])


def test_a_pair_that_explains_the_change_with_less_population_outranks_its_parent():
    frame = cells(lambda period, p, r: 0.40 if period == "anomaly" and (p, r) == ("android", "EU") else 0.10)
    ranked = rank_segments(score_all(frame))
    keys = [s.key for s in ranked]
    assert keys[0] == "platform=android,region=EU"
    assert keys.index("platform=android,region=EU") < keys.index("platform=android") < keys.index("region=EU")
    pair, parent = ranked[0], ranked[1]
    assert pair.share_of_change == pytest.approx(parent.share_of_change)
    assert pair.population_share == pytest.approx(1 / 6) and parent.population_share == pytest.approx(1 / 3)
    assert pair.surprise > parent.surprise


def test_a_change_spread_over_everyone_gives_no_segment_excess():
    frame = cells(lambda period, p, r: 0.20 if period == "anomaly" else 0.10)
    scored = score_all(frame)
    assert scored and all(abs(s.excess) < 1e-9 for s in scored)
    assert all(s.share_of_change == pytest.approx(s.population_share) for s in scored)


def test_segments_moving_against_the_change_are_not_ranked():
    def rate(period: str, p: str, r: str) -> float:
        if period == "anomaly" and p == "android":
            return 0.40
        if period == "anomaly" and p == "web":
            return 0.05       # web improved while android got worse
        return 0.10

    ranked = rank_segments(score_all(cells(rate), pairs=False))
    assert ranked[0].key == "platform=android"
    assert "platform=web" not in {s.key for s in ranked}
    web = next(s for s in score_all(cells(rate), pairs=False) if s.key == "platform=web")
    assert web.share_of_change < 0


def test_additive_metric_uses_per_bucket_rates():
    """Counts over periods of different lengths: 24 baseline buckets vs 6 anomaly buckets."""
    rows = []
    for p in DIMS["platform"]:
        rows.append({"period": "baseline", "platform": p, "value": 24 * 10.0, "n": 240})
        rows.append({"period": "anomaly", "platform": p, "value": 6 * (40.0 if p == "ios" else 10.0), "n": 60})
    frame = pd.DataFrame(rows)
    baseline, observed = float(frame.loc[frame.period == "baseline", "value"].sum()), float(
        frame.loc[frame.period == "anomaly", "value"].sum())
    scored = score_segments(frame, ("platform",), baseline=baseline, observed=observed, additive=True,
                            len_baseline=24, len_anomaly=6)
    ranked = rank_segments(scored)
    assert ranked[0].key == "platform=ios" and ranked[0].share_of_change == pytest.approx(1.0)
    assert ranked[0].population_share == pytest.approx(1 / 3)
    assert len(ranked) == 1


def test_key_is_sorted_by_dimension_and_top_limits():
    s = SegmentScore(dimensions={"region": "EU", "platform": "android"}, share_of_change=1, population_share=0.2,
                     excess=0.8, surprise=0.1, baseline=None, observed=None, rows_baseline=0, rows_anomaly=0)
    assert s.key == "platform=android,region=EU"
    frame = cells(lambda period, p, r: 0.40 if period == "anomaly" and p == "android" else 0.10)
    assert len(rank_segments(score_all(frame), top=2)) == 2


def test_empty_cells_score_nothing():
    assert score_segments(pd.DataFrame(columns=["period", "platform", "value", "n"]), ("platform",),
                          baseline=0.1, observed=0.2, additive=False) == []


def test_dimension_sets():
    assert dimension_sets(["a", "b", "c"]) == [("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c")]
    assert dimension_sets(["a", "b"], pairs=False) == [("a",), ("b",)]


def test_a_share_far_beyond_the_whole_change_says_the_rest_moved_the_other_way():
    """In a quiet series the whole barely moves while one region does: '6055% of the change' means the rest
    moved the other way, and the phrase says so; an ordinary share reads as a share."""
    from tools.segments import share_phrase

    assert share_phrase(0.8, 0.1) == "explains 80% of the change with 10% of the rows"
    assert share_phrase(1.05, 0.49) == "explains 105% of the change with 49% of the rows"   # within noise of all
    quiet = share_phrase(60.55, 0.2)
    assert quiet.startswith("moved more than the whole population did (6055% of its change")
    assert "the rest moved the other way" in quiet and quiet.endswith("with 20% of the rows")
