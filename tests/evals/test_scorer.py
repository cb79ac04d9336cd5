"""The scorer on hand-written truth/report pairs: each metric, the null family and malformed input."""

from __future__ import annotations

import pytest

from evals.scorer import (
    accuracy_at,
    aggregate,
    aggregate_by_family,
    calibration,
    calibration_of,
    component_key,
    impact_within,
    percentile,
    score_scenario,
    segment_correct,
    similar_at,
    truth_rank,
)


def rc(kind: str, rc_id: str | None, score: float | None = None) -> dict:
    out: dict = {"kind": kind, "id": rc_id}
    if score is not None:
        out["score"] = score
    return out


def report(*causes: dict, **extra: object) -> dict:
    return {"root_causes": list(causes), **extra}


TRUTH = {"root_cause": {"kind": "change", "id": "deploy-1043"}, "segment": {"platform": "android"},
         "affected_units": 1000, "similar_incidents": ["INC-1337"]}


def test_accuracy_at_k_follows_rank() -> None:
    rep = report(rc("change", "deploy-1"), rc("experiment", "exp-9"), rc("change", "deploy-1043"))
    assert truth_rank(TRUTH, rep) == 3
    assert [accuracy_at(TRUTH, rep, k) for k in (1, 2, 3)] == [False, False, True]
    s = score_scenario(TRUTH, rep)
    assert s.ac == {1: False, 2: False, 3: True}
    assert s.avg3 == pytest.approx(1 / 3)


def test_top1_hit_gives_full_avg3_and_kind_must_match() -> None:
    assert score_scenario(TRUTH, report(rc("change", "deploy-1043"))).avg3 == 1.0
    # same id under another kind is not the answer
    assert truth_rank(TRUTH, report(rc("experiment", "deploy-1043"))) is None
    # ids and kinds compare case-insensitively
    assert truth_rank(TRUTH, report(rc("Change", "DEPLOY-1043"))) == 1


def test_beyond_three_is_wrong_everywhere() -> None:
    rep = report(*(rc("change", f"d{i}") for i in range(3)), rc("change", "deploy-1043"))
    s = score_scenario(TRUTH, rep)
    assert s.rank == 4 and s.avg3 == 0.0 and not s.ac[3]


def test_segment_ids_compare_as_unordered_case_insensitive_sets() -> None:
    truth = {"root_cause": {"kind": "segment", "id": "platform=android,region=EU"}}
    assert truth_rank(truth, report(rc("segment", "region=eu, platform=Android"))) == 1
    assert truth_rank(truth, report(rc("segment", "region=EU"))) is None
    assert truth_rank(truth, report(rc("segment", "platform=android,region=EU,app_version=3"))) is None


def test_empty_and_missing_root_causes_are_wrong() -> None:
    for rep in ({}, {"root_causes": []}, {"root_causes": None}, {"root_causes": ["junk", 3]}):
        s = score_scenario(TRUTH, rep)
        assert s.ac == {1: False, 2: False, 3: False}
        assert s.top1_score == 0.0 and not s.top1_correct


def test_truth_without_root_cause_kind_never_matches() -> None:
    assert truth_rank({}, report(rc("change", "x"))) is None
    assert truth_rank({"root_cause": {}}, report(rc("change", "x"))) is None


def test_failed_run_scores_wrong_and_keeps_the_error() -> None:
    s = score_scenario(TRUTH, None, error="ValueError: boom", latency_s=1.5)
    assert s.ac[3] is False and s.error == "ValueError: boom"
    assert s.segment_correct is False and s.impact_within_10 is False and s.similar_at_3 is False
    assert s.top1_score is None
    assert score_scenario({"root_cause": {"kind": "none", "id": None}}, None).ac[1] is False


def test_null_family_right_only_without_confident_causes() -> None:
    null = {"root_cause": {"kind": "none", "id": None}}
    assert score_scenario(null, report()).ac == {1: True, 2: True, 3: True}
    quiet = report(rc("change", "a", 0.3), rc("change", "b", 0.49))
    assert score_scenario(null, quiet).avg3 == 1.0
    # a confident cause anywhere in the list (not only top-1) makes it wrong at every k
    loud = report(rc("change", "a", 0.3), rc("change", "b", 0.2), rc("change", "c", 0.2),
                  rc("change", "d", 0.5))
    assert score_scenario(null, loud).avg3 == 0.0
    # a cause without a score is a claim
    assert score_scenario(null, report(rc("change", "a"))).avg3 == 0.0
    # top-1 is never "correct" on a null scenario, whatever the list says
    assert score_scenario(null, quiet).top1_correct is False
    assert score_scenario(null, quiet).top1_score == pytest.approx(0.3)


def test_segment_accuracy() -> None:
    seg = lambda dims: {"segments": [{"dimensions": dims, "share_of_change": 0.9}]}  # noqa: E731
    assert segment_correct(TRUTH, seg({"platform": "Android"})) is True
    assert segment_correct(TRUTH, seg({"platform": "android", "region": "EU"})) is False
    assert segment_correct(TRUTH, seg({"platform": "ios"})) is False
    assert segment_correct(TRUTH, {"segments": []}) is False
    assert segment_correct(TRUTH, {}) is False
    # only the first segment counts
    two = {"segments": [{"dimensions": {"region": "EU"}}, {"dimensions": {"platform": "android"}}]}
    assert segment_correct(TRUTH, two) is False
    assert segment_correct({"root_cause": {}}, seg({"platform": "android"})) is None


def test_impact_within_ten_percent() -> None:
    imp = lambda n: {"impact": {"affected_units": n}}  # noqa: E731
    assert impact_within(TRUTH, imp(1100)) is True
    assert impact_within(TRUTH, imp(900)) is True
    assert impact_within(TRUTH, imp(1101)) is False
    assert impact_within(TRUTH, imp(None)) is False
    assert impact_within(TRUTH, {}) is False
    assert impact_within(TRUTH, {"impact": "lots"}) is False
    assert impact_within({"affected_units": 0}, imp(0)) is True
    assert impact_within({"affected_units": 0}, imp(1)) is False
    assert impact_within({}, imp(5)) is None


def test_similar_incident_in_top_three() -> None:
    sims = lambda *ids: {"similar_incidents": [{"id": i, "score": 0.5} for i in ids]}  # noqa: E731
    assert similar_at(TRUTH, sims("INC-1", "INC-2", "inc-1337")) is True
    assert similar_at(TRUTH, sims("INC-1", "INC-2", "INC-3", "INC-1337")) is False
    assert similar_at(TRUTH, {}) is False
    assert similar_at({"similar_incidents": []}, sims("INC-1337")) is None
    assert similar_at({}, sims("INC-1337")) is None


def test_calibration_bins_brier_and_ece() -> None:
    pairs = [(0.95, True), (0.95, True), (0.95, False), (0.15, False), (1.0, True), (0.0, False)]
    cal = calibration(pairs, n_bins=10)
    assert cal.n == 6 and len(cal.bins) == 10
    top = cal.bins[9]  # 0.95, 0.95, 0.95 and 1.0 (1.0 falls in the last bin)
    assert top.count == 4 and top.mean_score == pytest.approx(0.9625) and top.accuracy == pytest.approx(0.75)
    assert cal.bins[1].count == 1 and cal.bins[1].accuracy == 0.0
    assert cal.bins[0].count == 1 and cal.bins[5].count == 0 and cal.bins[5].accuracy is None
    brier = (2 * 0.05**2 + 0.95**2 + 0.15**2 + 0 + 0) / 6  # two right at 0.95, one wrong
    assert cal.brier == pytest.approx(brier)
    ece = 4 / 6 * abs(0.75 - 0.9625) + 1 / 6 * 0.15 + 1 / 6 * 0.0
    assert cal.ece == pytest.approx(ece)
    empty = calibration([])
    assert empty.n == 0 and empty.brier is None and empty.ece is None


def test_calibration_of_scores_skips_failures_and_unscored() -> None:
    right = score_scenario(TRUTH, report(rc("change", "deploy-1043", 0.8)))
    wrong = score_scenario(TRUTH, report(rc("change", "x", 0.6)))
    unscored = score_scenario(TRUTH, report(rc("change", "deploy-1043")))
    failed = score_scenario(TRUTH, None, error="boom")
    cal = calibration_of([right, wrong, unscored, failed])
    assert cal.n == 2
    assert cal.brier == pytest.approx(((0.8 - 1) ** 2 + 0.6**2) / 2)


def test_component_key_maps_metric_names_to_components() -> None:
    truth = {"root_cause": {"kind": "upstream", "id": "petsearch_latency_p99"}, "component": "PetSearch"}
    key = component_key({"petsearch_latency_p99": "PetSearch", "petsearch_requests": "PetSearch",
                         "dynamodb_latency": "DynamoDB"})
    rep = report(rc("upstream", "dynamodb_latency"), rc("upstream", "petsearch_requests"))
    assert truth_rank(truth, rep, key=key) == 2
    assert truth_rank(truth, rep) is None  # by default the metric name itself must match
    # a callable works too, and unmapped ids fall back to themselves
    key2 = component_key(lambda m: m.split("_")[0])
    assert truth_rank({"root_cause": {"kind": "upstream", "id": "dynamodb"}}, rep, key=key2) == 1


def test_aggregate_means_and_not_applicable_metrics() -> None:
    hit = report(rc("change", "deploy-1043"), segments=[{"dimensions": {"platform": "android"}}], impact={})
    a = score_scenario(TRUTH, hit, family="change", latency_s=1.0)
    second = report(rc("change", "y"), rc("change", "z"))
    b = score_scenario({"root_cause": {"kind": "change", "id": "z"}}, second, family="change", latency_s=3.0)
    skipped = score_scenario(TRUTH, None, family="change", skipped=True)
    assert skipped.error is None
    agg = aggregate([a, b, skipped], system="engine", group="change")
    assert agg.n == 2 and agg.skipped == 1
    assert agg.ac[1] == 0.5 and agg.ac[3] == 1.0 and agg.avg3 == pytest.approx((1 + 2 / 3) / 2)
    assert agg.segment_acc == 1.0 and agg.n_segment == 1  # b's truth has no segment
    assert agg.impact_within_10 == 0.0 and agg.n_impact == 1
    assert agg.latency_p50 == 2.0 and agg.latency_p95 == pytest.approx(2.9)
    only_skipped = aggregate([skipped], system="gcm_only", group="change")
    assert only_skipped.n == 0 and only_skipped.ac[1] is None and only_skipped.avg3 is None


def test_aggregate_by_family_adds_overall_per_system() -> None:
    s1 = score_scenario(TRUTH, report(rc("change", "deploy-1043")), family="f1", system="engine")
    s2 = score_scenario(TRUTH, report(), family="f2", system="engine")
    s3 = score_scenario(TRUTH, report(), family="f1", system="last_change")
    aggs = aggregate_by_family([s1, s2, s3])
    assert set(aggs) == {("engine", "f1"), ("engine", "f2"), ("engine", "overall"), ("last_change", "f1"),
                         ("last_change", "overall")}
    assert aggs[("engine", "overall")].ac[1] == 0.5
    assert aggs[("last_change", "f1")].ac[1] == 0.0


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_tasks_a_report_does_not_attempt_are_not_applicable() -> None:
    baseline_like = report(rc("change", "deploy-1043"))  # no segments / impact / similar_incidents keys
    s = score_scenario(TRUTH, baseline_like)
    assert s.ac[1] and s.segment_correct is None and s.impact_within_10 is None and s.similar_at_3 is None
    attempted = report(rc("change", "deploy-1043"), segments=[], impact={"affected_units": None},
                       similar_incidents=[])
    s = score_scenario(TRUTH, attempted)
    assert s.segment_correct is False and s.impact_within_10 is False and s.similar_at_3 is False


# --- segment sets (RS) ---

def _seg_report(*pairs: tuple[str, float]) -> dict:
    return {"root_causes": [{"rank": i + 1, "kind": "segment", "id": sid, "score": s}
                            for i, (sid, s) in enumerate(pairs)]}


def test_segment_set_f1_counts_only_claimed_segments() -> None:
    from evals.scorer import segment_set_score

    truth = {"root_cause": {"kind": "segment", "id": "bitrate=500"}, "segments": ["bitrate=500", "bitrate=2500"]}
    got = segment_set_score(truth, _seg_report(("bitrate=500", 0.9), ("cdn=5", 0.6), ("bitrate=2500", 0.3)))
    assert got.precision == 0.5 and got.recall == 0.5 and got.f1 == 0.5
    assert got.top[1] is True and got.top[3] is True      # both labelled segments within the first three
    assert got.reported == ["bitrate=500", "cdn=5"]


def test_segment_set_top_k_needs_every_labelled_segment_that_fits() -> None:
    from evals.scorer import segment_set_score

    truth = {"root_cause": {"kind": "segment", "id": "a=1"}, "segments": ["a=1", "a=2"]}
    got = segment_set_score(truth, _seg_report(("a=1", 0.9), ("b=1", 0.9), ("c=1", 0.9), ("a=2", 0.9)))
    assert got.top == {1: True, 3: False}
    none = segment_set_score(truth, None, error="boom")
    assert none.f1 == 0.0 and none.top == {1: False, 3: False} and none.error == "boom"


def test_segment_ids_compare_as_sets_of_pairs() -> None:
    from evals.scorer import segment_set_score

    truth = {"root_cause": {"kind": "segment", "id": "p2p=1,bitrate=2000"}}
    got = segment_set_score(truth, _seg_report(("bitrate=2000,p2p=1", 0.7)))
    assert got.f1 == 1.0 and got.dims == 2
